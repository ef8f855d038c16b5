"""Citizens: prove who they are, see their family's status, file an usul or a sanggah with
evidence, follow their cases. They see their own family and their own cases, nothing else.

    token = identify(wf, nik, kk, name, source)        # NIK, KK and name matching the registry
    family_status(wf, access)                          # programmes, and the decile where the policy allows
    file_case(wf, access, CitizenDraft(...))           # -> StatusView (the same answer whatever the target)
    my_cases(wf, access)                               # -> [StatusView]

Proving who one is works like a login: a NIK, its KK and the name as the registry holds them (the
same words, in any order and case); failures count towards the lockout of
`security.max_failed_logins` (per NIK, under a keyed hash) and `security.max_failed_per_source`
(per address), and the answer never says which part was wrong or whether the NIK exists. The
session (`security.auth.citizen_session`) is limited to the family and to
`workflow.citizen_session_minutes`.

A sanggah names the family it objects to by a KK or a member's NIK. Whether that family exists
is never told: the answer is the same, and the case is filed in the village of that family (or,
when it is not found, in the citizen's own village for the operators to look into). A citizen's
family may file `workflow.citizen_cases_per_day` cases a day.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from dtsen.security.audit import AuditEvent
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.security.policy import Resource
from dtsen.security.tokens import IssuedToken
from dtsen.store.tables import cases
from dtsen.workflow import cases as case_rows
from dtsen.workflow.cases import Contact, StatusView, Target
from dtsen.workflow.changes import MemberUpdate, NewPerson
from dtsen.workflow.errors import CaseNotFound, InvalidCaseInput, QuotaExceeded
from dtsen.workflow.names import same_name
from dtsen.workflow.service import Workflow

if TYPE_CHECKING:
    from dtsen.api.access import Access

PURPOSE = "self_service"
NO_MATCH = ("NIK, nomor KK dan nama tidak cocok dengan data / NIK, KK number and name do not match the "
            "registry")
KINDS = {"usul": ("missing_person", "data_change", "pbi_reactivation"), "sanggah": ("not_eligible",)}


class CitizenDraft(BaseModel):
    """An usul about one's own family, or a sanggah about a listed family."""

    model_config = ConfigDict(extra="forbid")

    case_type: Literal["usul", "sanggah"]
    kind: Literal["missing_person", "data_change", "pbi_reactivation", "not_eligible"]
    reason: str = Field(min_length=10, max_length=2000, description="Apa yang diusulkan atau disanggah, dan mengapa.")
    new_persons: list[NewPerson] = Field(default_factory=list, max_length=20)
    member_updates: list[MemberUpdate] = Field(default_factory=list, max_length=20)
    family_fields: dict[str, Any] = Field(default_factory=dict, max_length=40)
    target: Target | None = None
    contact: Contact | None = None


class FamilyStatus(BaseModel):
    """A citizen's family as they may see it (the fields the policy allows self-service)."""

    family_id: int
    release_id: str
    programmes: dict[str, bool | None] = Field(description="PKH, BPNT/sembako and PBI-JK: received or not.")
    decile: int | None = Field(None, description="The national decile, where the policy allows it.")
    members: list[dict[str, Any]] = Field(default_factory=list, description="Names and relationship.")


def identify(wf: Workflow, nik: str, kk: str, name: str, source: str, request_id: str = "") -> IssuedToken:
    """A citizen session for the family of `nik`, when its KK and name match the registry."""
    sec = wf.security
    subject = wf.keys.keyed_hash("citizen-subject", nik.strip())[:32]
    lockout = sec.auth.lockout
    try:
        with wf.store.reading() as conn:
            lockout.check(conn, subject, source)
    except LockedOutError:
        with wf.store.writing() as conn:
            lockout.record(conn, "citizen", subject, source, "locked")
            sec.audit.append(conn, AuditEvent(actor=f"citizen-subject:{subject[:12]}", action="auth.citizen",
                                              outcome="denied", source=source, request_id=request_id,
                                              detail={"reason": "locked"}))
        raise
    person = wf.registry().person_by_nik(nik.strip()) if nik.strip().isdigit() and len(nik.strip()) == 16 else None
    ok = (person is not None and person.family_id is not None and not person.is_deceased
          and person.kk == kk.strip() and same_name(name, person.full_name or ""))
    family_id = person.family_id if ok and person is not None else None
    with wf.store.writing() as conn:
        lockout.record(conn, "citizen", subject, source, "ok" if ok else "unknown")
        sec.audit.append(conn, AuditEvent(
            actor=f"citizen:family:{family_id}" if ok else f"unknown:{subject[:12]}", action="auth.citizen",
            outcome="ok" if ok else "failed", source=source, request_id=request_id, purpose=PURPOSE,
            records=(f"family:{family_id}",) if ok else (), detail={} if ok else {"reason": "no match"}))
    if family_id is None:
        raise AuthenticationError(NO_MATCH)
    return sec.auth.citizen_session(family_id, source, wf.settings.workflow.citizen_session_minutes)


def _own(access: Access) -> int:
    family_id = access.principal.family_id
    if family_id is None:
        raise AuthenticationError("sesi warga diperlukan / a citizen session is required")
    return family_id


