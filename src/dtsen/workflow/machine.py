"""The state machine of cases, declared as data (`machine.toml`) and checked at start-up.

    machine = load_machine()                       # or load_machine(Path("alur.toml"))
    machine.check_policy(policy.table)             # the roles agree with the policy's rules
    machine.rows("verification", "visit", "usul")  # the transitions (state, action, type) allows

A transition is one row `(from, action, roles) -> to`, limited to case types and guarded by named
requirements (`dtsen.workflow.guards`). Rows with `system = true` are taken only by dtsen itself
(the build marks approved cases released). Every problem of the file is reported at once, with its
line: unknown states, types, kinds, roles or guards; states that no case type can reach from
`initial`; non-terminal states from which a case type cannot reach a terminal state (dead ends);
terminal states with a way out; a transition that names no roles and is not a system one.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dtsen.config_lines import LineIndex
from dtsen.errors import ProblemLog
from dtsen.security.rules import RuleTable
from dtsen.workflow.errors import MachineError

BUILTIN = "machine.toml"
CASE_PURPOSE = "case_work"  # the purpose staff state for case work (policy.toml)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _StateSpec(_Model):
    label: str
    deadline_days: int | None = Field(None, ge=1)
    terminal: bool = False


class _TypeSpec(_Model):
    label: str
    kinds: list[str] = Field(min_length=1)


class _TransitionSpec(_Model):
    from_: str = Field(alias="from")
    action: str = Field(pattern=r"^[a-z_]+$")
    to: str
    roles: list[str] = Field(default_factory=list)
    system: bool = False
    types: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)


class _File(_Model):
    initial: str
    states: dict[str, _StateSpec]
    types: dict[str, _TypeSpec]
    transitions: dict[str, _TransitionSpec]


@dataclass(frozen=True)
class State:
    name: str
    label: str
    deadline_days: int | None
    terminal: bool


@dataclass(frozen=True)
class CaseType:
    name: str
    label: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Transition:
    """One row of the table: from `source`, `action` by one of `roles` (or by dtsen itself when
    `system`) leads to `target`, for cases of `types`, when every guard of `requires` holds."""

    name: str
    source: str
    action: str
    target: str
    roles: frozenset[str]
    system: bool
    types: frozenset[str]
    requires: tuple[str, ...]

    def applies_to(self, case_type: str) -> bool:
        return case_type in self.types


@dataclass(frozen=True)
class Machine:
    initial: str
    states: dict[str, State]
    types: dict[str, CaseType]
    transitions: tuple[Transition, ...]
    label: str

    def rows(self, state: str, action: str, case_type: str) -> list[Transition]:
        """The transitions from `state` by `action` open to cases of `case_type`."""
        return [t for t in self.transitions
                if t.source == state and t.action == action and t.applies_to(case_type)]

    def actions(self, state: str, case_type: str) -> list[str]:
        """The actions people (not dtsen itself) may take on a case in `state`, in table order."""
        return list(dict.fromkeys(t.action for t in self.transitions
                                  if t.source == state and t.applies_to(case_type) and not t.system))

    def roles_of(self, action: str) -> frozenset[str]:
        """Every role some row gives `action`."""
        return frozenset().union(*(t.roles for t in self.transitions if t.action == action))

    @property
    def person_actions(self) -> tuple[str, ...]:
        """The actions people take (each is the policy action `case.<action>`)."""
        return tuple(dict.fromkeys(t.action for t in self.transitions if not t.system))

    def deadline(self, state: str, since: dt.datetime) -> dt.datetime | None:
        days = self.states[state].deadline_days
        return None if days is None else since + dt.timedelta(days=days)

    def is_terminal(self, state: str) -> bool:
        return self.states[state].terminal

    def check_policy(self, table: RuleTable) -> None:
        """MachineError unless, for every action people take, the roles of its rows are exactly
        the roles the policy gives `case.<action>` for the case-work purpose: a role the policy
        allows but no row names could never act, a role a row names but the policy refuses could
        never pass the policy."""
        log = ProblemLog()
        for action in self.person_actions:
            policy_action = f"case.{action}"
            if policy_action not in table.actions:
                log.add(f"action {action!r} has no policy action {policy_action!r} in {table.label}")
                continue
            granted = frozenset(role for (role, act, purpose) in table.rules
                                if act == policy_action and purpose == CASE_PURPOSE)
            named = self.roles_of(action)
            if named - granted:
                log.add(f"action {action!r}: the machine names roles {', '.join(sorted(named - granted))} "
                        f"that {table.label} does not give {policy_action} for {CASE_PURPOSE}")
            if granted - named:
                log.add(f"action {action!r}: {table.label} gives {policy_action} to "
                        f"{', '.join(sorted(granted - named))}, which no transition of the machine names")
        for t in self.transitions:
            unknown = sorted(r for r in t.roles if r not in table.roles)
            if unknown:
                log.add(f"transition {t.name!r} names roles unknown to {table.label}: {', '.join(unknown)}")
        log.raise_if_any(MachineError, f"{self.label} does not agree with the policy")


def load_machine(path: Path | None = None, guards: Iterable[str] | None = None) -> Machine:
    """Read and check a machine: `path`, or the built-in `dtsen/workflow/machine.toml`. `guards`
    are the guard names the code knows (default: `dtsen.workflow.guards.GUARDS`)."""
    if path is None:
        text = resources.files("dtsen.workflow").joinpath(BUILTIN).read_text(encoding="utf-8")
        label = f"dtsen/workflow/{BUILTIN}"
    else:
        if not path.is_file():
            raise MachineError(f"state machine file {path} not found (workflow.machine_file)")
        text = path.read_text(encoding="utf-8")
        label = str(path)
    if guards is None:
        from dtsen.workflow.guards import GUARDS

        guards = GUARDS
    return parse_machine(text, label, frozenset(guards))


def parse_machine(text: str, label: str, guards: frozenset[str]) -> Machine:
    lines = LineIndex(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MachineError(f"{label} is not valid TOML: {exc}") from None
    log = ProblemLog()
    try:
        spec = _File.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple("from" if str(x) == "from_" else str(x) for x in err["loc"])
            log.add(err["msg"], where=lines.where(label, loc))
        log.raise_if_any(MachineError, f"{label} has mistakes")
        raise  # pragma: no cover

    def where(*path: str) -> str:
        return lines.where(label, path)

    states = {n: State(n, s.label, s.deadline_days, s.terminal) for n, s in spec.states.items()}
    types = {n: CaseType(n, t.label, tuple(t.kinds)) for n, t in spec.types.items()}
    if spec.initial not in states:
        log.add(f"initial state {spec.initial!r} is not a state", where=where("initial"))
    for name, s in states.items():
        if s.terminal and s.deadline_days is not None:
            log.add("a terminal state has no deadline", where=where("states", name, "deadline_days"))
        if not s.terminal and s.deadline_days is None:
            log.add("a state a case waits in needs deadline_days", where=where("states", name))
    transitions: list[Transition] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for name, t in spec.transitions.items():
        base = ("transitions", name)
        for end, state in (("from", t.from_), ("to", t.to)):
            if state not in states:
                log.add(f"unknown state {state!r}", where=where(*base, end), hint=f"states: {', '.join(states)}")
        for type_ in t.types:
            if type_ not in types:
                log.add(f"unknown case type {type_!r}", where=where(*base, "types"),
                        hint=f"types: {', '.join(types)}")
        for guard in t.requires:
            if guard not in guards:
                log.add(f"unknown guard {guard!r}", where=where(*base, "requires"),
                        hint=f"guards: {', '.join(sorted(guards))}")
        if t.system and t.roles:
            log.add("a system transition names no roles", where=where(*base, "roles"))
        if not t.system and not t.roles:
            log.add("a transition names the roles that may take it (or is system = true)", where=where(*base))
        if t.from_ in states and states[t.from_].terminal:
            log.add(f"state {t.from_!r} is terminal: no transition leaves it", where=where(*base, "from"))
        applies = frozenset(t.types) if t.types else frozenset(types)
        for type_ in applies:
            for role in (t.roles or ["(system)"]):
                key = (t.from_, t.action, type_, role)
                if key in seen:
                    log.add(f"({t.from_}, {t.action}, {role}) for type {type_} is already given by "
                            f"transition {seen[key]!r}", where=where(*base))
                seen.setdefault(key, name)
        transitions.append(Transition(name, t.from_, t.action, t.to, frozenset(t.roles), t.system, applies,
                                      tuple(t.requires)))
    log.raise_if_any(MachineError, f"{label} has mistakes")
    machine = Machine(spec.initial, states, types, tuple(transitions), label)
    _check_graph(machine, lines, label, log)
    log.raise_if_any(MachineError, f"{label} has mistakes")
    return machine


def _check_graph(machine: Machine, lines: LineIndex, label: str, log: ProblemLog) -> None:
    """Unreachable states and dead ends, per case type."""
    reached_by_any: set[str] = set()
    for type_ in machine.types:
        edges: dict[str, set[str]] = {}
        for t in machine.transitions:
            if t.applies_to(type_):
                edges.setdefault(t.source, set()).add(t.target)
        reached = {machine.initial}
        frontier = [machine.initial]
        while frontier:
            for nxt in edges.get(frontier.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    frontier.append(nxt)
        reached_by_any |= reached
        terminal = {s for s in reached if machine.states[s].terminal}
        if not terminal:
            log.add(f"cases of type {type_!r} can never end: no terminal state is reachable",
                    where=lines.where(label, ("types", type_)))
        for state in sorted(reached - terminal):
            seen = {state}
            frontier = [state]
            ends = False
            while frontier and not ends:
                for nxt in edges.get(frontier.pop(), ()):
                    if machine.states[nxt].terminal:
                        ends = True
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
            if not ends:
                log.add(f"state {state!r} is a dead end for cases of type {type_!r}: no terminal state can be "
                        "reached from it", where=lines.where(label, ("states", state)))
    for state in machine.states:
        if state not in reached_by_any:
            log.add(f"state {state!r} is unreachable from {machine.initial!r} for every case type",
                    where=lines.where(label, ("states", state)))
