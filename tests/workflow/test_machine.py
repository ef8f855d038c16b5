"""The state machine: its table of (state, action, role) -> next state, written out here by hand
and checked against the code on both stores, every allowed and every refused transition per role;
each transition one transaction with its event and audit entry; a broken machine file refused
at start-up with every problem and its line."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Policy
from dtsen.security.principal import Grant, Principal
from dtsen.store.tables import case_events, case_evidence, cases
from dtsen.workflow.bodies import ACTION_BODIES
from dtsen.workflow.cases import new_id
from dtsen.workflow.errors import InvalidCaseInput, MachineError, TransitionRefused
from dtsen.workflow.machine import load_machine, parse_machine
from dtsen.workflow.service import Workflow
from tests.workflow.conftest import VILLAGE, Staff, audit_actions

VILLAGE_OP, REGENCY_OP, OFFICER, KEPALA, DELEGATE = (
    "village_operator", "regency_operator", "field_officer", "kepala_daerah", "approval_delegate")

# (state, action) -> the roles that may take it, for an usul (and a sanggah) ...
USUL: dict[tuple[str, str], set[str]] = {
    ("submitted", "accept"): {VILLAGE_OP, REGENCY_OP},
    ("submitted", "reject"): {VILLAGE_OP, REGENCY_OP},
    ("village_review", "musdes"): {VILLAGE_OP, REGENCY_OP},
    ("village_review", "return"): {VILLAGE_OP, REGENCY_OP},
    ("village_review", "reject"): {VILLAGE_OP, REGENCY_OP},
    ("verification", "assign"): {REGENCY_OP},
    ("verification", "visit"): {REGENCY_OP, OFFICER},
    ("verification", "verify"): {REGENCY_OP},
    ("verification", "return"): {REGENCY_OP},
    ("verification", "reject"): {REGENCY_OP},
    ("approval", "return"): {KEPALA, DELEGATE},
    ("approval", "reject"): {KEPALA, DELEGATE},
}
# ... and for a ground-check visit (and a village report): no village meeting
VISIT: dict[tuple[str, str], set[str]] = {
    **{k: v for k, v in USUL.items() if k[0] != "village_review" and k != ("submitted", "accept")},
    ("submitted", "forward"): {REGENCY_OP},
}
# where each allowed transition leads
TARGET = {("submitted", "accept"): "village_review", ("submitted", "forward"): "verification",
          ("submitted", "reject"): "rejected", ("village_review", "musdes"): "verification",
          ("village_review", "return"): "submitted", ("village_review", "reject"): "rejected",
          ("verification", "assign"): "verification", ("verification", "visit"): "verification",
          ("verification", "verify"): "approval", ("verification", "reject"): "rejected",
          ("approval", "return"): "verification", ("approval", "reject"): "rejected"}
RETURN_FROM_VERIFICATION = {"usul": "village_review", "visit": "submitted"}

STATES = ("submitted", "village_review", "verification", "approval", "approved", "released", "rejected")
ROLES_AT = {"admin": "", "steward": "", "auditor": "", "province_operator": "32", REGENCY_OP: "32.04",
            VILLAGE_OP: VILLAGE, OFFICER: "32.04.05", KEPALA: "32.04", DELEGATE: "32.04"}
CHANGES = [{"entity": "family", "family_id": 45, "kk": "3204050101090001", "region_code": VILLAGE,
            "fields": {"floor_type": "TANAH", "family_status": "AKTIF"}}]


def _body(action: str, minutes_id: int) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {"accept": {}, "forward": {}, "verify": {}, "return": {"reason": "data belum lengkap"},
            "reject": {"reason": "bukan warga desa ini"}, "assign": {"officer": "petugas"},
            "musdes": {"held_on": "2026-01-10", "place": "Balai desa", "attendees": ["Kepala desa", "BPD"],
                       "decisions": "Diusulkan ke dinas sosial", "minutes_evidence_id": minutes_id},
            "visit": {"visited_on": dt.date.today().isoformat(), "found": True,
                      "family_fields": {"floor_type": "TANAH"}}}
    return bodies[action]


def _case(wf: Workflow, state: str, case_type: str, officer_id: int) -> tuple[int, int]:
    """A case of family 45 in `state` (assigned, visited and with changes, as that state needs),
    and the id of its uploaded minutes."""
    now = dt.datetime.now(dt.UTC)
    with wf.store.writing() as conn:
        case_id = new_id(conn.execute(sa.insert(cases).values(
            case_type=case_type, kind="data_change" if case_type == "usul" else "candidate", state=state,
            region_code=VILLAGE, family_id=45, release_id="R0001", submitted_by="user:uji", reason="uji",
            proposal={}, officer_id=officer_id or None, visit={"visited_on": "2026-01-11"}, changes=CHANGES,
            created_at=now, updated_at=now, state_since=now, deadline_at=now + dt.timedelta(days=5), version=1)))
        minutes = new_id(conn.execute(sa.insert(case_evidence).values(
            case_id=case_id, kind="minutes", media_type="application/pdf", size=1, sha256="0" * 64,
            uploaded_by="user:uji", uploaded_at=now)))
    return case_id, minutes


def test_the_builtin_machine_is_whole_and_agrees_with_the_policy() -> None:
    machine = load_machine()
    machine.check_policy(Policy.load().table)
    assert machine.initial == "submitted"
    assert {s for s, st in machine.states.items() if st.terminal} == {"released", "rejected"}
    assert all(st.deadline_days for st in machine.states.values() if not st.terminal)
    # the people's actions are exactly the bodies the library takes, plus approve (by signing a batch)
    assert set(machine.person_actions) == set(ACTION_BODIES) | {"approve"}


@pytest.mark.parametrize("case_type", ["usul", "visit"])
def test_every_transition_per_role_follows_the_table(wf: Workflow, staff: Staff, case_type: str) -> None:
    table = USUL if case_type == "usul" else VISIT
    officer = staff.user("petugas", OFFICER, "32.04.05")
    principals = {role: (officer if role == OFFICER else staff.user(f"u-{role.replace('_', '-')}", role, prefix))
                  for role, prefix in ROLES_AT.items()}
    principals["client"] = Principal("client", 99, "kemensos", (Grant("client", "", frozenset({"eligibility"})),))
    principals["citizen"] = Principal("citizen", None, "citizen", (Grant("citizen"),), family_id=45)
    allowed = refused = 0
    for state in STATES:
        for action in ACTION_BODIES:
            for role, principal in principals.items():
                case_id, minutes = _case(wf, state, case_type, officer.id or 0)
                where = f"{case_type}: {role} {action} in {state}"
                if role in table.get((state, action), set()):
                    view = wf.act(staff.access(principal), "case_work", case_id, action, _body(action, minutes))
                    target = (RETURN_FROM_VERIFICATION[case_type] if (state, action) == ("verification", "return")
                              else TARGET[(state, action)])
                    assert view.state == target, where
                    allowed += 1
                else:
                    with pytest.raises((AccessDenied, TransitionRefused)):
                        wf.act(staff.access(principal), "case_work", case_id, action, _body(action, minutes))
                        pytest.fail(f"allowed: {where}")
                    with wf.store.reading() as conn:
                        assert conn.execute(sa.select(cases.c.state).where(cases.c.id == case_id)).scalar() == state
                    refused += 1
    assert allowed == sum(len(v) for v in table.values())
    assert allowed + refused == len(STATES) * len(ACTION_BODIES) * len(principals) == 616


def test_a_field_officer_visits_only_cases_assigned_to_them(wf: Workflow, staff: Staff) -> None:
    mine = staff.user("petugas", OFFICER, "32.04.05")
    other = staff.user("petugas2", OFFICER, "32.04.05")
    case_id, _ = _case(wf, "verification", "usul", mine.id or 0)
    with pytest.raises(InvalidCaseInput, match=r"assigned|cannot be taken"):
        wf.act(staff.access(other), "case_work", case_id, "visit", _body("visit", 0))
    view = wf.act(staff.access(mine), "case_work", case_id, "visit", _body("visit", 0))
    assert view.visit is not None and view.changes is not None
    assert view.changes[0]["fields"] == {"floor_type": "TANAH", "family_status": "AKTIF"}


def test_a_regency_operator_cannot_touch_another_regencys_case(wf: Workflow, staff: Staff) -> None:
    bandung_kota = staff.as_user("op-kota", REGENCY_OP, "32.73")
    case_id, _ = _case(wf, "submitted", "visit", 0)
    for action in ("forward", "reject"):
        with pytest.raises(AccessDenied, match="outside the caller's region"):
            wf.act(bandung_kota, "case_work", case_id, action, _body(action, 0))
    with pytest.raises(AccessDenied):
        wf.get(bandung_kota, "case_work", case_id)
    denied = [a for a in audit_actions(wf) if a[1] == "denied"]
    assert ("case.forward", "denied", "user:op-kota") in denied and ("case.read", "denied", "user:op-kota") in denied


def test_a_transition_writes_case_event_and_audit_entry_in_one_transaction(wf: Workflow, staff: Staff,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    operator = staff.as_user("op-bdg", REGENCY_OP, "32.04")
    case_id, _ = _case(wf, "submitted", "visit", 0)
    view = wf.act(operator, "case_work", case_id, "forward", {})
    assert view.state == "verification" and view.deadline_at is not None
    with wf.store.reading() as conn:
        event = conn.execute(sa.select(case_events).where(case_events.c.case_id == case_id)).mappings().one()
        entry = wf.security.audit.entries(conn, after=int(event["audit_seq"]) - 1, limit=1)[0]
    assert (event["from_state"], event["to_state"], event["actor"]) == ("submitted", "verification", "user:op-bdg")
    assert entry["action"] == "case.forward" and f"case:{case_id}" in entry["records"]
    assert entry["detail"]["transition"] == "forward"
    # the audit append fails: nothing of the transition is left
    case_id2, _ = _case(wf, "submitted", "visit", 0)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(operator, "record", broken)
    with pytest.raises(RuntimeError):
        wf.act(operator, "case_work", case_id2, "forward", {})
    with wf.store.reading() as conn:
        assert conn.execute(sa.select(cases.c.state, cases.c.version).where(cases.c.id == case_id2)).one() == \
            ("submitted", 1)
        assert conn.execute(sa.select(sa.func.count()).select_from(case_events)
                            .where(case_events.c.case_id == case_id2)).scalar() == 0


def test_a_reason_is_required_to_return_or_reject(wf: Workflow, staff: Staff) -> None:
    operator = staff.as_user("op-bdg", REGENCY_OP, "32.04")
    case_id, _ = _case(wf, "verification", "usul", 0)
    with pytest.raises(InvalidCaseInput):
        wf.act(operator, "case_work", case_id, "reject", {"reason": ""})
    view = wf.act(operator, "case_work", case_id, "reject", {"reason": "keluarga mampu"})
    assert view.state == "rejected" and view.last_reason == "keluarga mampu"
    assert view.outcome == "Ditolak / rejected: keluarga mampu"


GOOD = """
initial = "a"
[states.a]
label = "A"
deadline_days = 1
[states.b]
label = "B"
terminal = true
[types.t]
label = "T"
kinds = ["k"]
[transitions.go]
from = "a"
action = "accept"
to = "b"
roles = ["regency_operator"]
"""


def test_a_broken_machine_is_refused_with_every_problem_and_its_line() -> None:
    guards = frozenset({"reason"})
    parse_machine(GOOD, "ok.toml", guards)
    broken = GOOD + """
