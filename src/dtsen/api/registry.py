"""The registry API for ministries, agencies and regions (`/api/...`).

    GET  /api/persons/{person_id}                          person.read
    POST /api/persons/by-nik         {"nik": ...}          person.read
    GET  /api/families/{family_id}                         family.read (with its members)
    POST /api/families/by-kk         {"kk": ...}           family.read
    GET  /api/families/{family_id}/welfare                 family.read (decile, poverty flags, programmes)
    GET  /api/families/{family_id}/explanation             family.explain (why the family has its rank)
    GET  /api/families/{family_id}/eligibility/{programme} eligibility.check
    POST /api/eligibility            {"nik"|"kk", "programme"}   eligibility.check
    GET  /api/regions/summary?region=32.04                 region.summary (small counts suppressed)
    GET  /api/releases                                     release.read
    GET  /api/releases/{release_id}                        release.read (its manifest)
    GET  /api/changes?from_release=&to_release=            changes.read (filtered to the caller's region)

Every request for personal data states `?purpose=`; the answer holds only the fields the policy
gives that purpose (`dtsen.api.views`), names its release, and is written to the audit chain.
NIK and KK travel in the request body, never in the URL, so that no proxy log or browser history
keeps them. A record outside the caller's scope is answered like an absent one (`dtsen.api.reads`).
Handlers parse, ask the policy, call `dtsen.serve`, record, and answer; nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from dtsen.api.deps import AccessDep, PurposeParam, SettingsDep
from dtsen.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from dtsen.api.reads import absent, covered, policy_scope, read_record
from dtsen.api.serving import HandleDep, ReleasesDep
from dtsen.api.views import (
    ChangeAnswer,
    EligibilityAnswer,
    ExplanationAnswer,
    FamilyAnswer,
    ManifestAnswer,
    PersonAnswer,
    ReleaseList,
    ReleaseView,
    SummaryAnswer,
    WelfareAnswer,
    change_row,
    eligibility_row,
    explanation_row,
    family_row,
    person_row,
    summary_row,
    welfare_row,
)
from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Resource
from dtsen.security.principal import within
from dtsen.serve import feed, lookups, summaries, welfare
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.models import FamilyRecord, Person
from dtsen.serve.regions import check_prefix
from dtsen.serve.releases import ServingReleases
from dtsen.welfare.artefact import ModelArtefactError
from dtsen.welfare.explain import ExplainFamilyError

router = APIRouter(prefix="/api", tags=["registry"])

DATA_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {"model": ErrorBody, "description": "A malformed identifier, region or page"},
    404: {"model": ErrorBody, "description": "Not found, or outside the caller's scope (answered alike)"},
    503: {"model": ErrorBody, "description": "No release can be served yet"},
}
ID = Annotated[int, Path(ge=1, le=2**62, description="The registry's id.")]
PROGRAMME = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$",
                                description="A programme of the project (`[programmes.NAME]`), e.g. pkh.")]
RELEASE = r"^R[0-9]{1,9}$"
REGION = r"^([0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?)?$"


class NikQuery(BaseModel):
    nik: str = Field(pattern=r"^[0-9]{16}$", description="The NIK (16 digits).")


class KkQuery(BaseModel):
    kk: str = Field(pattern=r"^[0-9]{16}$", description="The nomor KK (16 digits).")


class EligibilityQuery(BaseModel):
    programme: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    nik: str | None = Field(None, pattern=r"^[0-9]{16}$", description="A member's NIK (or give kk).")
    kk: str | None = Field(None, pattern=r"^[0-9]{16}$", description="The family's nomor KK (or give nik).")


def _resource(p: Person) -> Resource:
    return Resource(p.region_code, p.family_id)


# -- persons -----------------------------------------------------------------------------------


def _person_answer(access: AccessDep, purpose: str, h: ReleaseHandle, found: list[Person], ref: str) -> PersonAnswer:
    scope = policy_scope(access, "person.read", purpose)
    inside = [p for p in found if covered(scope, _resource(p))]
    if not found:
        raise absent(access, "person.read", purpose, [ref])
    person = inside[0] if inside else found[0]
    refs = [f"person:{person.person_id}"]
    decision = read_record(access, "person.read", purpose, _resource(person), refs)
    access.record("person.read", purpose, refs, decision=decision, region_code=person.region_code)
    return PersonAnswer.model_validate({"release_id": h.release_id, "purpose": purpose,
                                        "person": decision.project(person_row(person))})


@router.get("/persons/{person_id}", response_model=PersonAnswer, response_model_exclude_unset=True,
            responses=DATA_RESPONSES)
def person_by_id(person_id: ID, purpose: PurposeParam, access: AccessDep, h: HandleDep) -> PersonAnswer:
    """A person by the registry's person id."""
    record = lookups.person_by_id(h, person_id)
    return _person_answer(access, purpose, h, [record.person] if record else [], f"person:{person_id}")


