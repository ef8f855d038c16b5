"""The workflow's endpoints for staff: cases and approval batches (`dtsen.workflow`).

    POST /api/cases                         file a case (usul, sanggah, visit, village report)
    GET  /api/cases                         cases within the caller's region, filtered
    GET  /api/cases/overdue                 overdue cases per region
    POST /api/cases/from-candidates         visit cases from the current release's candidates
    GET  /api/cases/{id}                    one case (its parts as the caller's fields allow)
    POST /api/cases/{id}/{action}           accept, forward, musdes, assign, visit, verify, return, reject
    GET  /api/cases/{id}/officers           who may be assigned to visit it
    POST /api/cases/{id}/evidence           upload minutes, a photo or a document (multipart)
    GET  /api/cases/{id}/evidence/{eid}     download it (always as an attachment)
    POST /api/batches                       compose an approval batch of verified cases
    GET  /api/batches                       batches within the caller's region
    GET  /api/batches/{id}                  what a batch changes, family by family
    POST /api/batches/{id}/sign             the kepala daerah (or delegate) signs it

Every request states its purpose (`?purpose=case_work`); the policy decides region and role, the
state machine what may follow. Handlers only parse and call the library, so that the dashboard's
pages call the same functions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dtsen.api.case_errors import CASE_RESPONSES, read_upload
from dtsen.api.deps import AccessDep, PurposeParam
from dtsen.security.policy import Resource
from dtsen.workflow import approval
from dtsen.workflow.approval import BatchView, ComposeBody
from dtsen.workflow.bodies import AssignBody, MusdesBody, NoteBody, ReasonBody
from dtsen.workflow.cases import CaseDraft, CaseType, CaseView, EvidenceInfo, Filters
from dtsen.workflow.changes import VisitAnswers
from dtsen.workflow.evidence import DOWNLOAD_EXTENSION
from dtsen.workflow.service import Workflow

router = APIRouter(prefix="/api", tags=["workflow"])


def get_workflow(request: Request) -> Workflow:
    wf: Workflow = request.app.state.workflow
    return wf


WorkflowDep = Annotated[Workflow, Depends(get_workflow)]
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The case's number (K-000012 is 12).")]
BatchId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The batch's number (B-000003 is 3).")]
EvidenceId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class OverdueRegion(BaseModel):
    region: str
    overdue: int
    by_state: dict[str, int]
    oldest_deadline: Any = Field(description="The earliest missed deadline (UTC).")


class CandidatesBody(BaseModel):
    region: str = Field(pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$",
                        description="Region whose candidates become visit cases (within the caller's scope).")


class Created(BaseModel):
    created: list[int]


class Officer(BaseModel):
    username: str
    full_name: str
    roles: list[str]


class BatchSummary(BaseModel):
    id: int
    label: str
    region_prefix: str
    status: str
    created_by: str
    created_at: Any
    signed_by: str | None
    signed_at: Any
    cases: int


@router.post("/cases", status_code=201, response_model=CaseView, responses=CASE_RESPONSES)
def create_case(draft: CaseDraft, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> CaseView:
    """File a case. A case about a family of the current release lies in that family's village;
    an usul for a missing family names its village."""
    return wf.create(access, purpose, draft)


@router.get("/cases", response_model=list[CaseView], responses=CASE_RESPONSES)
def list_cases(purpose: PurposeParam, access: AccessDep, wf: WorkflowDep,
               state: Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")] = None,
               case_type: CaseType | None = None,
               region: Annotated[str | None, Query(pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")] = None,
               family_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               overdue: bool = False, mine: bool = Query(False, description="Only cases assigned to the caller."),
               batch_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[CaseView]:
    """Cases within the caller's region scope (a regency operator never sees another regency's)."""
    filters = Filters(state=state, case_type=case_type, region=region, family_id=family_id, overdue=overdue,
                      assigned_to=access.principal.id if mine else None, batch_id=batch_id, after=after, limit=limit)
    return wf.cases(access, purpose, filters)


@router.get("/cases/overdue", response_model=list[OverdueRegion], responses=CASE_RESPONSES)
def overdue_cases(purpose: PurposeParam, access: AccessDep, wf: WorkflowDep,
                  level: Annotated[str, Query(pattern=r"^(province|regency|district|village)$")] = "district",
                  ) -> list[dict[str, Any]]:
    """Per region (at `level`) within the caller's scope: cases past their state's deadline."""
    return wf.overdue(access, purpose, level)


@router.post("/cases/from-candidates", status_code=201, response_model=Created, responses=CASE_RESPONSES)
def from_candidates(body: CandidatesBody, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> Created:
    """One visit case per ground-check candidate of the current release in a region (once)."""
    return Created(created=wf.from_candidates(access, purpose, body.region))


@router.get("/cases/{case_id}", response_model=CaseView, responses=CASE_RESPONSES)
def get_case(case_id: CaseId, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> CaseView:
    """One case, with the parts the caller's fields allow, and the actions open to the caller."""
    return wf.get(access, purpose, case_id)


def _action(name: str, model: type[BaseModel], doc: str) -> None:
    def act(case_id: CaseId, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep, body: BaseModel) -> CaseView:
        return wf.act(access, purpose, case_id, name, body.model_dump(mode="json"))

    act.__annotations__["body"] = Annotated[model, Body()]  # the action's own body model
    act.__name__ = f"case_{name}"
    act.__doc__ = doc
    router.add_api_route(f"/cases/{{case_id}}/{name}", act, methods=["POST"], response_model=CaseView,
                         responses=CASE_RESPONSES, name=f"case_{name}")