def family_status(wf: Workflow, access: Access) -> FamilyStatus:
    family_id = _own(access)
    registry = wf.registry()
    family = registry.family(family_id)
    decision = access.require("family.read", PURPOSE, Resource(region_code=family.region_code if family else None,
                                                                family_id=family_id), records=[f"family:{family_id}"])
    if family is None:
        raise CaseNotFound("keluarga Anda tidak ada di rilis terbaru / your family is not in the current release")
    fields = decision.fields
    out = FamilyStatus(
        family_id=family_id, release_id=registry.release_id,
        programmes={p: family.values.get(p) for p in ("pkh", "bpnt", "pbi_jk") if p in fields},
        decile=family.values.get("decile") if "decile" in fields else None,
        members=[{k: v for k, v in (("full_name", m.full_name), ("relationship", m.relationship)) if k in fields}
                 for m in family.members if not m.is_deceased])
    access.record("family.read", PURPOSE, [f"family:{family_id}"], decision=decision, region_code=family.region_code)
    return out


def file_case(wf: Workflow, access: Access, draft: CitizenDraft) -> StatusView:
    """File an usul (about one's own family) or a sanggah (about a listed family)."""
    own = _own(access)
    if draft.kind not in KINDS[draft.case_type]:
        raise InvalidCaseInput(f"kind must be one of {', '.join(KINDS[draft.case_type])} for {draft.case_type}")
    decision_resource = Resource(family_id=own)
    access.require("case.file_own", PURPOSE, decision_resource, records=[f"family:{own}"])
    now = wf.clock()
    since = now - dt.timedelta(days=1)
    with wf.store.reading() as conn:
        filed = conn.execute(sa.select(sa.func.count(), sa.func.min(cases.c.created_at)).where(
            cases.c.submitter_family_id == own, cases.c.created_at > since)).one()
    if int(filed[0]) >= wf.settings.workflow.citizen_cases_per_day:
        oldest = filed[1] if filed[1].tzinfo else filed[1].replace(tzinfo=dt.UTC)
        wait = max(60, int((oldest + dt.timedelta(days=1) - now).total_seconds()))
        raise QuotaExceeded(f"batas {wf.settings.workflow.citizen_cases_per_day} pengajuan per hari tercapai / the "
                            "daily limit of cases is reached; try again later", retry_after=wait)
    registry = wf.registry()
    home = registry.family(own)
    if home is None or not home.region_code:
        raise CaseNotFound("keluarga Anda tidak ada di rilis terbaru / your family is not in the current release")
    proposal: dict[str, Any] = {}
    family_id: int | None = own
    region = home.region_code
    if draft.case_type == "sanggah":
        target = draft.target
        if target is None or not (target.kk or target.nik):
            raise InvalidCaseInput("a sanggah names the family it objects to: its KK, or a member's NIK (target)")
        found = registry.family_by_kk(target.kk) if target.kk else None
        if found is None and target.nik:
            person = registry.person_by_nik(target.nik)
            found = registry.family(person.family_id) if person is not None and person.family_id else None
        family_id = found.family_id if found is not None else None
        region = found.region_code if found is not None and found.region_code else region
        proposal["target"] = target.model_dump(exclude_none=True)
    else:
        proposal = {k: v for k, v in draft.model_dump(mode="json", include={"new_persons", "member_updates",
                                                                             "family_fields"}).items() if v}
    row = wf.insert_case(access, "case.file_own", PURPOSE, case_type=draft.case_type, kind=draft.kind, region=region,
                         family_id=family_id, release_id=registry.release_id, reason=draft.reason, proposal=proposal,
                         contact=draft.contact, submitter_family_id=own)
    return case_rows.status_view(row, wf.machine)


def _own_case(wf: Workflow, access: Access, case_id: int) -> dict[str, Any]:
    own = _own(access)
    with wf.store.reading() as conn:
        row = case_rows.load(conn, case_id)
    if row is None or row["submitter_family_id"] != own:
        # the same answer for another family's case as for none: nothing about anyone else
        access.record("case.read_own", PURPOSE, [f"case:{case_id}"], outcome="denied",
                      detail={"reason": "not the caller's case"})
        raise CaseNotFound("kasus tidak ditemukan / no such case of yours")
    access.require("case.read_own", PURPOSE, Resource(family_id=row["submitter_family_id"]),
                   records=[f"case:{case_id}"])
    return row


def my_case(wf: Workflow, access: Access, case_id: int) -> StatusView:
    row = _own_case(wf, access, case_id)
    access.record("case.read_own", PURPOSE, [f"case:{case_id}"])
    return case_rows.status_view(row, wf.machine)


def my_cases(wf: Workflow, access: Access) -> list[StatusView]:
    own = _own(access)
    access.require("case.read_own", PURPOSE, Resource(family_id=own), records=[f"family:{own}"])
    with wf.store.reading() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(cases).where(cases.c.submitter_family_id == own)
                                              .order_by(cases.c.id.desc()).limit(100)).mappings()]
    access.record("case.read_own", PURPOSE, [f"case:{r['id']}" for r in rows])
    return [case_rows.status_view(r, wf.machine) for r in rows]


def add_evidence(wf: Workflow, access: Access, case_id: int, filename: str, data: bytes) -> int:
    """A document or photo for one of the citizen's own open cases; its evidence id."""
    row = _own_case(wf, access, case_id)
    info = wf.add_evidence(access, PURPOSE, case_id, "evidence", filename, data, action="case.file_own",
                           resource=Resource(family_id=row["submitter_family_id"]))
    return info.id