[states.lost]
label = "Lost"
deadline_days = 3
[states.stuck]
label = "Stuck"
deadline_days = 3
[transitions.into_stuck]
from = "a"
action = "forward"
to = "stuck"
roles = ["regency_operator"]
requires = ["a_guard_nobody_wrote"]
[transitions.nobody]
from = "a"
action = "verify"
to = "b"
"""
    with pytest.raises(MachineError) as err:
        parse_machine(broken, "alur.toml", guards)
    text = str(err.value)
    assert "unknown guard 'a_guard_nobody_wrote'" in text and "alur.toml line 29" in text
    assert "names the roles that may take it" in text
    broken = broken.replace('requires = ["a_guard_nobody_wrote"]', "").replace('[transitions.nobody]\nfrom = "a"\n'
                                                                                'action = "verify"\nto = "b"\n', "")
    with pytest.raises(MachineError) as err:
        parse_machine(broken, "alur.toml", guards)
    text = str(err.value)
    assert "state 'lost' is unreachable" in text and "alur.toml line 18" in text
    assert "state 'stuck' is a dead end for cases of type 't'" in text


def test_a_machine_that_disagrees_with_the_policy_is_refused() -> None:
    table = Policy.load().table
    machine = parse_machine(GOOD, "ok.toml", frozenset())
    with pytest.raises(MachineError) as err:
        machine.check_policy(table)
    # the policy gives case.accept to the village operator too, whom this machine never names
    assert "gives case.accept to village_operator, which no transition of the machine names" in str(err.value)
    other = parse_machine(GOOD.replace('roles = ["regency_operator"]',
                                       'roles = ["regency_operator", "village_operator", "auditor"]'),
                          "x.toml", frozenset())
    with pytest.raises(MachineError, match="names roles auditor"):
        other.check_policy(table)


def test_the_service_does_not_start_with_a_machine_the_policy_disagrees_with(wf_settings: Any, tmp_path: Any) -> None:
    from dtsen.api.app import create_app

    (tmp_path / "alur.toml").write_text(GOOD, encoding="utf-8")
    wf_settings.workflow.machine_file = str(tmp_path / "alur.toml")
    with pytest.raises(MachineError, match="does not agree with the policy"):
        create_app(wf_settings)
