"""The policy's rule table: read from TOML (the built-in `policy.toml`, or `security.policy_file`)
and checked for consistency at start-up, every problem reported at once with its line.

The table expands to one `Rule` per (role, action, purpose): the fields that combination may see
and how its scope is decided. `dtsen.security.policy` decides from it; the test matrix reads it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dtsen.config_lines import LineIndex
from dtsen.errors import ProblemLog
from dtsen.security.errors import PolicyError

BUILTIN = "policy.toml"

PrincipalKind = Literal["user", "client", "citizen"]
ResourceKind = Literal["record", "region", "list", "none"]
ScopeKind = Literal["assigned", "own_family"]
RegionLevel = Literal["national", "province", "regency", "district", "village"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSpec(_Model):
    label: str
    principal: PrincipalKind
    regions: list[RegionLevel] = Field(min_length=1)


class PurposeSpec(_Model):
    label: str
    fields: list[str]
    aggregate: bool = False


class ActionSpec(_Model):
    label: str
    resource: ResourceKind
    personal: bool


class RuleSpec(_Model):
    roles: list[str] = Field(min_length=1)
    actions: list[str] = Field(min_length=1)
    purposes: list[str] = Field(default_factory=list)
    fields: list[str] | None = None
    scope: ScopeKind = "assigned"


class _File(_Model):
    fields: dict[str, list[str]]
    roles: dict[str, RoleSpec]
    purposes: dict[str, PurposeSpec]
    actions: dict[str, ActionSpec]
    rules: dict[str, RuleSpec]


@dataclass(frozen=True)
class Rule:
    """What one role may do with one action for one purpose (None: actions without personal data)."""

    name: str  # the [rules.NAME] it comes from
    role: str
    action: str
    purpose: str | None
    fields: frozenset[str]
    scope: ScopeKind


@dataclass(frozen=True)
class RuleTable:
    roles: dict[str, RoleSpec]
    purposes: dict[str, PurposeSpec]
    actions: dict[str, ActionSpec]
    field_groups: dict[str, frozenset[str]]
    purpose_fields: dict[str, frozenset[str]]
    rules: dict[tuple[str, str, str | None], Rule]
    label: str

    @property
    def fields(self) -> frozenset[str]:
        return frozenset().union(*self.field_groups.values())

    def rule(self, role: str, action: str, purpose: str | None) -> Rule | None:
        return self.rules.get((role, action, purpose))

    def purposes_of(self, role: str) -> frozenset[str]:
        """Every purpose some rule gives `role`."""
        return frozenset(p for (r, _, p) in self.rules if r == role and p is not None)


def load_rules(path: Path | None = None) -> RuleTable:
    """Read and check a rule table: `path`, or the built-in `dtsen/security/policy.toml`."""
    if path is None:
        text = resources.files("dtsen.security").joinpath(BUILTIN).read_text(encoding="utf-8")
        label = f"dtsen/security/{BUILTIN}"
    else:
        if not path.is_file():
            raise PolicyError(f"policy file {path} not found (security.policy_file)")
        text = path.read_text(encoding="utf-8")
        label = str(path)
    return parse_rules(text, label)


def parse_rules(text: str, label: str) -> RuleTable:
    lines = LineIndex(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{label} is not valid TOML: {exc}") from None
    log = ProblemLog()
    try:
        spec = _File.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            log.add(err["msg"], where=lines.where(label, tuple(str(x) for x in err["loc"])))
        log.raise_if_any(PolicyError, f"{label} has mistakes")
        raise  # pragma: no cover
    table = _build(spec, lines, label, log)
    log.raise_if_any(PolicyError, f"{label} has mistakes")
    return table


def _build(spec: _File, lines: LineIndex, label: str, log: ProblemLog) -> RuleTable:
    def where(*path: str) -> str:
        return lines.where(label, path)

    groups = {name: frozenset(names) for name, names in spec.fields.items()}
    every_field = frozenset().union(*groups.values()) if groups else frozenset()
    for name in groups:
        if name in every_field:
            log.add(f"field group {name!r} has the name of a field", where=where("fields", name))

    def expand(names: list[str], *path: str) -> frozenset[str]:
        out: set[str] = set()
        for n in names:
            if n in groups:
                out |= groups[n]
            elif n in every_field:
                out.add(n)
            else:
                log.add(f"unknown field or field group {n!r}", where=where(*path),
                        hint=f"groups: {', '.join(sorted(groups))}")
        return frozenset(out)

    purpose_fields = {p: expand(s.fields, "purposes", p, "fields") for p, s in spec.purposes.items()}
    rules: dict[tuple[str, str, str | None], Rule] = {}
    used_roles: set[str] = set()
    used_actions: set[str] = set()
    used_purposes: set[str] = set()
    for name, r in spec.rules.items():
        base = ("rules", name)
        for role in r.roles:
            if role not in spec.roles:
                log.add(f"unknown role {role!r}", where=where(*base, "roles"), hint=f"roles: {', '.join(spec.roles)}")
            elif (spec.roles[role].principal == "citizen") != (r.scope == "own_family"):
                log.add(f"role {role!r} with scope {r.scope!r}: citizens, and only citizens, are limited to "
                        "their own family (scope = \"own_family\")", where=where(*base, "scope"))
        for purpose in r.purposes:
            if purpose not in spec.purposes:
                log.add(f"unknown purpose {purpose!r}", where=where(*base, "purposes"),
                        hint=f"purposes: {', '.join(spec.purposes)}")
        fields = expand(r.fields, *base, "fields") if r.fields is not None else None
        for action in r.actions:
            a = spec.actions.get(action)
            if a is None:
                log.add(f"unknown action {action!r}", where=where(*base, "actions"),
                        hint=f"actions: {', '.join(spec.actions)}")
                continue
            if a.personal and not r.purposes:
                log.add(f"action {action!r} touches personal data: the rule must name its purposes",
                        where=where(*base, "purposes"))
            if not a.personal and (r.purposes or r.fields is not None):
                log.add(f"action {action!r} has no personal data: its rule names no purposes or fields",
                        where=where(*base))
            for purpose in r.purposes if a.personal else []:
                p = spec.purposes.get(purpose)
                if p is None:
                    continue
                if p.aggregate != (a.resource == "region"):
                    log.add(f"action {action!r} ({a.resource}) with purpose {purpose!r}: aggregate purposes go "
                            "with region actions, and region actions with aggregate purposes only",
                            where=where(*base, "purposes"))
                allowed = fields if fields is not None else purpose_fields[purpose]
                beyond = allowed - purpose_fields[purpose]
                if beyond:
                    log.add(f"fields {', '.join(sorted(beyond))} are beyond what purpose {purpose!r} may see",
                            where=where(*base, "fields"))
            for role in r.roles:
                purposes_or_none: list[str | None] = list(r.purposes) or [None]
                for stated in purposes_or_none:
                    key = (role, action, stated)
                    if key in rules:
                        log.add(f"({role}, {action}, {stated}) is already given by rule {rules[key].name!r}",
                                where=where(*base))
                        continue
                    pf = frozenset() if stated is None else (
                        fields if fields is not None else purpose_fields.get(stated, frozenset()))
                    rules[key] = Rule(name, role, action, stated, pf, r.scope)
            used_actions.add(action)
        used_roles |= set(r.roles)
        used_purposes |= set(r.purposes)
    for role in spec.roles:
        if role not in used_roles:
            log.add(f"role {role!r} is given no rule", where=where("roles", role))
    for action in spec.actions:
        if action not in used_actions:
            log.add(f"action {action!r} is given to no role", where=where("actions", action))
    for purpose in spec.purposes:
        if purpose not in used_purposes:
            log.add(f"purpose {purpose!r} is used by no rule", where=where("purposes", purpose))
    return RuleTable(dict(spec.roles), dict(spec.purposes), dict(spec.actions), groups, purpose_fields, rules, label)
