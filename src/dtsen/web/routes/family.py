"""Families: finding one, the family page, and why it has its decile.

    GET  /web/keluarga?wilayah=32.04.05.2001&mulai=0   the families of a region in the viewer's scope
    POST /web/keluarga/cari       by KK or NIK (in the form, never in a URL); goes to the family page
    GET  /web/keluarga/{id}       the family page (family.read, for the purpose chosen on the page)
    GET  /web/keluarga/{id}/penjelasan   why it has its decile (family.explain; an htmx fragment)

A family outside the viewer's scope is answered exactly like one that does not exist (404), and
the refusal is in the audit chain. Every page that shows personal data is an audit entry naming
the records shown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Decision, Resource
from dtsen.serve import lookups, welfare
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.models import FamilyRecord
from dtsen.serve.regions import check_prefix
from dtsen.web.messages import Translator, language_of
from dtsen.web.pages import PAGE_HEADERS, NotFound, WebRoute, is_htmx
from dtsen.web.routes.region import REGION, RELEASE
from dtsen.web.viewer import CsrfDep, Viewer, ViewerDep
from dtsen.web.views.cases import family_cases
from dtsen.web.views.explanation import explanation_view
from dtsen.web.views.family import build_family_page

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)

READ, EXPLAIN = "family.read", "family.explain"
PURPOSE = r"^[a-z_]{1,40}$"
PAGE = 50
NOT_FOUND = "keluarga tidak ditemukan / family not found"


def _purpose(viewer: Viewer, action: str, wanted: str | None) -> str:
    purpose = viewer.purpose_for(action, wanted)
    if purpose is None:
        viewer.access.scope(action, wanted)  # records the refusal and raises AccessDenied
        raise AccessDenied("akses ditolak / access denied")
    return purpose


def read_family(viewer: Viewer, action: str, purpose: str, record: FamilyRecord | None, ref: str) -> Decision:
    """The decision for a family the viewer asked for; NotFound when it does not exist or lies
    outside their scope (answered alike; the refusal audited)."""
    if record is None:
        viewer.access.record(action, purpose, [ref], detail={"found": 0})
        raise NotFound(NOT_FOUND)
    f = record.family
    try:
        return viewer.access.require(action, purpose, Resource(f.region_code, f.family_id),
                                     records=[f"family:{f.family_id}"])
    except AccessDenied:
        raise NotFound(NOT_FOUND) from None


@router.get("/keluarga")
def families(viewer: ViewerDep, request: Request,
             wilayah: Annotated[str | None, Query(max_length=13, pattern=REGION)] = None,
             tujuan: Annotated[str | None, Query(pattern=PURPOSE)] = None,
             mulai: Annotated[int, Query(ge=0, le=10**9)] = 0) -> Response:
    purpose = _purpose(viewer, READ, tujuan)
    scope = viewer.access.security.policy.scope(viewer.principal, READ, purpose)
    prefixes = scope.region_prefixes
    context: dict[str, Any] = {**viewer.page_context(), "purpose": purpose, "purposes": viewer.purposes(READ),
                               "region": None, "rows": [], "total": 0, "start": mulai, "page": PAGE, "fields": set(),
                               "own_regions": [] if not prefixes else [
                                   {"code": p, "name": viewer.state.region_name(p)} for p in prefixes],
                               "national": prefixes is None, "not_found": False}
    if prefixes == ():  # a scope of one family (a citizen): no lists, no search
        viewer.access.require(READ, purpose, Resource(region_code=""), records=["region:national"])
    if wilayah is None and prefixes:
        wilayah = prefixes[0]
    if wilayah is not None:
        region = check_prefix(wilayah)
        ref = f"region:{region or 'national'}"
        if not scope.decide(Resource(region_code=region)).allowed:
            viewer.access.require(READ, purpose, Resource(region_code=region), records=[ref])  # refused, audited
        with viewer.state.release() as h:
            page = lookups.families_in_region(h, region, offset=mulai, limit=PAGE)
            rows = []
            for f in page.items:
                decision = scope.decide(Resource(f.region_code, f.family_id))
                if not decision.allowed:
                    continue
                row = decision.project(f.model_dump())
                if "full_name" in decision.fields and f.head_person_id is not None:
                    head = lookups.person_by_id(h, f.head_person_id)
                    row["head_name"] = head.person.full_name if head is not None else None
                row["region_name"] = viewer.state.region_name(f.region_code or "")
                rows.append(row)
            release_id = h.release_id
        viewer.access.record(READ, purpose, [f"family:{r['family_id']}" for r in rows if "family_id" in r] or [ref],
                             decision=scope.decide(Resource(region_code=region)), region_code=region,
                             detail={"release_id": release_id, "view": "web.family_list", "offset": mulai})
        context.update(region={"code": region, "name": viewer.state.region_name(region)}, rows=rows,
                       total=page.total, fields=scope.fields, release_id=release_id)
    return viewer.state.pages.render(request, "families.html", context)


@router.post("/keluarga/cari")
def find_family(viewer: CsrfDep, request: Request,
                nomor: Annotated[str, Form(max_length=40)] = "",
                jenis: Annotated[str, Form(pattern=r"^(kk|nik)$")] = "kk",
                tujuan: Annotated[str | None, Form(pattern=PURPOSE)] = None) -> Response:
    purpose = _purpose(viewer, READ, tujuan)
    with viewer.state.release() as h:
        number = lookups.clean_identifier(nomor, jenis.upper())
        ref = viewer.access.keyed(jenis, number)
        record = _by_identifier(viewer, h, jenis, number, purpose)
        try:
            read_family(viewer, READ, purpose, record, ref)
        except NotFound:
            context = {**viewer.page_context(), "purpose": purpose, "purposes": viewer.purposes(READ), "region": None,
                       "rows": [], "total": 0, "start": 0, "page": PAGE, "fields": set(), "own_regions": [],
                       "national": False, "not_found": True}
            return viewer.state.pages.render(request, "families.html", context, status=404)
    assert record is not None
    location = f"/web/keluarga/{record.family.family_id}?tujuan={purpose}"
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


def _by_identifier(viewer: Viewer, h: ReleaseHandle, kind: str, number: str, purpose: str) -> FamilyRecord | None:
    if kind == "kk":
        return lookups.family_by_kk(h, number)
    scope = viewer.access.security.policy.scope(viewer.principal, READ, purpose)
    people = [p for p in lookups.persons_by_nik(h, number) if p.family_id is not None]
    inside = [p for p in people if scope.decide(Resource(p.region_code, p.family_id)).allowed]
    person = (inside or people)[0] if people else None
    return lookups.family_by_id(h, int(person.family_id)) if person is not None and person.family_id else None


@router.get("/keluarga/{family_id}")
def family_page(viewer: ViewerDep, request: Request, family_id: Annotated[int, Path(ge=1, le=2**62)],
                tujuan: Annotated[str | None, Query(pattern=PURPOSE)] = None,
                rilis: Annotated[str | None, Query(pattern=RELEASE)] = None) -> Response:
    purpose = _purpose(viewer, READ, tujuan)
    state = viewer.state
    t = Translator(language_of(request))
    with state.release(rilis) as h:
        record = lookups.family_by_id(h, family_id)
        decision = read_family(viewer, READ, purpose, record, f"family:{family_id}")
        assert record is not None
        scope = state.security.policy.scope(viewer.principal, READ, purpose)
        page = build_family_page(state, h, record, decision, scope, purpose, t)
    refs = [f"family:{family_id}", *(f"person:{m.person_id}" for m in record.members)]
    viewer.access.record(READ, purpose, refs, decision=decision, region_code=record.family.region_code,
                         detail={"release_id": page.release_id, "view": "web.family",
                                 "releases": [r.release_id for r in page.history if r.values]})
    explain_purpose = viewer.purpose_for(EXPLAIN, purpose)
    cases = family_cases(viewer, family_id)
    return state.pages.render(request, "family.html", {
        **viewer.page_context(), "p": page, "purposes": viewer.purposes(READ), "chosen_release": rilis or "",
        "explain_purpose": explain_purpose if explain_purpose == purpose else None,
        "cases": cases, "cases_rows": [{"c": c, "region_name": state.region_name(c.region_code)} for c in cases or []]})


@router.get("/keluarga/{family_id}/penjelasan")
def family_explanation(viewer: ViewerDep, request: Request, family_id: Annotated[int, Path(ge=1, le=2**62)],
                       tujuan: Annotated[str | None, Query(pattern=PURPOSE)] = None,
                       rilis: Annotated[str | None, Query(pattern=RELEASE)] = None) -> Response:
    purpose = _purpose(viewer, EXPLAIN, tujuan)
    state = viewer.state
    t = Translator(language_of(request))
    with state.release(rilis) as h:
        record = lookups.family_by_id(h, family_id)
        decision = read_family(viewer, EXPLAIN, purpose, record, f"family:{family_id}")
        assert record is not None
        view = explanation_view(state, h, family_id, decision, t, welfare.local_engine())
    viewer.access.record(EXPLAIN, purpose, [f"family:{family_id}"], decision=decision,
                         region_code=record.family.region_code,
                         detail={"release_id": h.release_id, "view": "web.explanation"})
    template = "_explanation.html" if is_htmx(request) else "explanation.html"
    return state.pages.render(request, template, {**viewer.page_context(), "e": view, "family_id": family_id,
                                                  "purpose": purpose})
