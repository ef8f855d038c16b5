"""Cases as the store keeps them, what a request files, and what a reader sees.

    CaseDraft      what staff file (`POST /api/cases`), a citizen's `CitizenDraft` is in
                   dtsen.workflow.citizens
    CaseView       a case as staff see it: the parts their fields allow (case, case_detail,
                   case_evidence, case_history; `dtsen/security/policy.toml`)
    StatusView     a case as its citizen submitter sees it: state, dates and the outcome only
    Filters        the filters of a list
    region_filter  the SQL condition of a scope's region prefixes (whole code parts)

Case ids are shown as `K-000012` (`case_label`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from dtsen.store.tables import case_events, case_evidence, cases, users
from dtsen.workflow.changes import REGION, FamilyRecord, MemberDeath, MemberUpdate, Moved, NewFamily, NewPerson
from dtsen.workflow.machine import Machine

CaseType = Literal["visit", "usul", "sanggah", "village_report"]
ChannelName = Literal["email", "sms", "whatsapp"]


def case_label(case_id: int) -> str:
    return f"K-{case_id:06d}"


class Contact(BaseModel):
    """Where the submitter wants to hear of the case (sealed in the store)."""

    model_config = ConfigDict(extra="forbid")

    channel: ChannelName
    address: str = Field(min_length=3, max_length=200, pattern=r"^[^\s<>]+$")


class Target(BaseModel):
    """The family a sanggah objects to, as the citizen knows it (a KK or a member's NIK)."""

    model_config = ConfigDict(extra="forbid")

    kk: str | None = Field(None, pattern=r"^\d{16}$")
    nik: str | None = Field(None, pattern=r"^\d{16}$")
    name: str | None = Field(None, max_length=200)


class Proposal(BaseModel):
    """What the submitter proposes; the visit settles what actually changes."""

    model_config = ConfigDict(extra="forbid")

    deceased: list[MemberDeath] = Field(default_factory=list, max_length=50)
    member_updates: list[MemberUpdate] = Field(default_factory=list, max_length=50)
    family_fields: dict[str, Any] = Field(default_factory=dict, max_length=40)
    new_family: NewFamily | None = None
    new_persons: list[NewPerson] = Field(default_factory=list, max_length=30)
    moved: Moved | None = None
    target: Target | None = None


class CaseDraft(BaseModel):
    """A case filed by staff."""

    model_config = ConfigDict(extra="forbid")

    case_type: CaseType
    kind: str = Field(min_length=1, max_length=30, pattern=r"^[a-z_]+$")
    family_id: int | None = Field(None, ge=1, description="The family of the current release the case is about.")
    region_code: str | None = Field(None, pattern=REGION,
                                    description="The village, for a family not in the registry (else the family's).")
    reason: str = Field(min_length=3, max_length=2000, description="Why the case is filed.")
    proposal: Proposal = Field(default_factory=Proposal)
    contact: Contact | None = None


class EvidenceInfo(BaseModel):
    id: int
    kind: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime


class EventView(BaseModel):
    at: dt.datetime
    actor: str
    role: str
    action: str
    from_state: str | None
    to_state: str
    reason: str | None
    audit_seq: int | None


class CaseView(BaseModel):
    """A case as staff see it. Parts the caller's fields do not allow are null."""

    id: int
    label: str
    case_type: str
    kind: str
    state: str
    state_label: str
    region_code: str
    family_id: int | None
    release_id: str | None
    submitted_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    state_since: dt.datetime
    deadline_at: dt.datetime | None
    overdue: bool
    officer: str | None
    batch_id: int | None
    in_release: str | None
    outcome: str | None
    last_reason: str | None
    actions: list[str] = Field(default_factory=list, description="What the caller may do next.")
    reason: str | None = None
    proposal: dict[str, Any] | None = None
    musdes: dict[str, Any] | None = None
    visit: dict[str, Any] | None = None
    changes: list[dict[str, Any]] | None = None
    evidence: list[EvidenceInfo] | None = None
    history: list[EventView] | None = None


class StatusView(BaseModel):
    """A case as the citizen who filed it sees it: never anything about another family."""

    id: int
    label: str
    case_type: str
    kind: str
    state_label: str
    created_at: dt.datetime
    updated_at: dt.datetime
    finished: bool
    outcome: str | None


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str | None = None
    case_type: CaseType | None = None
    region: str | None = Field(None, pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
    family_id: int | None = None
    overdue: bool = False
    assigned_to: int | None = None  # a user id
    batch_id: int | None = None
    after: int = Field(0, ge=0, description="Cases with a larger id than this (paging).")
    limit: int = Field(50, ge=1, le=200)


def region_filter(column: sa.ColumnElement[str], prefixes: Sequence[str] | None) -> sa.ColumnElement[bool]:
    """`column` within one of `prefixes` by whole code parts (None: no limit; (): nothing)."""
    if prefixes is None:
        return sa.true()
    if not prefixes:
        return sa.false()
    return sa.or_(*[sa.or_(column == p, column.like(p.replace("%", "").replace("_", "") + ".%")) for p in prefixes])


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT wrote."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def load(conn: sa.Connection, case_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    q = sa.select(cases).where(cases.c.id == case_id)
    if for_update:
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    return dict(row) if row is not None else None


def officer_name(conn: sa.Connection, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return conn.execute(sa.select(users.c.username).where(users.c.id == user_id)).scalar()


def evidence_of(conn: sa.Connection, case_id: int) -> list[EvidenceInfo]:
    rows = conn.execute(sa.select(case_evidence).where(case_evidence.c.case_id == case_id)
                        .order_by(case_evidence.c.id)).mappings()
    return [EvidenceInfo(**{k: r[k] for k in EvidenceInfo.model_fields}) for r in rows]


def history_of(conn: sa.Connection, case_id: int) -> list[EventView]:
    rows = conn.execute(sa.select(case_events).where(case_events.c.case_id == case_id)
                        .order_by(case_events.c.id)).mappings()
    return [EventView(**{k: r[k] for k in EventView.model_fields}) for r in rows]


def view(conn: sa.Connection, row: dict[str, Any], machine: Machine, fields: frozenset[str], now: dt.datetime,
         actions: list[str]) -> CaseView:
    detail = "case_detail" in fields
    deadline = row["deadline_at"]
    return CaseView(
        id=row["id"], label=case_label(row["id"]), case_type=row["case_type"], kind=row["kind"], state=row["state"],
        state_label=machine.states[row["state"]].label, region_code=row["region_code"], family_id=row["family_id"],
        release_id=row["release_id"], submitted_by=row["submitted_by"], created_at=row["created_at"],
        updated_at=row["updated_at"], state_since=row["state_since"], deadline_at=deadline,
        overdue=deadline is not None and deadline < now, officer=officer_name(conn, row["officer_id"]),
        batch_id=row["batch_id"], in_release=row["in_release"], outcome=row["outcome"], last_reason=row["last_reason"],
        actions=actions,
        reason=row["reason"] if detail else None, proposal=row["proposal"] if detail else None,
        musdes=row["musdes"] if detail else None, visit=row["visit"] if detail else None,
        changes=row["changes"] if detail else None,
        evidence=evidence_of(conn, row["id"]) if "case_evidence" in fields else None,
        history=history_of(conn, row["id"]) if "case_history" in fields else None,
    )


def status_view(row: dict[str, Any], machine: Machine) -> StatusView:
    return StatusView(id=row["id"], label=case_label(row["id"]), case_type=row["case_type"], kind=row["kind"],
                      state_label=machine.states[row["state"]].label, created_at=row["created_at"],
                      updated_at=row["updated_at"], finished=machine.is_terminal(row["state"]),
                      outcome=row["outcome"])


def list_query(filters: Filters, prefixes: Sequence[str] | None, now: dt.datetime) -> sa.Select[Any]:
    c = cases.c
    q = sa.select(cases).where(region_filter(c.region_code, prefixes), c.id > filters.after)
    if filters.region:
        q = q.where(region_filter(c.region_code, [filters.region]))
    if filters.state:
        q = q.where(c.state == filters.state)
    if filters.case_type:
        q = q.where(c.case_type == filters.case_type)
    if filters.family_id is not None:
        q = q.where(c.family_id == filters.family_id)
    if filters.overdue:
        q = q.where(c.deadline_at.is_not(None), c.deadline_at < now)
    if filters.assigned_to is not None:
        q = q.where(c.officer_id == filters.assigned_to)
    if filters.batch_id is not None:
        q = q.where(c.batch_id == filters.batch_id)
    return q.order_by(c.id).limit(filters.limit)


def family_region(family: FamilyRecord | None, given: str | None) -> str | None:
    """The village a case lies in: the release family's, else the one given."""
    if family is not None and family.region_code:
        return family.region_code
    return given
