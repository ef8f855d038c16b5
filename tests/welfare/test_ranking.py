"""Deciles are person-weighted (BPS): known answers with families of different sizes."""

from __future__ import annotations

import math

import pyarrow as pa

from dtsen.engine import Engine
from dtsen.welfare.poverty import PovertyLines, ProvinceLine
from dtsen.welfare.ranking import RANKED_COLUMNS, family_ranks, person_deciles, rank_families


def _table(engine: Engine, rows: list[dict[str, object]]) -> object:
    return engine.from_arrow(pa.Table.from_pylist(rows))


def test_deciles_hold_a_tenth_of_the_people_not_of_the_families(engine: Engine) -> None:
    # 10 people in 6 families; family 6 has no prediction (not ranked, weighs nothing)
    rows = [
        {"family_id": 1, "persons": 5, "c": 100.0, "province_code": "11"},
        {"family_id": 2, "persons": 1, "c": 200.0, "province_code": "11"},
        {"family_id": 3, "persons": 1, "c": 300.0, "province_code": "32"},
        {"family_id": 4, "persons": 1, "c": 300.0, "province_code": "32"},  # tie: family_id decides
        {"family_id": 5, "persons": 2, "c": 900.0, "province_code": "32"},
        {"family_id": 6, "persons": 4, "c": None, "province_code": "32"},
    ]
    t = engine.from_arrow(pa.Table.from_pylist(rows))
    got = (
        t.select(
            "family_id",
            d=person_deciles(t, "c"),
            dp=person_deciles(t, "c", ["province_code"]),
            r=family_ranks(t, "c", ["province_code"]),
        )
        .order_by("family_id")
        .to_pyarrow()
        .to_pylist()
    )
    # people before each family: 0, 5, 6, 7, 8 of 10 -> deciles 1, 6, 7, 8, 9
    assert [g["d"] for g in got] == [1, 6, 7, 8, 9, None]
    # province 11: 0 and 5 of 6 people -> 1, 9; province 32: 0, 1, 2 of 4 people -> 1, 3, 6
    assert [g["dp"] for g in got] == [1, 9, 1, 3, 6, None]
    assert [g["r"] for g in got] == [1, 2, 1, 2, 3, None]


def test_rank_families_flags_poverty_by_the_most_specific_line(engine: Engine) -> None:
    families = [
        {"family_id": i, "kk": f"32040100000000{i:02d}", "size": s, "children": 0, "elderly": 0, "dependants": 0,
         "working_age": s, "disabled": 0, "members_deceased": 0, "all_deceased": s == 0, "head_person_id": i,
         "head_sex": "L", "pkh": None if i == 1 else True, "bpnt": False, "pbi_jk": False}
        for i, s in ((1, 3), (2, 2), (3, 0))
    ]
    features = [
        {"family_id": 1, "region_code": "32.04.01.2001", "province_code": "32", "regency_code": "32.04",
         "district_code": "32.04.01", "urban": False, "persons": 3, "head_age": 40.0, "head_education": "SD"},
        {"family_id": 2, "region_code": "32.71.01.1001", "province_code": "32", "regency_code": "32.71",
         "district_code": "32.71.01", "urban": True, "persons": 2, "head_age": 70.0, "head_education": "S1"},
        {"family_id": 3, "region_code": "32.04.01.2001", "province_code": "32", "regency_code": "32.04",
         "district_code": "32.04.01", "urban": False, "persons": 0, "head_age": None, "head_education": None},
    ]
    predicted = [
        {"family_id": 1, "log_predicted": math.log(450_000.0)},
        {"family_id": 2, "log_predicted": math.log(450_000.0)},
        {"family_id": 3, "log_predicted": math.log(100.0)},
    ]
    lines = PovertyLines(595_000.0, 391_000.0, (ProvinceLine("32", "URBAN", 440_000.0, 300_000.0),))
    fam_t = engine.from_arrow(pa.Table.from_pylist(families))
    feat_t = engine.from_arrow(pa.Table.from_pylist(features))
    pred_t = engine.from_arrow(pa.Table.from_pylist(predicted))
    out = rank_families(fam_t, feat_t, pred_t, lines, "ols-test").order_by("family_id").to_pyarrow()
    assert tuple(out.column_names) == RANKED_COLUMNS
    rows = out.to_pylist()
    assert [r["poverty_line"] for r in rows] == [595_000.0, 440_000.0, 595_000.0]
    assert [r["poor"] for r in rows] == [True, False, False]  # the urban line is lower
    assert [r["extreme_poor"] for r in rows] == [False, False, False]
    assert rows[2]["predicted_consumption"] is None and rows[2]["decile"] is None  # nobody alive
    assert [r["pkh"] for r in rows] == [False, True, True]  # unknown membership counts as none
    assert [r["decile"] for r in rows[:2]] == [1, 7]  # 3 of 5 people come before family 2
    assert {r["model_id"] for r in rows} == {"ols-test"}


def test_families_an_approved_field_check_retired_are_not_ranked(engine: Engine) -> None:
    """family_status TIDAK_DITEMUKAN (not found) or PINDAH (moved, whereabouts unknown) takes the
    family out of the ranking like a family with nobody alive; AKTIF and unknown status stay."""
    statuses = {1: None, 2: "AKTIF", 3: "TIDAK_DITEMUKAN", 4: "PINDAH"}
    families = [
        {"family_id": i, "kk": f"32040100000000{i:02d}", "size": 2, "children": 0, "elderly": 0, "dependants": 0,
         "working_age": 2, "disabled": 0, "members_deceased": 0, "all_deceased": False, "head_person_id": i,
         "head_sex": "L", "pkh": True, "bpnt": False, "pbi_jk": False, "family_status": status}
        for i, status in statuses.items()
    ]
    features = [
        {"family_id": i, "region_code": "32.04.01.2001", "province_code": "32", "regency_code": "32.04",
         "district_code": "32.04.01", "urban": False, "persons": 2, "head_age": 40.0, "head_education": "SD"}
        for i in statuses
    ]
    predicted = [{"family_id": i, "log_predicted": math.log(300_000.0 + i)} for i in statuses]
    lines = PovertyLines(595_000.0, 391_000.0, ())
    fam_t, feat_t, pred_t = (engine.from_arrow(pa.Table.from_pylist(rows)) for rows in (families, features, predicted))
    out = rank_families(fam_t, feat_t, pred_t, lines, "ols-test").order_by("family_id").to_pyarrow()
    assert tuple(out.column_names) == RANKED_COLUMNS
    rows = out.to_pylist()
    assert [r["predicted_consumption"] is not None for r in rows] == [True, True, False, False]
    assert [r["decile"] for r in rows] == [1, 6, None, None]  # two families of two: 4 people ranked
    assert [r["poor"] for r in rows] == [True, True, False, False]