@router.post("/persons/by-nik", response_model=PersonAnswer, response_model_exclude_unset=True,
             responses=DATA_RESPONSES)
def person_by_nik(body: NikQuery, purpose: PurposeParam, access: AccessDep, h: HandleDep) -> PersonAnswer:
    """A person by NIK (in the body). When two persons carry the NIK, the first one the caller
    may see."""
    return _person_answer(access, purpose, h, lookups.persons_by_nik(h, body.nik), access.keyed("nik", body.nik))


# -- families ----------------------------------------------------------------------------------


def _family(access: AccessDep, action: str, purpose: str, record: FamilyRecord | None, ref: str,
            programme: str | None = None) -> tuple[FamilyRecord, Any]:
    if record is None:
        raise absent(access, action, purpose, [ref])
    f = record.family
    refs = [f"family:{f.family_id}"]
    decision = read_record(access, action, purpose, Resource(f.region_code, f.family_id, programme), refs)
    access.record(action, purpose, refs, decision=decision, region_code=f.region_code)
    return record, decision


def _family_answer(access: AccessDep, purpose: str, h: ReleaseHandle, record: FamilyRecord | None,
                   ref: str) -> FamilyAnswer:
    found, decision = _family(access, "family.read", purpose, record, ref)
    return FamilyAnswer.model_validate({
        "release_id": h.release_id, "purpose": purpose, "family": decision.project(family_row(found.family)),
        "members": [decision.project(person_row(m)) for m in found.members]})


@router.get("/families/{family_id}", response_model=FamilyAnswer, response_model_exclude_unset=True,
            responses=DATA_RESPONSES)
def family_by_id(family_id: ID, purpose: PurposeParam, access: AccessDep, h: HandleDep) -> FamilyAnswer:
    """A family by the registry's family id, with its members."""
    return _family_answer(access, purpose, h, lookups.family_by_id(h, family_id), f"family:{family_id}")


@router.post("/families/by-kk", response_model=FamilyAnswer, response_model_exclude_unset=True,
             responses=DATA_RESPONSES)
def family_by_kk(body: KkQuery, purpose: PurposeParam, access: AccessDep, h: HandleDep) -> FamilyAnswer:
    """A family by its nomor KK (in the body), with its members."""
    return _family_answer(access, purpose, h, lookups.family_by_kk(h, body.kk), access.keyed("kk", body.kk))


@router.get("/families/{family_id}/welfare", response_model=WelfareAnswer, response_model_exclude_unset=True,
            responses=DATA_RESPONSES)
def family_welfare(family_id: ID, purpose: PurposeParam, access: AccessDep, h: HandleDep) -> WelfareAnswer:
    """A family's decile (national, provincial, regency), ranks, poverty flags and programmes."""
    found, decision = _family(access, "family.read", purpose, lookups.family_by_id(h, family_id),
                              f"family:{family_id}")
    status = welfare.welfare_status(h, found.family.family_id)
    return WelfareAnswer.model_validate({"release_id": h.release_id, "purpose": purpose,
                                         "welfare": decision.project(welfare_row(status))})


@router.get("/families/{family_id}/explanation", response_model=ExplanationAnswer,
            response_model_exclude_unset=True, responses=DATA_RESPONSES)
