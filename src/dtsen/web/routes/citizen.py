"""The citizens' pages (Bahasa Indonesia first): prove who one is, see one's family's status, file
an usul or a sanggah with one evidence file, follow one's own cases. They call the same library
as the citizens' API (`dtsen.workflow.citizens`; never the API over HTTP), with the purpose
`self_service`.

    GET  /web/warga            the family page when a citizen session is open, else the proof form
    GET  /web/warga/masuk      the proof form: NIK, KK number and name
    POST /web/warga/masuk      `citizens.identify`, as POST /warga/masuk: the same generic refusal,
                               the same lockout (per NIK and per address) and audit
    GET  /web/warga/keluarga   the family's programmes and decile (what `/warga/keluarga` returns), the
                               filing form, and one's own cases with their states and outcomes
    POST /web/warga/kasus      file an usul or a sanggah, with one photo or PDF (multipart); the file
                               is checked by content (`dtsen.workflow.evidence.inspect`) before the
                               case is filed, so a refused file files nothing
    POST /web/warga/keluar     revokes the citizen's token and clears its cookie

The citizen's session lives in its own cookie (`dtsen.web.session.CITIZEN_COOKIE`): these pages
accept only a citizen's token from it, and the staff pages refuse a citizen's token. A missing or
ended session sends the browser back to the proof form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from dtsen.api.access import Access, Caller
from dtsen.api.case_errors import read_upload
from dtsen.api.citizens import Identity
from dtsen.api.deps import request_id, source_of
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.security.principal import Principal
from dtsen.web.pages import PAGE_HEADERS, CitizenLoginRequired, WebRoute
from dtsen.web.session import (
    CITIZEN_COOKIE,
    check_csrf,
    citizen_login_csrf,
    clear_session,
    pre_session,
    session_csrf,
    session_token,
    set_pre_session,
    set_session,
)
from dtsen.web.state import WebState
from dtsen.web.viewer import WebStateDep
from dtsen.workflow import citizens
from dtsen.workflow.cases import Target
from dtsen.workflow.citizens import CitizenDraft
from dtsen.workflow.errors import (
    EvidenceRefused,
    EvidenceTooLarge,
    InvalidCaseInput,
    QuotaExceeded,
    WorkflowError,
)
from dtsen.workflow.evidence import inspect

router = APIRouter(prefix="/web/warga", route_class=WebRoute, include_in_schema=False)

HOME = "/web/warga/keluarga"
# (form value, message key of its label): what a citizen may file (`citizens.KINDS`)
CITIZEN_KINDS: tuple[tuple[str, str], ...] = tuple(
    (f"{case_type}:{kind}", f"kind.{kind}") for case_type, kinds in citizens.KINDS.items() for kind in kinds)


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


@dataclass
class Citizen:
    """The citizen behind the citizen cookie: their principal (scope: their family) and the
    `Access` that audits what the page reads."""

    principal: Principal
    access: Access
    csrf: str
    state: WebState

    @property
    def family_id(self) -> int:
        assert self.principal.family_id is not None
        return self.principal.family_id


def _citizen_principal(state: WebState, request: Request) -> Principal | None:
    token = session_token(request, CITIZEN_COOKIE)
    if token is None:
        return None
    try:
        principal = state.security.auth.principal(token)
    except AuthenticationError:
        return None
    return principal if principal.kind == "citizen" and principal.family_id is not None else None


async def current_citizen(request: Request, state: WebStateDep) -> AsyncIterator[Citizen]:
    principal = _citizen_principal(state, request)
    if principal is None:
        raise CitizenLoginRequired("belum membuktikan identitas / identity not yet proven")
    request.state.principal_ref = principal.ref
    access = Access(state.security, Caller(principal, source_of(request), request_id(request)))
    citizen = Citizen(principal, access, session_csrf(state.security.keys, principal.token_id or ""), state)
    with access.request():
        yield citizen


CitizenDep = Annotated[Citizen, Depends(current_citizen)]


async def citizen_csrf_checked(request: Request, citizen: CitizenDep) -> Citizen:
    await check_csrf(request, citizen.csrf)
    return citizen


CitizenCsrfDep = Annotated[Citizen, Depends(citizen_csrf_checked)]


# -- proving who one is ----------------------------------------------------------------------------------


def _proof_form(request: Request, state: WebState, *, status: int = 200, error: str = "", nama: str = "",
                headers: dict[str, str] | None = None) -> Response:
    value, new = pre_session(request)
    response = state.pages.render(request, "warga_masuk.html", {
        "login_csrf": citizen_login_csrf(state.security.keys, value), "error": error, "nama": nama},
        status=status, headers=headers)
    if new:
        set_pre_session(response, value)
    return response


@router.get("")
@router.get("/")
def start(request: Request, state: WebStateDep) -> Response:
    return redirect(HOME if _citizen_principal(state, request) is not None else "/web/warga/masuk")


@router.get("/masuk")
def proof_page(request: Request, state: WebStateDep) -> Response:
    if _citizen_principal(state, request) is not None:
        return redirect(HOME)
    return _proof_form(request, state)


@router.post("/masuk")
async def prove(request: Request, state: WebStateDep,
                nik: Annotated[str, Form(max_length=40)] = "", kk: Annotated[str, Form(max_length=40)] = "",
                nama: Annotated[str, Form(max_length=200)] = "") -> Response:
    value, _ = pre_session(request)
    await check_csrf(request, citizen_login_csrf(state.security.keys, value))
    kept_name = nama[:200]
    try:
        body = Identity(nik=nik.replace(" ", ""), kk=kk.replace(" ", ""), nama=nama.strip())
    except ValidationError:  # which part is malformed is said by the form's hints; nothing is looked up
        return _proof_form(request, state, status=400, error="warga.malformed", nama=kept_name)
    wf = state.workflow()
    try:
        issued = citizens.identify(wf, body.nik, body.kk, body.nama, source_of(request), request_id(request))
    except LockedOutError as exc:
        return _proof_form(request, state, status=429, error="warga.locked", nama=kept_name,
                           headers={"Retry-After": str(exc.retry_after)})
    except AuthenticationError:  # the API's generic refusal: never which part was wrong
        return _proof_form(request, state, status=401, error="warga.no_match", nama=kept_name)
    response = redirect(HOME)
    set_session(response, issued.token, issued.expires_in, CITIZEN_COOKIE)
    return response


@router.post("/keluar")
def sign_out(citizen: CitizenCsrfDep, request: Request) -> Response:
    citizen.state.security.auth.logout(citizen.principal, source_of(request), request_id(request))
    response = redirect("/web/warga/masuk")
    clear_session(response, CITIZEN_COOKIE)
    return response


# -- the family, the filing form, one's cases --------------------------------------------------------------


def _family_page(citizen: Citizen, request: Request, *, status: int = 200, error: Exception | None = None,
                 error_key: str = "", form: dict[str, Any] | None = None, filed: int | None = None) -> Response:
    wf = citizen.state.workflow()
    family = citizens.family_status(wf, citizen.access)
    mine = citizens.my_cases(wf, citizen.access)
    filed = filed if any(c.id == filed for c in mine) else None
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, QuotaExceeded) else None
    return citizen.state.pages.render(request, "warga.html", {
        "csrf": citizen.csrf, "family": family, "cases": mine, "kinds": CITIZEN_KINDS, "error": error,
        "error_key": error_key, "form": form or {}, "filed": filed,
        "max_mb": max(1, wf.settings.workflow.max_evidence_bytes // 2**20)}, status=status, headers=headers)


@router.get("/keluarga")
def family_page(citizen: CitizenDep, request: Request,
                diajukan: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    return _family_page(citizen, request, filed=diajukan)  # said only for one of the citizen's own cases


@router.post("/kasus")
def file_case(citizen: CitizenCsrfDep, request: Request,
              jenis: Annotated[str, Form(pattern=r"^(usul|sanggah):[a-z_]{1,30}$")],
              alasan: Annotated[str, Form(max_length=2000)],
              target_kk: Annotated[str, Form(max_length=40)] = "",
              target_nik: Annotated[str, Form(max_length=40)] = "",
              berkas: Annotated[UploadFile | None, File()] = None) -> Response:
    wf = citizen.state.workflow()
    form = {"jenis": jenis, "alasan": alasan, "target_kk": target_kk, "target_nik": target_nik}
    case_type, _, kind = jenis.partition(":")
    data = b""
    name = ""
    try:
        if berkas is not None and berkas.filename:
            data = read_upload(berkas, wf.settings.workflow.max_evidence_bytes)
            name = berkas.filename
            inspect(name, data, wf.settings.workflow.max_evidence_bytes)  # refused before anything is filed
        target = None
        if case_type == "sanggah":
            target = Target(kk=target_kk.strip() or None, nik=target_nik.strip() or None)
        draft = CitizenDraft(case_type=case_type, kind=kind, reason=alasan.strip(),
                             target=target)
        if target is not None and not (target.kk or target.nik):
            raise InvalidCaseInput("a sanggah names the family it objects to")
    except (EvidenceRefused, EvidenceTooLarge) as exc:
        return _family_page(citizen, request, status=413 if isinstance(exc, EvidenceTooLarge) else 415,
                            error=exc, error_key="warga.file_refused", form=form)
    except (ValidationError, InvalidCaseInput):
        return _family_page(citizen, request, status=400, error_key="warga.form_invalid", form=form)
    try:
        made = citizens.file_case(wf, citizen.access, draft)
        if data:
            citizens.add_evidence(wf, citizen.access, made.id, name, data)
    except WorkflowError as exc:
        status = 429 if isinstance(exc, QuotaExceeded) else 400
        return _family_page(citizen, request, status=status, error=exc, form=form)
    return redirect(f"{HOME}?diajukan={made.id}")
