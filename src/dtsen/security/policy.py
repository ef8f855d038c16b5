"""The policy: the one place that answers "may this principal do this action on this resource for
this purpose, and which fields may it see". Endpoints ask it and never compare roles themselves.

    policy.decide(principal, "family.read", "ground_check", Resource(region_code="32.04.05.2001"))
        -> Decision(allowed=True, fields=frozenset({...}), ...)
    policy.scope(principal, "changes.read", "ground_check")
        -> Scope: the region prefixes (or the one family) a query must be filtered to, with the
           fields allowed in each; an empty scope is a denial

A principal's grants are tried one by one; a grant allows when the rule table has its (role,
action, purpose), the purpose and programme are within the grant's limits (machine clients), and
the resource lies in the grant's region prefix (or is the citizen's own family). The fields are
the union over the grants that allow this resource. Nothing else is consulted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dtsen.security.errors import AccessDenied
from dtsen.security.principal import Grant, Principal, prefix_level, within
from dtsen.security.rules import Rule, RuleTable, load_rules


@dataclass(frozen=True)
class Resource:
    """What is asked about: a record (its village code and family), an area (`region_code` is the
    area), and for eligibility the programme. Unknown parts stay None."""

    region_code: str | None = None
    family_id: int | None = None
    programme: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    fields: frozenset[str] = frozenset()
    reason: str = ""  # why not; or which rules allowed
    grants: tuple[str, ...] = ()  # labels of the grants that allowed, e.g. ('regency_operator@32.04',)

    def project(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Only the allowed fields of `row`."""
        return {k: v for k, v in row.items() if k in self.fields}

    def require(self) -> Decision:
        if not self.allowed:
            raise AccessDenied(f"akses ditolak / access denied: {self.reason}")
        return self


@dataclass(frozen=True)
class ScopeGrant:
    """One grant's part of a scope: where it reaches and what it may see there."""

    grant: Grant
    rule: Rule
    family_id: int | None  # own_family scope: the citizen's family

    def covers(self, resource: Resource) -> bool:
        g = self.grant
        if resource.programme is not None and g.programmes is not None and resource.programme not in g.programmes:
            return False
        if self.rule.scope == "own_family":
            return self.family_id is not None and resource.family_id == self.family_id
        return within(resource.region_code, g.region_prefix)


@dataclass(frozen=True)
class Scope:
    """Where a principal may do `action` for `purpose`: filter every query and list by it."""

    action: str
    purpose: str | None
    parts: tuple[ScopeGrant, ...] = ()
    reason: str = ""  # why empty

    @property
    def allowed(self) -> bool:
        return bool(self.parts)

    @property
    def national(self) -> bool:
        return any(p.rule.scope == "assigned" and p.grant.region_prefix == "" for p in self.parts)

    @property
    def region_prefixes(self) -> tuple[str, ...] | None:
        """The region prefixes to filter by; None when national (no filter); () when the scope is
        only a family (citizens) or empty."""
        if self.national:
            return None
        return tuple(sorted({p.grant.region_prefix for p in self.parts if p.rule.scope == "assigned"}))

    @property
    def family_ids(self) -> tuple[int, ...]:
        """Families a citizen's scope is limited to."""
        return tuple(sorted({p.family_id for p in self.parts if p.family_id is not None}))

    @property
    def fields(self) -> frozenset[str]:
        """Every field some part allows (use `decide` for the fields of one record)."""
        return frozenset().union(*(p.rule.fields for p in self.parts))

    def decide(self, resource: Resource) -> Decision:
        if not self.parts:
            return Decision(False, reason=self.reason)
        covering = [p for p in self.parts if p.covers(resource)]
        if not covering:
            if all(p.rule.scope == "own_family" for p in self.parts):
                why = "not the caller's own family"
            elif resource.programme is not None and all(
                    p.grant.programmes is not None and resource.programme not in p.grant.programmes
                    for p in self.parts):
                why = f"programme {resource.programme!r} is not granted to this caller"
            else:
                why = "outside the caller's region"
            return Decision(False, reason=why)
        return Decision(True, frozenset().union(*(p.rule.fields for p in covering)),
                        reason=",".join(sorted({p.rule.name for p in covering})),
                        grants=tuple(dict.fromkeys(p.grant.label() for p in covering)))