def family_explanation(family_id: ID, purpose: PurposeParam, access: AccessDep, h: HandleDep) -> ExplanationAnswer:
    """Why a family has its rank: each predictor's contribution to its predicted consumption,
    with the release's own PMT model."""
    found, decision = _family(access, "family.explain", purpose, lookups.family_by_id(h, family_id),
                              f"family:{family_id}")
    try:
        explained = welfare.explain_rank(h, found.family.family_id, engine=welfare.local_engine())
    except (ExplainFamilyError, ModelArtefactError):
        raise ApiError("not_found", f"release {h.release_id} has no explanation of this family's rank "
                                    "(no PMT model, or the family is not ranked)") from None
    return ExplanationAnswer.model_validate({"release_id": h.release_id, "purpose": purpose,
                                             "explanation": decision.project(explanation_row(explained))})


def _eligibility(access: AccessDep, settings: SettingsDep, purpose: str, h: ReleaseHandle,
                 record: FamilyRecord | None, ref: str, programme: str,
                 person_id: int | None = None) -> EligibilityAnswer:
    policy_scope(access, "eligibility.check", purpose)
    try:
        rule = welfare.programme_rule(settings.programmes, programme)
    except welfare.UnknownProgrammeError as exc:
        raise ApiError("not_found", str(exc)) from None
    found, decision = _family(access, "eligibility.check", purpose, record, ref, programme)
    verdict = welfare.eligibility(h, found.family.family_id, programme, rule)
    return EligibilityAnswer.model_validate({
        "release_id": h.release_id, "purpose": purpose,
        "eligibility": decision.project(eligibility_row(verdict, rule, person_id))})


@router.get("/families/{family_id}/eligibility/{programme}", response_model=EligibilityAnswer,
            response_model_exclude_unset=True, responses=DATA_RESPONSES)
def family_eligibility(family_id: ID, programme: PROGRAMME, purpose: PurposeParam, access: AccessDep,
                       settings: SettingsDep, h: HandleDep) -> EligibilityAnswer:
    """Whether the programme's rule takes the family, under which rule, and (where the purpose
    allows) why."""
    return _eligibility(access, settings, purpose, h, lookups.family_by_id(h, family_id), f"family:{family_id}",
                        programme)


@router.post("/eligibility", response_model=EligibilityAnswer, response_model_exclude_unset=True,
             responses=DATA_RESPONSES)
def eligibility_by_identifier(body: EligibilityQuery, purpose: PurposeParam, access: AccessDep,
                              settings: SettingsDep, h: HandleDep) -> EligibilityAnswer:
    """Eligibility by a member's NIK or by the family's KK (in the body)."""
    if (body.nik is None) == (body.kk is None):
        raise ApiError("bad_request", "give either nik or kk")
    if body.kk is not None:
        return _eligibility(access, settings, purpose, h, lookups.family_by_kk(h, body.kk),
                            access.keyed("kk", body.kk), body.programme)
    nik = str(body.nik)
    scope = policy_scope(access, "eligibility.check", purpose)
    people = [p for p in lookups.persons_by_nik(h, nik) if p.family_id is not None]
    inside = [p for p in people if covered(scope, Resource(p.region_code, p.family_id, body.programme))]
    person: Person | None = (inside or people)[0] if people else None
    record = lookups.family_by_id(h, person.family_id) if person is not None and person.family_id else None
    return _eligibility(access, settings, purpose, h, record, access.keyed("nik", nik), body.programme,
                        person.person_id if person is not None else None)


# -- regions -----------------------------------------------------------------------------------


@router.get("/regions/summary", response_model=SummaryAnswer, response_model_exclude_unset=True,
            responses=DATA_RESPONSES)
def region_summary(purpose: PurposeParam, access: AccessDep, settings: SettingsDep, h: HandleDep,
                   region: Annotated[str, Query(max_length=13, pattern=REGION,
                                                description="Region code prefix; empty: the whole country.")] = ""
                   ) -> SummaryAnswer:
    """Persons, families, deciles, poverty and quality indicators of a region within the caller's
    scope, with small counts suppressed as on the scorecards (`quality.suppress_below`)."""
    region = check_prefix(region)
    decision = access.require("region.summary", purpose, Resource(region_code=region),
                              records=[f"region:{region or 'national'}"])
    s = summaries.region_summary(h, region, settings.quality.suppress_below)
    access.record("region.summary", purpose, [f"region:{region or 'national'}"], decision=decision,
                  region_code=region)
    return SummaryAnswer.model_validate({
        "release_id": h.release_id, "purpose": purpose, "region": s.region, "level": s.level,
        "threshold": s.threshold, "summary": decision.project(summary_row(s)), "suppressed": s.suppressed})


