"""The citizens' endpoints (`/warga`): prove who one is, see the family's status, file an usul or
a sanggah with evidence, follow one's own cases (`dtsen.workflow.citizens`). The purpose is
always `self_service`; a citizen's session reaches their own family and cases only.

    POST /warga/masuk             NIK, KK and name -> a session for the family (like a login: locked
                                  out after repeated failures)
    GET  /warga/keluarga          the family's programmes, and its decile where the policy allows
    POST /warga/kasus             file an usul (own family) or a sanggah (a listed family)
    GET  /warga/kasus             one's cases: state and outcome
    GET  /warga/kasus/{id}        one of them
    POST /warga/kasus/{id}/bukti  a photo or PDF for it (multipart)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from pydantic import BaseModel, Field

from dtsen.api.case_errors import CASE_RESPONSES, read_upload
from dtsen.api.cases import WorkflowDep
from dtsen.api.deps import AccessDep, request_id, source_of
from dtsen.api.errors import ApiError, ErrorBody
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.workflow import citizens
from dtsen.workflow.cases import StatusView
from dtsen.workflow.citizens import CitizenDraft, FamilyStatus

router = APIRouter(prefix="/warga", tags=["warga"])
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Identity(BaseModel):
    nik: str = Field(min_length=16, max_length=16, pattern=r"^\d{16}$", description="NIK Anda (16 angka).")
    kk: str = Field(min_length=16, max_length=16, pattern=r"^\d{16}$", description="Nomor Kartu Keluarga (16 angka).")
    nama: str = Field(min_length=2, max_length=200, pattern=r"^[^\x00-\x1f]+$",
                      description="Nama lengkap seperti di KK.")


class Session(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    family_id: int


class Filed(BaseModel):
    id: int


@router.post("/masuk", response_model=Session,
             responses={401: {"model": ErrorBody}, 409: {"model": ErrorBody, "description": "No release yet"},
                        413: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody}})
def masuk(body: Identity, request: Request, wf: WorkflowDep) -> Session:
    """A session for one's own family after proving who one is: NIK, KK number and name as the
    registry holds them. A wrong answer never says which part was wrong."""
    try:
        issued = citizens.identify(wf, body.nik, body.kk, body.nama, source_of(request), request_id(request))
    except AuthenticationError as exc:
        if isinstance(exc, LockedOutError):
            raise
        raise ApiError("invalid_login", str(exc)) from None
    principal = wf.security.auth.principal(issued.token)
    assert principal.family_id is not None
    return Session(access_token=issued.token, expires_in=issued.expires_in, family_id=principal.family_id)


@router.get("/keluarga", response_model=FamilyStatus, responses=CASE_RESPONSES)
def keluarga(access: AccessDep, wf: WorkflowDep) -> FamilyStatus:
    """Your family's programmes (PKH, BPNT/sembako, PBI-JK) and, where the policy allows, its decile."""
    return citizens.family_status(wf, access)


@router.post("/kasus", status_code=201, response_model=StatusView, responses=CASE_RESPONSES)
def ajukan(draft: CitizenDraft, access: AccessDep, wf: WorkflowDep) -> StatusView:
    """File an usul about your own family, or a sanggah about a family listed as a recipient (named
    by its KK or a member's NIK). The answer is the same whether or not that family is found."""
    return citizens.file_case(wf, access, draft)


@router.get("/kasus", response_model=list[StatusView], responses=CASE_RESPONSES)
def kasus_saya(access: AccessDep, wf: WorkflowDep) -> list[StatusView]:
    """Your cases, newest first: their state and outcome."""
    return citizens.my_cases(wf, access)


@router.get("/kasus/{case_id}", response_model=StatusView, responses=CASE_RESPONSES)
def satu_kasus(case_id: CaseId, access: AccessDep, wf: WorkflowDep) -> StatusView:
    """One of your cases (any other number answers 404)."""
    return citizens.my_case(wf, access, case_id)


@router.post("/kasus/{case_id}/bukti", status_code=201, response_model=Filed, responses=CASE_RESPONSES)
def unggah_bukti(case_id: CaseId, access: AccessDep, wf: WorkflowDep,
                 file: Annotated[UploadFile, File(description="Foto (JPEG, PNG) atau PDF.")]) -> Filed:
    """A photo or PDF for one of your open cases (checked by content; never shown back inline)."""
    data = read_upload(file, wf.settings.workflow.max_evidence_bytes)
    return Filed(id=citizens.add_evidence(wf, access, case_id, file.filename or "", data))
