"""`Access`: the policy and the audit chain for one request. Data endpoints use only this:

    def family(family_id: int, purpose: PurposeParam, access: AccessDep) -> dict:
        row = index.family(family_id)                       # what the record is (its region)
        decision = access.require("family.read", purpose, Resource(row.region_code, row.family_id),
                                  records=[f"family:{family_id}"])  # 403 + audited denial if not
        access.record("family.read", purpose, [f"family:{family_id}"], decision=decision,
                      region_code=row.region_code)          # the audit entry of the read
        return decision.project(row)                        # only the allowed fields

`require` decides one resource, `scope` gives the region prefixes (or family) a list or query must
be filtered to, `record` appends the audit entry (through the group-committing `AuditWriter`, and
returns once it is committed; or in the caller's write transaction with `conn=`, for changes). Every denial is audited. A request that was allowed personal data
but recorded nothing gets an entry anyway when it ends (with `detail.records = "not stated"`), so
that no read of personal data goes unaccounted for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dtsen.security.audit import AuditEvent
from dtsen.security.context import Security
from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Decision, Resource, Scope
from dtsen.security.principal import Principal


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request."""

    principal: Principal
    source: str  # the client's address
    request_id: str


class Access:
    def __init__(self, security: Security, caller: Caller) -> None:
        self.security = security
        self.caller = caller
        self._pending: dict[tuple[str, str | None], Decision] = {}  # personal decisions not yet recorded

    @property
    def principal(self) -> Principal:
        return self.caller.principal

    def purposes(self) -> frozenset[str]:
        """The purposes this caller may state."""
        return self.security.policy.purposes_for(self.principal)

    def _personal(self, action: str) -> bool:
        spec = self.security.policy.table.actions.get(action)
        return spec is not None and spec.personal

    def require(self, action: str, purpose: str | None = None, resource: Resource | None = None, *,
                records: Sequence[str] = ()) -> Decision:
        """The decision for `resource`; AccessDenied (403), audited, when it is not allowed."""
        decision = self.security.policy.decide(self.principal, action, purpose, resource)
        if not decision.allowed:
            self._deny(action, purpose, decision.reason, records, resource)
        if self._personal(action):
            self._pending[(action, purpose)] = decision
        return decision

    def scope(self, action: str, purpose: str | None = None) -> Scope:
        """Where the caller may do `action` for `purpose`; AccessDenied (403), audited, when nowhere."""
        scope = self.security.policy.scope(self.principal, action, purpose)
        if not scope.allowed:
            self._deny(action, purpose, scope.reason, (), None)
        if self._personal(action):
            self._pending[(action, purpose)] = Decision(True, scope.fields, grants=tuple(
                dict.fromkeys(p.grant.label() for p in scope.parts)))
        return scope

    def record(self, action: str, purpose: str | None, records: Sequence[str], *, decision: Decision | None = None,
               region_code: str | None = None, outcome: str = "ok", detail: Mapping[str, Any] | None = None,
               conn: sa.Connection | None = None) -> int:
        """Append the audit entry of what this request did; its entry number."""
        decision = decision or self._pending.get((action, purpose))
        self._pending.pop((action, purpose), None)
        event = self._event(action, purpose, records, outcome, region_code, detail or {}, decision)
        seqs = self.security.audit.append(conn, event) if conn is not None else self.security.writer.record(event)
        return seqs[0]

    def keyed(self, kind: str, value: str) -> str:
        """A keyed reference for an identifier the request was about (`nik#...`), for `records`."""
        return self.security.audit.keyed(kind, value)

    @contextmanager
    def request(self) -> Iterator[Access]:
        """The request's span: `finish` at its end, as failed when it raised."""
        try:
            yield self
        except Exception:
            self.finish(failed=True)
            raise
        self.finish()

    def finish(self, failed: bool = False) -> None:
        """At the end of the request: audit personal-data decisions that recorded nothing."""
        pending, self._pending = self._pending, {}
        for (action, purpose), decision in pending.items():
            self.security.writer.record(self._event(
                action, purpose, (), "failed" if failed else "ok", None, {"records": "not stated"}, decision))

    def _deny(self, action: str, purpose: str | None, reason: str, records: Sequence[str],
              resource: Resource | None) -> None:
        self.security.writer.record(self._event(
            action, purpose, records, "denied", resource.region_code if resource else None, {"reason": reason}, None))
        raise AccessDenied(f"akses ditolak / access denied: {reason}")

    def _event(self, action: str, purpose: str | None, records: Sequence[str], outcome: str, region_code: str | None,
               detail: Mapping[str, Any], decision: Decision | None) -> AuditEvent:
        role = ",".join(decision.grants) if decision is not None and decision.grants else self.principal.roles_label()
        return AuditEvent(actor=self.principal.ref, action=action, outcome=outcome, role=role, purpose=purpose or "",
                          records=tuple(dict.fromkeys(records)), region_code=region_code or "",
                          source=self.caller.source, request_id=self.caller.request_id, detail=dict(detail))
