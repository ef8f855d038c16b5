"""A family's welfare status and programme eligibility, with the reason."""

from __future__ import annotations

import pytest

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.welfare import (
    FamilyNotFoundError,
    UnknownProgrammeError,
    eligibility,
    programme_rule,
    welfare_status,
)
from dtsen.welfare.settings import ProgrammeRule

PKH = ProgrammeRule(deciles=(1, 4), any_of=["children", "elderly", "disabled"])


def test_welfare_status(r1: ReleaseHandle) -> None:
    w = welfare_status(r1, 10)
    assert (w.decile, w.poor, w.extreme_poor, w.ranked, w.persons) == (2, True, False, True, 3)
    assert w.programmes.pkh is True and w.programmes.bpnt is False
    assert welfare_status(r1, 12).ranked is False
    with pytest.raises(FamilyNotFoundError):
        welfare_status(r1, 99)


def test_eligible_family(r1: ReleaseHandle) -> None:
    e = eligibility(r1, 10, "pkh", PKH)
    assert e.eligible is True and e.decile == 2 and e.release_id == "R0001"
    assert [(c.condition, c.met) for c in e.conditions] == [("ranked", True), ("deciles", True), ("any_of", True)]
    assert e.conditions[2].value == {"children": 1, "elderly": 0, "disabled": 0}


def test_family_outside_the_deciles(r1: ReleaseHandle) -> None:
    e = eligibility(r1, 11, "pkh", PKH)
    assert e.eligible is False
    assert {c.condition: c.met for c in e.conditions} == {"ranked": True, "deciles": False, "any_of": True}
    assert "deciles" in e.reason and e.conditions[1].value == 6


def test_family_without_a_child_or_elder(r1: ReleaseHandle) -> None:
    e = eligibility(r1, 13, "pkh", PKH)  # decile 1, but nobody the rule asks for
    assert e.eligible is False
    assert {c.condition: c.met for c in e.conditions}["any_of"] is False


def test_unranked_family_is_never_eligible(r1: ReleaseHandle) -> None:
    e = eligibility(r1, 12, "pkh", PKH)
    assert e.eligible is False and e.conditions[0].met is False
    assert all(c.met is None for c in e.conditions[1:])


def test_equals_minimum_and_regions(r1: ReleaseHandle) -> None:
    rule = ProgrammeRule(deciles=(1, 10), equals={"head_sex": "L"}, minimum={"elderly": 1}, regions=["32.04.02"])
    e = eligibility(r1, 11, "lansia", rule)
    assert e.eligible is True
    assert {c.condition: c.met for c in e.conditions} == {
        "ranked": True, "deciles": True, "minimum.elderly": True, "equals.head_sex": True, "regions": True}
    other = eligibility(r1, 10, "lansia", rule)
    assert other.eligible is False
    assert {c.condition: c.met for c in other.conditions}["regions"] is False
    assert {c.condition: c.met for c in other.conditions}["minimum.elderly"] is False


def test_programme_rules_come_from_the_settings() -> None:
    assert programme_rule({"pkh": PKH}, "pkh") is PKH
    with pytest.raises(UnknownProgrammeError, match="known: pkh"):
        programme_rule({"pkh": PKH}, "bansos")
