"""Survivorship settings: defaults, overrides laid over them, and the mistakes reported."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from dtsen.consolidate.rules import FieldRule, SurvivorshipSettings, unknown_source_refs, unknown_sources


def test_defaults_put_dukcapil_first_for_identity_and_recency_for_the_rest() -> None:
    s = SurvivorshipSettings()
    for field in (
        "nik",
        "kk",
        "full_name",
        "sex",
        "birth_date",
        "birth_place",
        "relationship",
        "is_deceased",
        "death_date",
    ):
        rule = s.rule_for("person", field)
        assert rule.rule == "source_order", field
        assert rule.order[0] == "dukcapil", field
    for field in ("address", "region_code", "rt", "rw", "education", "occupation", "marital_status", "disability"):
        assert s.rule_for("person", field) == FieldRule(rule="most_recent"), field
    for field in ("floor_area", "floor_type", "has_car", "has_motorbike", "livestock", "ownership", "address"):
        assert s.rule_for("family", field) == FieldRule(rule="most_recent"), field
    assert s.above_all == ["cek_lapangan"]
    assert s.deaths_from == ["dukcapil"]


def test_project_file_rules_are_laid_over_the_defaults() -> None:
    text = """
    above_all = ["verifikasi"]
    [person.birth_date]
    rule = "source_order"
    order = ["bpjs", "dukcapil"]
    [family.default]
    rule = "source_order"
    order = ["susenas"]
    """
    s = SurvivorshipSettings.model_validate(tomllib.loads(text))
    assert s.rule_for("person", "birth_date").order == ["bpjs", "dukcapil"]
    assert s.rule_for("person", "sex").order[0] == "dukcapil"  # untouched default
    assert s.rule_for("person", "address").rule == "most_recent"
    assert s.rule_for("family", "floor_area") == FieldRule(rule="source_order", order=["susenas"])
    assert s.rule_for("family", "electricity_va").order == ["pln"]  # its own default stays
    assert s.above_all == ["verifikasi"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"person": {"birthdate": {"rule": "most_recent"}}}, "unknown person field 'birthdate'"),
        ({"family": {"sex": {"rule": "most_recent"}}}, "unknown family field 'sex'"),
        ({"person": {"nik": {"rule": "source_order"}}}, "needs a non-empty `order`"),
        ({"person": {"nik": {"rule": "source_order", "order": ["a", "a"]}}}, "names a source twice"),
        ({"person": {"nik": {"rule": "newest"}}}, "source_order"),
        ({"person": {"nik": {"rule": "most_recent", "ordre": []}}}, "Extra inputs are not permitted"),
        ({"above": ["x"]}, "Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SurvivorshipSettings.model_validate(data)


def test_every_mistake_is_reported_at_once() -> None:
    data = {"person": {"bogus": {"rule": "most_recent"}, "nik": {"rule": "source_order"}}, "family": {"sex": {}}}
    with pytest.raises(ValidationError) as info:
        SurvivorshipSettings.model_validate(data)
    assert sorted(e["loc"] for e in info.value.errors()) == [
        ("family", "sex", "[key]"),
        ("person", "bogus", "[key]"),
        ("person", "nik"),
    ]


def test_unknown_sources_only_in_what_the_project_changed() -> None:
    known = {"dukcapil", "dtks"}
    # the defaults name bpjs, regsosek_art, pln, field_check ...: not the project's mistake
    assert unknown_sources(SurvivorshipSettings(), known) == []
    s = SurvivorshipSettings.model_validate(
        {
            "above_all": ["cek_lapangan", "verifkasi"],
            "deaths_from": ["dukcapil"],
            "person": {"kk": {"rule": "source_order", "order": ["dukcapl", "dtks"]}},
            "family": {"default": {"rule": "most_recent", "order": ["pln"]}},
        }
    )
    assert unknown_source_refs(s, known) == [
        (("above_all",), "cek_lapangan"),
        (("above_all",), "verifkasi"),
        (("person", "kk", "order"), "dukcapl"),
        (("family", "default", "order"), "pln"),
    ]
    assert unknown_sources(s, known)[2] == (
        "survivorship.person.kk.order names unknown source 'dukcapl' (known: dtks, dukcapil)"
    )