_action("accept", NoteBody, "Accept a submitted usul or sanggah for the village meeting (village operator).")
_action("forward", NoteBody, "Forward a visit or a village report to dinas sosial's verification.")
_action("musdes", MusdesBody, "Record the village meeting (musdes/muskel): date, place, attendees, decisions, and "
                              "the signed minutes uploaded first as evidence of kind 'minutes'.")
_action("assign", AssignBody, "Assign the case to a field officer (dinas sosial).")
_action("visit", VisitAnswers, "Record the visit's answers (web form): what is found, moved, deceased or corrected; "
                               "the changes they settle are computed against the current release.")
_action("verify", NoteBody, "Declare the case verified (dinas sosial): it waits for the kepala daerah's approval.")
_action("return", ReasonBody, "Return the case to the previous step, with a reason.")
_action("reject", ReasonBody, "Reject the case, with a reason (the submitter is told).")


@router.get("/cases/{case_id}/officers", response_model=list[Officer], responses=CASE_RESPONSES)
def officers(case_id: CaseId, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> list[dict[str, Any]]:
    """The accounts the policy lets visit this case (for an assignment)."""
    case = wf.get(access, purpose, case_id)
    access.require("case.assign", purpose, Resource(region_code=case.region_code, family_id=case.family_id),
                   records=[f"case:{case_id}"])
    return wf.officers(case.region_code)


@router.post("/cases/{case_id}/evidence", status_code=201, response_model=EvidenceInfo, responses=CASE_RESPONSES)
def upload_evidence(case_id: CaseId, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep,
                    file: Annotated[UploadFile, File(description="A JPEG or PNG image, or a PDF.")],
                    kind: Annotated[str, Form(pattern=r"^(minutes|evidence|photo)$")] = "evidence") -> EvidenceInfo:
    """Upload the signed minutes of a village meeting, a visit's photo or a document. Its type is
    decided by its content; anything but a whole JPEG, PNG or PDF without active content is refused."""
    data = read_upload(file, wf.settings.workflow.max_evidence_bytes)
    return wf.add_evidence(access, purpose, case_id, kind, file.filename or "", data)


DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    **CASE_RESPONSES,
    200: {"description": "The file, as an attachment.",
          "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in DOWNLOAD_EXTENSION}},
}


@router.get("/cases/{case_id}/evidence/{evidence_id}", response_class=Response, responses=DOWNLOAD_RESPONSES)
def download_evidence(case_id: CaseId, evidence_id: EvidenceId, purpose: PurposeParam, access: AccessDep,
                      wf: WorkflowDep) -> Response:
    """An evidence file, always downloaded (`Content-Disposition: attachment`), never shown inline."""
    info, data = wf.evidence_file(access, purpose, case_id, evidence_id)
    name = f"bukti-{case_id}-{evidence_id}.{DOWNLOAD_EXTENSION[info.media_type]}"
    return Response(data, media_type=info.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.post("/batches", status_code=201, response_model=BatchView, responses=CASE_RESPONSES)
def compose_batch(body: ComposeBody, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> BatchView:
    """Compose a batch of verified cases of one region for its kepala daerah to sign."""
    return approval.compose(wf, access, purpose, body)


@router.get("/batches", response_model=list[BatchSummary], responses=CASE_RESPONSES)
def list_batches(purpose: PurposeParam, access: AccessDep, wf: WorkflowDep,
                 status: Annotated[str | None, Query(pattern=r"^(draft|signed|void)$")] = None,
                 ) -> list[dict[str, Any]]:
    """Approval batches within the caller's region, newest first (the kepala daerah's inbox: drafts)."""
    return approval.batches(wf, access, purpose, status)


@router.get("/batches/{batch_id}", response_model=BatchView, responses=CASE_RESPONSES)
def get_batch(batch_id: BatchId, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> BatchView:
    """A batch: per case and family, each changed field before (current release) and after."""
    return approval.view(wf, access, purpose, batch_id)


@router.post("/batches/{batch_id}/sign", response_model=BatchView, responses=CASE_RESPONSES)
def sign_batch(batch_id: BatchId, purpose: PurposeParam, access: AccessDep, wf: WorkflowDep) -> BatchView:
    """Sign a draft batch (kepala daerah or delegate): an Ed25519 signature over its content
    hash, recorded in the audit chain; its cases are approved and enter the next build."""
    return approval.sign(wf, access, purpose, batch_id)


def install(app: FastAPI, wf: Workflow) -> None:
    """Add the workflow to the app: its routers (staff and /warga), its errors, and bodies large
    enough for evidence uploads on its paths."""
    from dtsen.api import case_errors, citizens
    from dtsen.api.app import allow_larger_bodies

    app.state.workflow = wf
    case_errors.install(app)
    app.include_router(router)
    app.include_router(citizens.router)
    limit = wf.settings.workflow.max_evidence_bytes + 2**16  # the file and the multipart framing
    allow_larger_bodies(app, "/api/cases", limit)
    allow_larger_bodies(app, "/warga/kasus", limit)
