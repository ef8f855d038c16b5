"""`Workflow`: the library the API endpoints, the dashboard's pages and the CLI call. Every method
that acts for a person takes their `Access` (`dtsen.api.access`: the policy and the audit chain
of one request) and the purpose they state; the policy decides, the state machine says what may
follow, and each change is one transaction that writes the case, its event and its audit entry
(and any notification) together.

    wf = Workflow.open(security)                      # checks the machine against the policy
    wf.create(access, "case_work", CaseDraft(...))    # -> CaseView
    wf.act(access, "case_work", 12, "musdes", {...})  # any transition people take
    wf.cases(access, "case_work", Filters(state="verification"))
    wf.overdue(access, "case_work", level="district")
    wf.add_evidence(access, "case_work", 12, "minutes", "berita-acara.pdf", data)

Approval batches are in `dtsen.workflow.approval`, citizens in `dtsen.workflow.citizens`, the
export and the build's step in `dtsen.workflow.export` and `dtsen.workflow.sync`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from dtsen.config import Settings
from dtsen.errors import Problem
from dtsen.security.audit import AuditEvent
from dtsen.security.context import Security
from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Resource
from dtsen.security.principal import Grant, Principal, within
from dtsen.store.tables import assignments, case_events, case_evidence, cases, users
from dtsen.workflow import cases as case_rows
from dtsen.workflow import notices
from dtsen.workflow.bodies import AssignBody, MusdesBody, parse_body
from dtsen.workflow.cases import CaseDraft, CaseView, EvidenceInfo, Filters, case_label
from dtsen.workflow.changes import VisitAnswers, changes_from_visit, dump_changes
from dtsen.workflow.errors import (
    CaseConflict,
    CaseNotFound,
    InvalidCaseInput,
    RegistryUnavailable,
    TransitionRefused,
)
from dtsen.workflow.evidence import KINDS, EvidenceStore, inspect
from dtsen.workflow.guards import Facts, unmet
from dtsen.workflow.machine import CASE_PURPOSE, Machine, Transition, load_machine
from dtsen.workflow.outbox import seal_address
from dtsen.workflow.overdue import LEVELS, overdue_by_region
from dtsen.workflow.registry import FamilyRecord, Registry, ServingRegistry, current_registry

if TYPE_CHECKING:
    from dtsen.api.access import Access


@dataclass(frozen=True)
class Actor:
    """Who takes a transition, for the event and the audit entry."""

    ref: str  # user:alice, citizen:family:45, system:build
    role: str  # the grants that allowed it, or 'system'
    user_id: int | None = None


AuditFn = Callable[[sa.Connection, Mapping[str, Any]], int]


class Workflow:
    def __init__(self, security: Security, machine: Machine) -> None:
        self.security = security
        self.settings: Settings = security.settings
        self.machine = machine
        self.store = security.store
        self.keys = security.keys
        self.policy = security.policy
        self.clock = security.audit.clock
        ws = self.settings.workflow
        self.evidence = EvidenceStore(self.settings.path(ws.evidence_dir))
        self._serving: Any = None  # dtsen.serve.releases.ServingReleases, opened at the first lookup

    @classmethod
    def open(cls, security: Security) -> Workflow:
        """The workflow of `security`'s project; MachineError when the state machine is
        inconsistent or disagrees with the policy (so the service does not start)."""
        ws = security.settings.workflow
        machine = load_machine(security.settings.path(ws.machine_file) if ws.machine_file else None)
        machine.check_policy(security.policy.table)
        return cls(security, machine)

    # -- the registry ---------------------------------------------------------------------------
    def registry(self) -> Registry:
        """The current release: through its serving index when it has one (point lookups), else
        from its Parquet tables."""
        from dtsen.serve.releases import NoReleaseError, ServingReleases

        if self._serving is None:
            self._serving = ServingReleases.from_settings(self.settings)
        reg = current_registry(self.settings.path(self.settings.release.dir), self.settings)
        try:
            served = ServingRegistry(self._serving)
            if reg is not None and served.release_id == reg.release_id:  # not an older one while indexing
                return served
        except NoReleaseError:
            pass
        if reg is None:
            raise RegistryUnavailable("belum ada rilis / no release is published yet: cases about families need one")
        return reg

    def family(self, family_id: int) -> tuple[Registry, FamilyRecord]:
        reg = self.registry()
        family = reg.family(family_id)
        if family is None:
            raise InvalidCaseInput(f"keluarga {family_id} tidak ada di rilis {reg.release_id} / family {family_id} "
                                   f"is not in release {reg.release_id}")
        return reg, family

    # -- policy helpers -------------------------------------------------------------------------
    def deny(self, access: Access, action: str, purpose: str, records: list[str], region: str, why: str) -> None:
        access.record(action, purpose, records, region_code=region, outcome="denied", detail={"reason": why})
        raise AccessDenied(f"akses ditolak / access denied: {why}")

    def roles_on(self, principal: Principal, action: str, purpose: str, resource: Resource) -> set[str]:
        """The roles of `principal` whose grants allow `action` on `resource` (policy, no audit)."""
        scope = self.policy.scope(principal, action, purpose)
        return {p.grant.role for p in scope.parts if p.covers(resource)}

    def actions_for(self, principal: Principal, purpose: str, row: Mapping[str, Any]) -> list[str]:
        """The actions `principal` may take next on a case (for the pages' buttons)."""
        resource = Resource(region_code=row["region_code"], family_id=row["family_id"])
        out = []
        for action in self.machine.actions(row["state"], row["case_type"]):
            roles = self.roles_on(principal, f"case.{action}", purpose, resource)
            if any(t.roles & roles for t in self.machine.rows(row["state"], action, row["case_type"])):
                out.append(action)
        return out

    @staticmethod
    def records_of(row: Mapping[str, Any]) -> list[str]:
        return [f"case:{row['id']}"] + ([f"family:{row['family_id']}"] if row.get("family_id") is not None else [])

    def _load(self, case_id: int) -> dict[str, Any]:
        with self.store.reading() as conn:
            row = case_rows.load(conn, case_id)
        if row is None:
            raise CaseNotFound(f"kasus {case_label(case_id)} tidak ada / no case {case_label(case_id)}")
        return row

    def _view(self, conn: sa.Connection, access: Access, purpose: str, row: dict[str, Any],
              fields: frozenset[str]) -> CaseView:
        return case_rows.view(conn, row, self.machine, fields, self.clock(),
                              self.actions_for(access.principal, purpose, row))

    # -- create ---------------------------------------------------------------------------------
    def create(self, access: Access, purpose: str, draft: CaseDraft) -> CaseView:
        """File a case (staff). The village is the release family's when the case is about one."""
        problems: list[Problem] = []
        ctype = self.machine.types.get(draft.case_type)
        if ctype is None or draft.kind not in ctype.kinds:
            kinds = ", ".join(ctype.kinds) if ctype else ""
            problems.append(Problem(f"kind {draft.kind!r} is not one of {kinds}", where="kind"))
        family: FamilyRecord | None = None
        release_id = None
        if draft.family_id is not None:
            reg, family = self.family(draft.family_id)
            release_id = reg.release_id
        elif draft.case_type != "usul" or draft.kind != "missing_family":
            problems.append(Problem("a case names the family it is about (family_id), except an usul for a "
                                    "missing family", where="family_id"))
        region = case_rows.family_region(family, draft.region_code)
        if region is None:
            problems.append(Problem("the village of a family not in the registry is needed", where="region_code"))
        if problems:
            raise InvalidCaseInput("kasus tidak dapat diajukan / the case cannot be filed", problems)
        assert region is not None
        access.require("case.create", purpose, Resource(region_code=region, family_id=draft.family_id),
                       records=[f"family:{draft.family_id}"] if draft.family_id else [])
        row = self.insert_case(
            access, "case.create", purpose, case_type=draft.case_type, kind=draft.kind, region=region,
            family_id=draft.family_id, release_id=release_id, reason=draft.reason,
            proposal=draft.proposal.model_dump(mode="json", exclude_defaults=True), contact=draft.contact)
        fields = access.require("case.read", purpose, Resource(region_code=region, family_id=draft.family_id)).fields
        with self.store.reading() as conn:
            return self._view(conn, access, purpose, row, fields)

    def insert_case(self, access: Access | None, action: str, purpose: str, *, case_type: str, kind: str, region: str,
                    family_id: int | None, release_id: str | None, reason: str, proposal: dict[str, Any],
                    contact: Any = None, submitter_family_id: int | None = None, dedupe_key: str | None = None,
                    actor: Actor | None = None, conn: sa.Connection | None = None) -> dict[str, Any]:
        """Insert one case in the machine's initial state with its event and audit entry (in `conn`
        when given, else in a transaction of its own)."""
        now = self.clock()
        sealed = seal_address(self.keys, contact.channel, contact.address) if contact is not None else None
        submitted_by = actor.ref if actor is not None else access.principal.ref if access is not None else "system"
        values = dict(case_type=case_type, kind=kind, state=self.machine.initial, region_code=region,
                      family_id=family_id, release_id=release_id, dedupe_key=dedupe_key, submitted_by=submitted_by,
                      submitter_family_id=submitter_family_id, contact=sealed, reason=reason, proposal=proposal,
                      created_at=now, updated_at=now, state_since=now,
                      deadline_at=self.machine.deadline(self.machine.initial, now), version=1)

        def write(c: sa.Connection) -> dict[str, Any]:
            case_id = case_rows.new_id(c.execute(sa.insert(cases).values(**values)))
            row = {**values, "id": case_id, "officer_id": None, "musdes": None, "visit": None, "changes": None,
                   "batch_id": None, "in_release": None, "outcome": None, "last_reason": None}
            event = case_rows.new_id(c.execute(sa.insert(case_events).values(
                case_id=case_id, at=now, actor=submitted_by[:100],
                role=(actor.role if actor else access.principal.roles_label() if access else "system")[:200],
                action="create", from_state=None, to_state=self.machine.initial)))
            detail = {"case": case_id, "case_type": case_type, "kind": kind, "to": self.machine.initial}
            if access is not None:
                seq = access.record(action, purpose, self.records_of(row), region_code=region, detail=detail, conn=c)
            else:
                seq = self.security.audit.append(c, AuditEvent(
                    actor=submitted_by, action=action, role=actor.role if actor else "system", purpose=purpose,
                    records=tuple(self.records_of(row)), region_code=region, detail=detail))[0]
            c.execute(sa.update(case_events).where(case_events.c.id == event).values(audit_seq=seq))
            notices.state_changed(c, self.keys, self.machine, row, int(event), now)
            return row

        if conn is not None:
            return write(conn)
        with self.store.writing() as c:
            return write(c)

    # -- read -----------------------------------------------------------------------------------
    def get(self, access: Access, purpose: str, case_id: int) -> CaseView:
        row = self._load(case_id)
        decision = access.require("case.read", purpose, Resource(region_code=row["region_code"],
                                                                 family_id=row["family_id"]),
                                  records=self.records_of(row))
        with self.store.reading() as conn:
            out = self._view(conn, access, purpose, row, decision.fields)
        access.record("case.read", purpose, self.records_of(row), decision=decision, region_code=row["region_code"])
        return out

    def cases(self, access: Access, purpose: str, filters: Filters) -> list[CaseView]:
        """Cases within the caller's region scope, filtered; the page's ids are audited."""
        scope = access.scope("case.list", purpose)
        read_scope = self.policy.scope(access.principal, "case.read", purpose)
        now = self.clock()
        with self.store.reading() as conn:
            rows = [dict(r) for r in conn.execute(case_rows.list_query(filters, scope.region_prefixes, now)).mappings()]
            out = []
            for row in rows:
                d = read_scope.decide(Resource(region_code=row["region_code"], family_id=row["family_id"]))
                out.append(self._view(conn, access, purpose, row, d.fields if d.allowed else frozenset({"case"})))
        access.record("case.list", purpose, [f"case:{r['id']}" for r in rows],
                      detail={"returned": len(rows), "filters": filters.model_dump(exclude_defaults=True)})
        return out

    def overdue(self, access: Access, purpose: str, level: str = "district") -> list[dict[str, Any]]:
        """Per region at `level` (province, regency, district or village) within the caller's
        scope: the overdue cases' count, per state, and the oldest deadline."""
        if level not in LEVELS:
            raise InvalidCaseInput("level must be province, regency, district or village")
        scope = access.scope("case.overdue", purpose)
        with self.store.reading() as conn:
            out = overdue_by_region(conn, scope.region_prefixes, level, self.clock())
        access.record("case.overdue", purpose, [], detail={"level": level, "regions": len(out)})
        return out

    # -- transitions ----------------------------------------------------------------------------
    def act(self, access: Access, purpose: str, case_id: int, action: str, body: Mapping[str, Any]) -> CaseView:
        """Take `action` on a case: the policy (region and role), the machine (state, type,
        role) and the transition's guards decide; one transaction writes it all."""
        payload = parse_body(action, body)
        row = self._load(case_id)
        resource = Resource(region_code=row["region_code"], family_id=row["family_id"])
        records = self.records_of(row)
        policy_action = f"case.{action}"
        scope = access.scope(policy_action, purpose)
        covering = [p for p in scope.parts if p.covers(resource)]
        if not covering:
            self.deny(access, policy_action, purpose, records, row["region_code"], "outside the caller's region")
        roles = {p.grant.role for p in covering}
        rows = self.machine.rows(row["state"], action, row["case_type"])
        if not rows:
            access.record(policy_action, purpose, records, region_code=row["region_code"], outcome="failed",
                          detail={"reason": "not open in this state", "state": row["state"]})
            raise TransitionRefused(
                f"kasus {case_label(case_id)} berstatus {self.machine.states[row['state']].label}: tindakan {action!r} "
                f"tidak tersedia / not open to a {row['case_type']} case in state {row['state']}; open: "
                f"{', '.join(self.machine.actions(row['state'], row['case_type'])) or 'none'}")
        transition = next((t for t in rows if t.roles & roles), None)
        if transition is None:
            self.deny(access, policy_action, purpose, records, row["region_code"],
                       f"role {', '.join(sorted(roles))} may not {action} a case in state {row['state']}")
        assert transition is not None
        labels = ",".join(dict.fromkeys(p.grant.label() for p in covering if p.grant.role in transition.roles))
        actor = Actor(access.principal.ref, labels, access.principal.id if access.principal.kind == "user" else None)
        facts, updates = self._prepare(row, transition, payload, actor)
        problems = unmet(transition.requires, facts)
        if problems:
            access.record(policy_action, purpose, records, region_code=row["region_code"], outcome="failed",
                          detail={"reason": "requirements not met"})
            raise InvalidCaseInput(f"{action} belum dapat dilakukan / {action} cannot be taken yet",
                                   [Problem(p) for p in problems])
        reason = getattr(payload, "reason", None)

        def audit(conn: sa.Connection, detail: Mapping[str, Any]) -> int:
            return access.record(policy_action, purpose, records, region_code=row["region_code"], detail=detail,
                                 conn=conn)

        with self.store.writing() as conn:
            self.commit(conn, row, transition, actor, updates, reason, audit)
            fresh = case_rows.load(conn, case_id)
        assert fresh is not None
        fields = self.policy.scope(access.principal, "case.read", purpose).decide(resource).fields or frozenset({"case"})
        with self.store.reading() as conn:
            return self._view(conn, access, purpose, fresh, fields)

    def _prepare(self, row: dict[str, Any], transition: Transition, payload: BaseModel,
                 actor: Actor) -> tuple[Facts, dict[str, Any]]:
        """The facts the guards check, and the columns the transition writes."""
        updates: dict[str, Any] = {}
        facts: dict[str, Any] = {"case": row, "actor_user_id": actor.user_id, "reason": getattr(payload, "reason", None)}
        if isinstance(payload, MusdesBody):
            with self.store.reading() as conn:
                ids = conn.execute(sa.select(case_evidence.c.id).where(
                    case_evidence.c.case_id == row["id"], case_evidence.c.kind == "minutes")).scalars().all()
            record = payload.model_dump(mode="json")
            facts.update(musdes=record, minutes_ids=frozenset(int(i) for i in ids))
            updates["musdes"] = record
        elif isinstance(payload, AssignBody):
            officer_id, may_visit = self._officer(payload.officer, row)
            facts.update(officer_id=officer_id, officer_may_visit=may_visit)
            updates["officer_id"] = officer_id
        elif isinstance(payload, VisitAnswers):
            family = None
            if row["family_id"] is not None:
                _, family = self.family(int(row["family_id"]))
            changes = dump_changes(changes_from_visit(payload, family))
            visit = payload.model_dump(mode="json")
            facts.update(visit=visit, changes=changes)
            updates.update(visit=visit, changes=changes)
        if transition.target == "rejected" or self.machine.is_terminal(transition.target):
            updates.setdefault("outcome", self.outcome_text(row, transition.target, getattr(payload, "reason", None)))
        return Facts(**facts), updates

    def _officer(self, username: str, row: Mapping[str, Any]) -> tuple[int | None, bool]:
        """The officer's user id, and whether the policy lets them visit this case."""
        from dtsen.security.accounts import grants_of

        with self.store.reading() as conn:
            user = conn.execute(sa.select(users.c.id, users.c.status).where(users.c.username == username)).first()
            if user is None or user.status != "active":
                return None, False
            grants = grants_of(conn, user_id=user.id)
        officer = Principal("user", int(user.id), username, grants)
        resource = Resource(region_code=row["region_code"], family_id=row["family_id"])
        roles = self.roles_on(officer, "case.visit", CASE_PURPOSE, resource)
        ok = any(t.roles & roles for t in self.machine.rows(row["state"], "visit", row["case_type"]))
        return int(user.id), ok

    def outcome_text(self, row: Mapping[str, Any], target: str, reason: str | None) -> str:
        """What the submitter is told when the case ends: the reason only when the case is about
        their own family (a sanggah about another family learns nothing of it)."""
        from dtsen.privacy import mask_identifiers

        own = row.get("submitter_family_id") is None or row.get("submitter_family_id") == row.get("family_id")
        if target == "rejected":
            if own and reason:
                return f"Ditolak / rejected: {mask_identifiers(reason.strip())}"
            return "Tidak dapat ditindaklanjuti / could not be acted on"
        return f"Selesai / finished ({self.machine.states[target].label})"

    def commit(self, conn: sa.Connection, row: Mapping[str, Any], transition: Transition, actor: Actor,
               updates: Mapping[str, Any], reason: str | None, audit: AuditFn) -> int:
        """Write one transition in `conn`: the case (checked unchanged since `row` was read), its
        event, its audit entry and the notifications. The event's id."""
        now = self.clock()
        locked = case_rows.load(conn, int(row["id"]), for_update=True)
        if locked is None or locked["version"] != row["version"] or locked["state"] != transition.source:
            raise CaseConflict(f"kasus {case_label(int(row['id']))} berubah sementara itu / the case changed "
                               "meanwhile; read it again")
        values = dict(updates)
        values.update(state=transition.target, updated_at=now, version=int(row["version"]) + 1)
        if transition.target != transition.source:
            values.update(state_since=now, deadline_at=self.machine.deadline(transition.target, now))
        if reason:
            values["last_reason"] = reason.strip()
        if locked["batch_id"] is not None and transition.target not in ("approval", "approved", "released"):
            self._leave_batch(conn, int(locked["batch_id"]))
            values["batch_id"] = None
        done = conn.execute(sa.update(cases).where(cases.c.id == row["id"], cases.c.version == row["version"])
                            .values(**values)).rowcount
        if done != 1:
            raise CaseConflict("the case changed meanwhile; read it again")
        event_id = case_rows.new_id(conn.execute(sa.insert(case_events).values(
            case_id=row["id"], at=now, actor=actor.ref[:100], role=actor.role[:200], action=transition.action,
            from_state=transition.source, to_state=transition.target,
            reason=reason.strip() if reason else None)))
        detail = {"case": int(row["id"]), "transition": transition.name, "from": transition.source,
                  "to": transition.target}
        seq = audit(conn, detail)
        conn.execute(sa.update(case_events).where(case_events.c.id == event_id).values(audit_seq=seq))
        fresh = {**locked, **values}
        if transition.target != transition.source:
            notices.state_changed(conn, self.keys, self.machine, fresh, event_id, now)
        if transition.action == "assign":
            notices.assigned(conn, self.keys, fresh, event_id, now)
        return event_id

    @staticmethod
    def _leave_batch(conn: sa.Connection, batch_id: int) -> None:
        """A case leaves its batch (returned, rejected or refused): a draft batch is void, and its
        other cases are free to be composed again; a signed batch stays as it was signed."""
        from dtsen.store.tables import approval_batches

        status = conn.execute(sa.select(approval_batches.c.status).where(approval_batches.c.id == batch_id)).scalar()
        if status == "draft":
            conn.execute(sa.update(approval_batches).where(approval_batches.c.id == batch_id).values(status="void"))
            conn.execute(sa.update(cases).where(cases.c.batch_id == batch_id).values(batch_id=None))

    def system_act(self, conn: sa.Connection, row: Mapping[str, Any], action: str, actor: str,
                   updates: Mapping[str, Any] | None = None, reason: str | None = None) -> int:
        """A transition dtsen itself takes (`system = true` rows: the build, an ODK import), in
        `conn`, audited under `actor` (e.g. 'system:build')."""
        transition = next((t for t in self.machine.rows(str(row["state"]), action, str(row["case_type"]))
                           if t.system), None)
        if transition is None:
            raise TransitionRefused(f"no system transition {action!r} from state {row['state']}")
        facts = Facts(case=dict(row), reason=reason, visit=(updates or {}).get("visit"))
        problems = unmet(transition.requires, facts)
        if problems:
            raise InvalidCaseInput(f"{action} cannot be taken", [Problem(p) for p in problems])
        values = dict(updates or {})
        if self.machine.is_terminal(transition.target):
            values.setdefault("outcome", self.outcome_text(row, transition.target, reason))

        def audit(c: sa.Connection, detail: Mapping[str, Any]) -> int:
            return self.security.audit.append(c, AuditEvent(
                actor=actor, action=f"case.{action}", role="system", purpose=CASE_PURPOSE,
                records=tuple(self.records_of(row)), region_code=str(row["region_code"]), detail=dict(detail)))[0]

        return self.commit(conn, row, transition, Actor(actor, "system"), values, reason, audit)

    # -- evidence -------------------------------------------------------------------------------
    def add_evidence(self, access: Access, purpose: str, case_id: int, kind: str, filename: str, data: bytes,
                     *, action: str = "case.evidence_add", resource: Resource | None = None) -> EvidenceInfo:
        """Check an uploaded file by its content and keep it with the case (see dtsen.workflow.evidence)."""
        if kind not in KINDS:
            raise InvalidCaseInput(f"kind must be one of {', '.join(KINDS)}")
        row = self._load(case_id)
        records = self.records_of(row)
        access.require(action, purpose, resource or Resource(region_code=row["region_code"], family_id=row["family_id"]),
                       records=records)
        if self.machine.is_terminal(row["state"]):
            raise TransitionRefused(f"kasus {case_label(case_id)} sudah selesai / the case is closed")
        try:
            found = inspect(filename, data, self.settings.workflow.max_evidence_bytes)
        except Exception:
            access.record(action, purpose, records, region_code=row["region_code"], outcome="failed",
                          detail={"reason": "file refused"})
            raise
        self.evidence.put(data, found.sha256)
        now = self.clock()
        with self.store.writing() as conn:
            eid = case_rows.new_id(conn.execute(sa.insert(case_evidence).values(
                case_id=case_id, kind=kind, media_type=found.media_type, size=found.size, sha256=found.sha256,
                uploaded_by=access.principal.ref[:100], uploaded_at=now)))
            access.record(action, purpose, [*records, f"evidence:{eid}"], region_code=row["region_code"],
                          detail={"evidence": eid, "kind": kind, "media_type": found.media_type, "size": found.size},
                          conn=conn)
        return EvidenceInfo(id=eid, kind=kind, media_type=found.media_type, size=found.size, sha256=found.sha256,
                            uploaded_by=access.principal.ref, uploaded_at=now)

    def evidence_file(self, access: Access, purpose: str, case_id: int, evidence_id: int) -> tuple[EvidenceInfo, bytes]:
        """An evidence file and its description, for a download (never shown inline)."""
        row = self._load(case_id)
        records = [*self.records_of(row), f"evidence:{evidence_id}"]
        decision = access.require("case.evidence_read", purpose,
                                  Resource(region_code=row["region_code"], family_id=row["family_id"]), records=records)
        with self.store.reading() as conn:
            ev = conn.execute(sa.select(case_evidence).where(case_evidence.c.id == evidence_id,
                                                             case_evidence.c.case_id == case_id)).mappings().first()
        if ev is None:
            raise CaseNotFound(f"bukti {evidence_id} tidak ada pada kasus ini / no such evidence on this case")
        data = self.evidence.get(str(ev["sha256"]))
        access.record("case.evidence_read", purpose, records, decision=decision, region_code=row["region_code"])
        info = EvidenceInfo(**{k: ev[k] for k in EvidenceInfo.model_fields})
        return info, data

    # -- ground-check visits from a release's candidates ---------------------------------------
    def from_candidates(self, access: Access, purpose: str, region: str) -> list[int]:
        """One visit case per ground-check candidate of the current release in `region` (within
        the caller's scope); a candidate that already has its case is skipped. The new ids."""
        reg = self.registry()
        scope = access.scope("case.create", purpose)
        made: list[int] = []
        candidates = [c for c in reg.candidates(region)
                      if scope.decide(Resource(region_code=c.region_code, family_id=c.family_id)).allowed]
        if not candidates:
            access.record("case.create", purpose, [], region_code=region, detail={"candidates": 0})
            return made
        with self.store.writing() as conn:
            for c in candidates:
                key = f"visit:{reg.release_id}:{c.family_id}"
                if conn.execute(sa.select(cases.c.id).where(cases.c.dedupe_key == key)).first() is not None:
                    continue
                row = self.insert_case(
                    access, "case.create", purpose, case_type="visit", kind="candidate", region=c.region_code,
                    family_id=c.family_id, release_id=reg.release_id, dedupe_key=key,
                    reason=f"Calon cek lapangan rilis {reg.release_id} (prioritas {c.priority})", proposal={},
                    conn=conn)
                made.append(int(row["id"]))
        return made

    # -- officers -------------------------------------------------------------------------------
    def officers(self, region: str) -> list[dict[str, Any]]:
        """Active accounts the policy lets visit cases in `region` (for an assignment list)."""
        a = assignments.c
        with self.store.reading() as conn:
            rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.full_name, a.role, a.region_prefix)
                                .join(users, users.c.id == a.user_id)
                                .where(a.revoked_at.is_(None), users.c.status == "active")).all()
        out: dict[int, dict[str, Any]] = {}
        for r in rows:
            principal = Principal("user", int(r.id), r.username, (Grant(r.role, r.region_prefix),))
            if self.roles_on(principal, "case.visit", CASE_PURPOSE, Resource(region_code=region)) and \
                    within(region, r.region_prefix):
                out.setdefault(int(r.id), {"username": r.username, "full_name": r.full_name, "roles": []})
                out[int(r.id)]["roles"].append(r.role)
        return list(out.values())