# -- releases and changes ------------------------------------------------------------------------


@router.get("/releases", response_model=ReleaseList, responses=DATA_RESPONSES)
def releases_list(access: AccessDep, releases: ReleasesDep) -> ReleaseList:
    """Every published release, oldest first: which is current, which is served."""
    access.require("release.read")
    releases.refresh()  # what is served now, also before any data request
    entries = feed.list_releases(releases)
    return ReleaseList(served=releases.current_id, pending=releases.pending,
                       releases=[ReleaseView(release_id=e.release_id, current=e.current, served=e.served,
                                             indexed=e.indexed) for e in entries])


@router.get("/releases/{release_id}", response_model=ManifestAnswer, responses=DATA_RESPONSES)
def release_manifest(release_id: Annotated[str, Path(pattern=RELEASE)], access: AccessDep,
                     releases: ReleasesDep) -> ManifestAnswer:
    """A release's manifest: inputs with checksums, row accounting, models, settings hash, metrics."""
    access.require("release.read")
    entry = next((e for e in feed.list_releases(releases) if e.release_id == release_id), None)
    if entry is None:
        raise ApiError("not_found", f"no release {release_id}")
    return ManifestAnswer(release_id=release_id, manifest=entry.manifest)


def _feed_region(scope_prefixes: tuple[str, ...] | None, region: str | None) -> str | None:
    """The region the feed is limited to: the caller's, or one inside it; AccessDenied outside."""
    wanted = check_prefix(region) if region is not None else None
    if scope_prefixes is None:
        return wanted or None
    if not scope_prefixes:
        raise AccessDenied("akses ditolak / access denied: the change feed is given for regions only")
    if wanted is None:
        if len(scope_prefixes) == 1:
            return scope_prefixes[0]
        raise ApiError("bad_request", f"state region: one of {', '.join(scope_prefixes)} or a region inside one")
    if not any(within(wanted, p) for p in scope_prefixes):
        raise AccessDenied("akses ditolak / access denied: the region is outside the caller's region")
    return wanted


def _previous(releases: ServingReleases, to_release: str) -> str:
    earlier = [r.release_id for r in releases.store.releases() if r.release_id < to_release]
    if not earlier:
        raise ApiError("bad_request", f"release {to_release} has no earlier release; state from_release")
    return earlier[-1]


@router.get("/changes", response_model=ChangeAnswer, responses=DATA_RESPONSES)
def changes(purpose: PurposeParam, access: AccessDep, releases: ReleasesDep,
            to_release: Annotated[str | None, Query(pattern=RELEASE, description="Default: the served release.")] = None,
            from_release: Annotated[str | None, Query(pattern=RELEASE,
                                                      description="Default: the release before to_release.")] = None,
            region: Annotated[str | None, Query(max_length=13, pattern=REGION)] = None,
            kind: Annotated[list[str] | None, Query(description="register, update, delete, link, unlink")] = None,
            offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
            limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> ChangeAnswer:
    """What changed between two releases, record by record (register, update, delete, link,
    unlink), within the caller's region (a caller with several regions states one)."""
    scope = policy_scope(access, "changes.read", purpose)
    try:
        area = _feed_region(scope.region_prefixes, region)
    except AccessDenied as exc:
        access.record("changes.read", purpose, [], outcome="denied", region_code=region,
                      detail={"reason": str(exc)})
        raise
    target = to_release or releases.current_id
    if target is None:
        raise ApiError("release_unavailable")
    start = from_release or _previous(releases, target)
    result = feed.change_feed(releases, start, target, offset=offset, limit=limit, region=area, kinds=kind)
    decision = (scope.decide(Resource(region_code=area)) if area
                else access.security.policy.decide(access.principal, "changes.read", purpose))
    refs = [f"{c.entity}:{c.id}" for c in result.changes]
    access.record("changes.read", purpose, refs, decision=decision, region_code=area,
                  detail={"from": start, "to": target, "offset": offset, "count": len(refs)})
    return ChangeAnswer.model_validate({
        "purpose": purpose, "from_release": result.from_release, "to_release": result.to_release, "region": area,
        "changes": [change_row(c, decision.fields) for c in result.changes], "total": result.total,
        "offset": result.offset, "limit": result.limit})
