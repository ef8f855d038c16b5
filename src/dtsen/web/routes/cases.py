"""Cases (the workflow of `dtsen.workflow`): the queue, filing, one case and its actions.

    GET  /web/kasus                      the case queue within the viewer's region (filters; overdue per region)
    GET  /web/kasus/baru                 the form to file an usul or a village report (case.create)
    POST /web/kasus/baru                 file it; goes to the case's page
    GET  /web/kasus/{id}                 one case: what it is about, its history, evidence, what may follow
    POST /web/kasus/{id}/tindakan/{a}    accept, forward, musdes, assign, visit, verify, return, reject
    POST /web/kasus/{id}/bukti           upload minutes, a photo or a document (multipart)
    GET  /web/kasus/{id}/bukti/{eid}     download it (always an attachment, never inline)

Every page states the purpose `case_work`; the library (`Workflow`) asks the policy and the state
machine, and audits. A case outside the viewer's region is answered exactly like one that does
not exist (404). A refused action shows the case again with what is missing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from dtsen.errors import Problem
from dtsen.security.errors import AccessDenied
from dtsen.web.pages import PAGE_HEADERS, NotFound, WebRoute
from dtsen.web.routes.region import REGION
from dtsen.web.viewer import CsrfDep, Viewer, ViewerDep
from dtsen.web.views.cases import (
    CASE_PURPOSE,
    FILING_KINDS,
    action_body,
    case_page_context,
    queue_context,
    workflow_of,
)
from dtsen.workflow.cases import CaseDraft, Filters, Proposal
from dtsen.workflow.changes import MemberDeath
from dtsen.workflow.errors import CaseNotFound, EvidenceTooLarge, InvalidCaseInput, WorkflowError
from dtsen.workflow.evidence import DOWNLOAD_EXTENSION

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)

CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ACTIONS = r"^(accept|forward|musdes|assign|visit|verify|return|reject)$"
NOT_FOUND = "kasus tidak ditemukan / case not found"


@router.get("/kasus")
def queue(viewer: ViewerDep, request: Request,
          status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
          jenis: Annotated[str | None, Query(pattern=r"^(visit|usul|sanggah|village_report)$")] = None,
          wilayah: Annotated[str | None, Query(max_length=13, pattern=REGION)] = None,
          terlambat: Annotated[bool, Query()] = False,
          mulai: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Response:
    filters = Filters(state=status or None, case_type=jenis, region=wilayah or None, overdue=terlambat, after=mulai)
    context = queue_context(viewer, filters)
    return viewer.state.pages.render(request, "cases.html", context)


@router.get("/kasus/baru")
def new_case_form(viewer: ViewerDep, request: Request,
                  keluarga: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
    if not viewer.can("case.create", CASE_PURPOSE):
        viewer.access.scope("case.create", CASE_PURPOSE)  # records the refusal and raises
        raise AccessDenied("akses ditolak / access denied")
    return viewer.state.pages.render(request, "case_new.html", {
        **viewer.page_context(), "kinds": FILING_KINDS, "family_id": keluarga, "error": None})


@router.post("/kasus/baru")
def file_case(viewer: CsrfDep, request: Request,
              jenis: Annotated[str, Form(pattern=r"^[a-z_]+:[a-z_]+$")],
              alasan: Annotated[str, Form(max_length=2000)],
              keluarga: Annotated[int | None, Form(ge=1, le=2**62)] = None,
              wilayah: Annotated[str | None, Form(max_length=13)] = None,
              meninggal: Annotated[int | None, Form(ge=1, le=2**62)] = None) -> Response:
    case_type, _, kind = jenis.partition(":")
    wf = workflow_of(viewer)
    try:
        proposal = Proposal(deceased=[MemberDeath(person_id=meninggal)] if meninggal else [])
        draft = CaseDraft.model_validate({"case_type": case_type, "kind": kind, "family_id": keluarga,
                                          "region_code": wilayah or None, "reason": alasan,
                                          "proposal": proposal})
        made = wf.create(viewer.access, CASE_PURPOSE, draft)
    except ValidationError as exc:  # said without the values (the library's errors never carry them either)
        problems = [Problem(str(e.get("msg", "")), where=".".join(str(x) for x in e.get("loc", ()))) for e in exc.errors()]
        error = InvalidCaseInput("isian tidak sah / the form is not valid", problems)
        return viewer.state.pages.render(request, "case_new.html", {
            **viewer.page_context(), "kinds": FILING_KINDS, "family_id": keluarga, "error": error}, status=400)
    except WorkflowError as exc:
        return viewer.state.pages.render(request, "case_new.html", {
            **viewer.page_context(), "kinds": FILING_KINDS, "family_id": keluarga, "error": exc}, status=400)
    return RedirectResponse(f"/web/kasus/{made.id}", status_code=303, headers=PAGE_HEADERS)


def _case_page(viewer: Viewer, request: Request, case_id: int, error: Exception | None = None,
               status: int = 200) -> Response:
    try:
        context = case_page_context(viewer, case_id)
    except (AccessDenied, CaseNotFound):
        raise NotFound(NOT_FOUND) from None
    return viewer.state.pages.render(request, "case.html", {**context, "error": error}, status=status)


@router.get("/kasus/{case_id}")
def case_page(viewer: ViewerDep, request: Request, case_id: CaseId) -> Response:
    return _case_page(viewer, request, case_id)


@router.post("/kasus/{case_id}/tindakan/{action}")
def act(viewer: CsrfDep, request: Request, case_id: CaseId,
        action: Annotated[str, Path(pattern=ACTIONS)],
        alasan: Annotated[str | None, Form(max_length=2000)] = None,
        catatan: Annotated[str | None, Form(max_length=2000)] = None,
        petugas: Annotated[str | None, Form(max_length=64)] = None,
        tanggal: Annotated[str | None, Form(max_length=10)] = None,
        tempat: Annotated[str | None, Form(max_length=200)] = None,
        hadir: Annotated[str | None, Form(max_length=20000)] = None,
        keputusan: Annotated[str | None, Form(max_length=4000)] = None,
        berita_acara: Annotated[int | None, Form(ge=1, le=2**31)] = None,
        ditemukan: Annotated[str | None, Form(pattern=r"^(ya|tidak)$")] = None,
        meninggal: Annotated[list[int] | None, Form()] = None,
        kolom: Annotated[str | None, Form(max_length=40)] = None,
        nilai: Annotated[str | None, Form(max_length=300)] = None) -> Response:
    form: dict[str, Any] = {"alasan": alasan, "catatan": catatan, "petugas": petugas, "tanggal": tanggal,
                            "tempat": tempat, "hadir": hadir, "keputusan": keputusan, "berita_acara": berita_acara,
                            "ditemukan": ditemukan, "meninggal": meninggal or [], "kolom": kolom, "nilai": nilai}
    wf = workflow_of(viewer)
    try:
        wf.act(viewer.access, CASE_PURPOSE, case_id, action, action_body(action, form))
    except CaseNotFound:
        raise NotFound(NOT_FOUND) from None
    except AccessDenied:
        raise NotFound(NOT_FOUND) from None
    except WorkflowError as exc:
        return _case_page(viewer, request, case_id, exc, status=400)
    return RedirectResponse(f"/web/kasus/{case_id}", status_code=303, headers=PAGE_HEADERS)


@router.post("/kasus/{case_id}/bukti")
def upload(viewer: CsrfDep, request: Request, case_id: CaseId,
           berkas: Annotated[UploadFile, File()],
           jenis: Annotated[str, Form(pattern=r"^[a-z_]{1,20}$")] = "minutes") -> Response:
    wf = workflow_of(viewer)
    limit = wf.settings.workflow.max_evidence_bytes
    data = berkas.file.read(limit + 1)
    try:
        if len(data) > limit:
            raise EvidenceTooLarge(f"berkas terlalu besar / file too large: more than {limit:,} bytes")
        wf.add_evidence(viewer.access, CASE_PURPOSE, case_id, jenis, berkas.filename or "berkas", data)
    except (CaseNotFound, AccessDenied):
        raise NotFound(NOT_FOUND) from None
    except WorkflowError as exc:
        return _case_page(viewer, request, case_id, exc, status=400)
    return RedirectResponse(f"/web/kasus/{case_id}", status_code=303, headers=PAGE_HEADERS)


@router.get("/kasus/{case_id}/bukti/{evidence_id}")
def download(viewer: ViewerDep, case_id: CaseId, evidence_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    wf = workflow_of(viewer)
    try:
        info, data = wf.evidence_file(viewer.access, CASE_PURPOSE, case_id, evidence_id)
    except (CaseNotFound, AccessDenied):
        raise NotFound(NOT_FOUND) from None
    name = f"bukti-{case_id}-{evidence_id}.{DOWNLOAD_EXTENSION[info.media_type]}"
    return Response(data, media_type=info.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "no-store"})