@dataclass
class Policy:
    """Decisions from one checked rule table."""

    table: RuleTable

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        return cls(load_rules(path))

    def scope(self, principal: Principal, action: str, purpose: str | None) -> Scope:
        spec = self.table.actions.get(action)
        if spec is None:
            return Scope(action, purpose, reason=f"unknown action {action!r}")
        if spec.personal and purpose is None:
            return Scope(action, purpose, reason=f"{action} needs a stated purpose")
        if not spec.personal:
            purpose = None
        elif purpose not in self.table.purposes:
            return Scope(action, purpose, reason=f"unknown purpose {purpose!r}")
        parts: list[ScopeGrant] = []
        refused_purpose = False
        for g in principal.grants:
            rule = self.table.rule(g.role, action, purpose)
            if rule is None:
                continue
            if purpose is not None and g.purposes is not None and purpose not in g.purposes:
                refused_purpose = True
                continue
            if rule.scope == "own_family" and principal.family_id is None:
                continue
            parts.append(ScopeGrant(g, rule, principal.family_id if rule.scope == "own_family" else None))
        if parts:
            return Scope(action, purpose, tuple(parts))
        if refused_purpose:
            reason = f"purpose {purpose!r} is not granted to this caller"
        else:
            reason = f"no role of this caller may do {action}" + (f" for {purpose}" if purpose else "")
        return Scope(action, purpose, reason=reason)

    def decide(self, principal: Principal, action: str, purpose: str | None,
               resource: Resource | None = None) -> Decision:
        """May `principal` do `action` for `purpose` on `resource`, and which fields may it see.
        Record and region actions need the resource; list actions decide on it when given,
        otherwise whether the caller has any scope (then filter with `scope`)."""
        scope = self.scope(principal, action, purpose)
        spec = self.table.actions.get(action)
        if resource is None:
            if spec is not None and spec.resource in ("record", "region") and scope.allowed:
                raise ValueError(f"{action} is decided on a resource; pass Resource(...)")
            if not scope.allowed:
                return Decision(False, reason=scope.reason)
            return Decision(True, scope.fields, reason=",".join(sorted({p.rule.name for p in scope.parts})),
                            grants=tuple(dict.fromkeys(p.grant.label() for p in scope.parts)))
        return scope.decide(resource)

    def purposes_for(self, principal: Principal) -> frozenset[str]:
        """Every purpose this principal may state (for the 'allowed purposes' of a response)."""
        out: set[str] = set()
        for g in principal.grants:
            allowed = self.table.purposes_of(g.role)
            out |= allowed if g.purposes is None else (allowed & g.purposes)
        return frozenset(out)

    def grant_problems(self, kind: str, grants: Iterable[Grant]) -> list[str]:
        """Why these grants cannot be given to a principal of `kind` (empty: they can)."""
        problems: list[str] = []
        for g in grants:
            role = self.table.roles.get(g.role)
            if role is None:
                problems.append(f"unknown role {g.role!r}; roles: {', '.join(self.table.roles)}")
                continue
            if role.principal != kind:
                problems.append(f"role {g.role!r} is for a {role.principal}, not a {kind}")
            try:
                level = prefix_level(g.region_prefix)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if level not in role.regions:
                problems.append(f"role {g.role!r} is given at the {' or '.join(role.regions)} level, "
                                f"not at {level} level ({g.region_prefix or 'national'})")
            if g.purposes is not None:
                unknown = sorted(g.purposes - self.table.purposes_of(g.role))
                if unknown:
                    problems.append(f"purposes {', '.join(unknown)} are not open to role {g.role!r}; "
                                    f"open: {', '.join(sorted(self.table.purposes_of(g.role)))}")
            if role.principal == "client" and not g.purposes:
                problems.append("a machine client must be limited to named purposes (--purpose)")
        return problems
