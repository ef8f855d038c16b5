"""Programme targeting: rules, quotas, ties, simulation against a truth, current-recipient report.

One hand-made ranked table (RANKED below) serves every test; the expected family ids were
worked out by hand from it. Poorest first, the families are:

    id  pc       decile persons region          notes
    13  200000   1      7       32.04.01.2001   all_deceased -> never eligible
     3  250000   1      3       32.05.01.2001   head P, disabled, extreme_poor
    11  280000   1      0       32.04.01.2001   persons 0 -> never eligible
     1  300000   1      5       32.04.01.2001   children 2, pkh, extreme_poor
     2  300000   1      2       32.04.02.2002   tie with 1 and 12; elderly 1; head_age 45
    12  300000   1      3       32.04.01.2001   children 1; head_age 46
    10  350000   1      4       32.04.01.2001   children null, head_sex null, extreme_poor
     4  420000   2      6       32.04.01.2003   children 3, SMA
     5  500000   3      1       33.01.01.2001   elderly 1, head_age 70, urban
     6  650000   4      4       32.04.01.2001   children 2, head_age null
     7  900000   6      3       32.04.01.2001   children 1, urban, bpnt, pbi_jk
     8  2000000  9      2       32.05.01.2001   head P, pkh
     9  null     null   0       32.04.01.2001   all deceased, pkh
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from dtsen.engine import Engine, read_parquet_arrow
from dtsen.welfare.recipients import (
    REPORT_COLUMNS,
    RecipientReportError,
    current_recipient_report,
    leakage_list,
    undercoverage_list,
)
from dtsen.welfare.settings import ProgrammeRule
from dtsen.welfare.targeting import (
    CSV_HEADERS,
    RECIPIENT_COLUMNS,
    TargetingError,
    eligibility,
    select_recipients,
    simulate,
    write_recipients,
)

RANKED_SCHEMA = pa.schema(
    [
        ("family_id", pa.int64()),
        ("kk", pa.string()),
        ("region_code", pa.string()),
        ("province_code", pa.string()),
        ("regency_code", pa.string()),
        ("district_code", pa.string()),
        ("urban", pa.bool_()),
        ("persons", pa.int64()),
        ("size", pa.int64()),
        ("children", pa.int64()),
        ("elderly", pa.int64()),
        ("dependants", pa.int64()),
        ("working_age", pa.int64()),
        ("disabled", pa.int64()),
        ("members_deceased", pa.int64()),
        ("all_deceased", pa.bool_()),
        ("head_person_id", pa.int64()),
        ("head_sex", pa.string()),
        ("head_age", pa.float64()),
        ("head_education", pa.string()),
        ("pkh", pa.bool_()),
        ("bpnt", pa.bool_()),
        ("pbi_jk", pa.bool_()),
        ("predicted_consumption", pa.float64()),
        ("decile", pa.int64()),
        ("decile_province", pa.int64()),
        ("decile_regency", pa.int64()),
        ("rank_province", pa.int64()),
        ("rank_regency", pa.int64()),
        ("poverty_line", pa.float64()),
        ("extreme_line", pa.float64()),
        ("poor", pa.bool_()),
        ("extreme_poor", pa.bool_()),
        ("model_id", pa.string()),
    ]
)

# id -> the values that differ from the defaults in `_family`. Listed out of priority order, so
# that the order of the list comes from the ranking and not from the input.
FAMILIES: dict[int, dict[str, Any]] = {
    12: {"pc": 300000.0, "decile": 1, "persons": 3, "children": 1, "head_age": 46.0},
    9: {"pc": None, "decile": None, "persons": 0, "all_deceased": True, "members_deceased": 3, "pkh": True},
    1: {"pc": 300000.0, "decile": 1, "persons": 5, "children": 2, "pkh": True, "extreme_poor": True},
    2: {"pc": 300000.0, "decile": 1, "persons": 2, "elderly": 1, "head_age": 45.0, "region": "32.04.02.2002"},
    3: {
        "pc": 250000.0,
        "decile": 1,
        "persons": 3,
        "disabled": 1,
        "head_sex": "P",
        "extreme_poor": True,
        "region": "32.05.01.2001",
    },
    4: {"pc": 420000.0, "decile": 2, "persons": 6, "children": 3, "head_education": "SMA", "region": "32.04.01.2003"},
    5: {
        "pc": 500000.0,
        "decile": 3,
        "persons": 1,
        "elderly": 1,
        "head_age": 70.0,
        "urban": True,
        "region": "33.01.01.2001",
    },
    6: {"pc": 650000.0, "decile": 4, "persons": 4, "children": 2, "head_age": None},
    7: {"pc": 900000.0, "decile": 6, "persons": 3, "children": 1, "urban": True, "bpnt": True, "pbi_jk": True},
    8: {"pc": 2000000.0, "decile": 9, "persons": 2, "head_sex": "P", "pkh": True, "region": "32.05.01.2001"},
    10: {"pc": 350000.0, "decile": 1, "persons": 4, "children": None, "head_sex": None, "extreme_poor": True},
    11: {"pc": 280000.0, "decile": 1, "persons": 0},
    13: {"pc": 200000.0, "decile": 1, "persons": 7, "all_deceased": True},
}


def _family(fid: int, v: dict[str, Any]) -> dict[str, Any]:
    region = v.get("region", "32.04.01.2001")
    persons = v["persons"]
    return {
        "family_id": fid,
        "kk": f"32040112{fid:08d}",
        "region_code": region,
        "province_code": region[:2],
        "regency_code": region[:5],
        "district_code": region[:8],
        "urban": v.get("urban", False),
        "persons": persons,
        "size": persons,
        "children": v.get("children", 0),
        "elderly": v.get("elderly", 0),
        "dependants": 0,
        "working_age": persons,
        "disabled": v.get("disabled", 0),
        "members_deceased": v.get("members_deceased", 0),
        "all_deceased": v.get("all_deceased", False),
        "head_person_id": fid * 10,
        "head_sex": v.get("head_sex", "L"),
        "head_age": v.get("head_age", 40.0),
        "head_education": v.get("head_education", "SD"),
        "pkh": v.get("pkh", False),
        "bpnt": v.get("bpnt", False),
        "pbi_jk": v.get("pbi_jk", False),
        "predicted_consumption": v["pc"],
        "decile": v["decile"],
        "decile_province": v["decile"],
        "decile_regency": v["decile"],
        "rank_province": fid,
        "rank_regency": fid,
        "poverty_line": 595000.0,
        "extreme_line": 391000.0,
        "poor": v["pc"] is not None and v["pc"] < 595000,
        "extreme_poor": v.get("extreme_poor", False),
        "model_id": "test",
    }


def ranked_arrow() -> pa.Table:
    return pa.Table.from_pylist([_family(fid, v) for fid, v in FAMILIES.items()], schema=RANKED_SCHEMA)


def _rule(**kw: Any) -> ProgrammeRule:
    return ProgrammeRule(**kw)


# (rule, expected recipients in priority order). Every rule kind, alone and combined.
RULE_CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({}, [3, 1, 2, 12, 10, 4, 5, 6, 7, 8]),
    ({"deciles": (1, 4)}, [3, 1, 2, 12, 10, 4, 5, 6]),
    ({"deciles": (2, 3)}, [4, 5]),
    ({"any_of": ["children", "elderly"]}, [1, 2, 12, 4, 5, 6, 7]),
    ({"deciles": (1, 4), "any_of": ["children", "elderly"]}, [1, 2, 12, 4, 5, 6]),
    ({"minimum": {"head_age": 60}}, [5]),
    ({"maximum": {"head_age": 45}}, [3, 1, 2, 10, 4, 7, 8]),
    ({"minimum": {"size": 4}, "maximum": {"size": 5}}, [1, 10, 6]),
    ({"minimum": {"disabled": 1}}, [3]),
    ({"equals": {"head_sex": "P"}}, [3, 8]),
    ({"equals": {"head_education": "SMA"}}, [4]),
    ({"equals": {"urban": True}}, [5, 7]),
    ({"equals": {"pkh": False}}, [3, 2, 12, 10, 4, 5, 6, 7]),
    ({"equals": {"extreme_poor": True}}, [3, 1, 10]),
    ({"regions": ["32.04"]}, [1, 2, 12, 10, 4, 6, 7]),
    ({"regions": ["32.04.01", "33"]}, [1, 12, 10, 4, 5, 6, 7]),
    ({"regions": ["32.04.02.2002"]}, [2]),
    ({"deciles": (1, 4), "any_of": ["children"], "regions": ["32.04"], "equals": {"pkh": False}}, [12, 4, 6]),
]

# (rule, all eligible in order, expected within-quota ids, expected cumulative units)
QUOTA_CASES: list[tuple[dict[str, Any], list[int], list[int], list[int]]] = [
    ({"deciles": (1, 4), "quota": 3}, [3, 1, 2, 12, 10, 4, 5, 6], [3, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
    ({"deciles": (1, 4), "quota": 0}, [3, 1, 2, 12, 10, 4, 5, 6], [], [1, 2, 3, 4, 5, 6, 7, 8]),
    # persons 3, 5, 2, 3, 4, 6, 1, 4: family 4 (6 persons) does not fit in 22, and family 5
    # (1 person) after it stays out although 17 + 1 <= 22: strict priority order
    (
        {"deciles": (1, 4), "unit": "person", "quota": 22},
        [3, 1, 2, 12, 10, 4, 5, 6],
        [3, 1, 2, 12, 10],
        [3, 8, 10, 13, 17, 23, 24, 28],
    ),
    (
        {"deciles": (1, 4), "unit": "person", "quota": 23},
        [3, 1, 2, 12, 10, 4, 5, 6],
        [3, 1, 2, 12, 10, 4],
        [3, 8, 10, 13, 17, 23, 24, 28],
    ),
    (
        {"deciles": (1, 4), "unit": "person", "quota": 17},
        [3, 1, 2, 12, 10, 4, 5, 6],
        [3, 1, 2, 12, 10],
        [3, 8, 10, 13, 17, 23, 24, 28],
    ),
    ({"deciles": (1, 4), "unit": "person", "quota": 2}, [3, 1, 2, 12, 10, 4, 5, 6], [], [3, 8, 10, 13, 17, 23, 24, 28]),
]


RECIPIENT_TYPES = [
    "string",
    "int64",
    "int64",
    "string",
    "string",
    "string",
    "string",
    "int64",
    "double",
    "int64",
    "int64",
    "int64",
    "bool",
]


def _rows(table: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows


def test_rules_quotas_and_ties(engine: Engine) -> None:
    ranked = engine.from_arrow(ranked_arrow())
    # every rule as one boolean column of one query (Spark runs one job), poorest first
    flags = {f"case{i}": eligibility(ranked, _rule(**kw)) for i, (kw, _) in enumerate(RULE_CASES)}
    order = ranked.select("family_id", "predicted_consumption", **flags).order_by(
        ["predicted_consumption", "family_id"]
    )
    rows = order.to_pyarrow().to_pylist()
    wrong: list[str] = []
    for i, (kw, expected) in enumerate(RULE_CASES):
        got = [r["family_id"] for r in rows if r[f"case{i}"]]
        if got != expected:
            wrong.append(f"{kw}: {got} != {expected}")
    # the quota cases as lists, in one query too
    lists = [select_recipients(ranked, f"quota{i}", _rule(**kw)) for i, (kw, *_) in enumerate(QUOTA_CASES)]
    rows = ibis.union(*lists, distinct=False).order_by(["programme", "priority"]).to_pyarrow().to_pylist()
    for i, (kw, eligible, within, cumulative) in enumerate(QUOTA_CASES):
        mine = [r for r in rows if r["programme"] == f"quota{i}"]
        result = (
            [r["family_id"] for r in mine],
            [r["family_id"] for r in mine if r["within_quota"]],
            [r["cumulative_units"] for r in mine],
            [r["priority"] for r in mine],
        )
        if result != (eligible, within, cumulative, list(range(1, len(eligible) + 1))):
            wrong.append(f"{kw}: {result}")
    assert not wrong, "\n".join(wrong)

    # one list in full: columns, types and every value; the tie at 300000 goes by family_id
    out = select_recipients(ranked, "blt", _rule(deciles=(1, 2), unit="person", quota=13))
    table = out.to_pyarrow()
    assert table.column_names == list(RECIPIENT_COLUMNS)
    assert [str(t) for t in table.schema.types] == RECIPIENT_TYPES
    got = [
        (
            r["programme"],
            r["priority"],
            r["family_id"],
            r["kk"],
            r["region_code"],
            r["regency_code"],
            r["district_code"],
            r["decile"],
            r["predicted_consumption"],
            r["persons"],
            r["units"],
            r["cumulative_units"],
            r["within_quota"],
        )
        for r in table.to_pylist()
    ]
    assert got == [
        ("blt", 1, 3, "3204011200000003", "32.05.01.2001", "32.05", "32.05.01", 1, 250000.0, 3, 3, 3, True),
        ("blt", 2, 1, "3204011200000001", "32.04.01.2001", "32.04", "32.04.01", 1, 300000.0, 5, 5, 8, True),
        ("blt", 3, 2, "3204011200000002", "32.04.02.2002", "32.04", "32.04.02", 1, 300000.0, 2, 2, 10, True),
        ("blt", 4, 12, "3204011200000012", "32.04.01.2001", "32.04", "32.04.01", 1, 300000.0, 3, 3, 13, True),
        ("blt", 5, 10, "3204011200000010", "32.04.01.2001", "32.04", "32.04.01", 1, 350000.0, 4, 4, 17, False),
        ("blt", 6, 4, "3204011200000004", "32.04.01.2003", "32.04", "32.04.01", 2, 420000.0, 6, 6, 23, False),
    ]


# The truth: 2 is missing from it (a registry family with no true family); 20 and 21 are true
# families the registry missed (null family_id); 13 is all-deceased in the registry but alive.
TRUTH = [
    # family_id, true_decile, true_extreme_poor, true_persons
    (3, 1, True, 3),
    (1, 5, False, 5),
    (12, 7, False, 3),
    (10, 1, True, 4),
    (4, 3, False, 6),
    (6, 6, False, 4),
    (5, 1, True, 1),
    (7, 2, False, 3),
    (8, 9, False, 2),
    (11, 8, False, 1),
    (13, 1, True, 2),
    (None, 1, True, 4),
    (None, 7, False, 2),
]


def truth_arrow() -> pa.Table:
    cols = list(zip(*TRUTH, strict=True))
    return pa.table(
        {
            "family_id": pa.array(cols[0], pa.int64()),
            "true_decile": pa.array(cols[1], pa.int64()),
            "true_extreme_poor": pa.array(cols[2], pa.bool_()),
            "true_persons": pa.array(cols[3], pa.int64()),
        }
    )


# region, programme, families, receiving, persons, desil 6-10, share, unranked, extreme, extreme
# not receiving this programme, extreme receiving none
REPORT = [
    ("32.04", "any", 10, 3, 8, 1, 1 / 3, 1, 2, 1, 1),
    ("32.04", "bpnt", 10, 1, 3, 1, 1.0, 0, 2, 2, 1),
    ("32.04", "pbi_jk", 10, 1, 3, 1, 1.0, 0, 2, 2, 1),
    ("32.04", "pkh", 10, 2, 5, 0, 0.0, 1, 2, 1, 1),
    ("32.05", "any", 2, 1, 2, 1, 1.0, 0, 1, 1, 1),
    ("32.05", "bpnt", 2, 0, 0, 0, None, 0, 1, 1, 1),
    ("32.05", "pbi_jk", 2, 0, 0, 0, None, 0, 1, 1, 1),
    ("32.05", "pkh", 2, 1, 2, 1, 1.0, 0, 1, 1, 1),
    ("33.01", "any", 1, 0, 0, 0, None, 0, 0, 0, 0),
    ("33.01", "bpnt", 1, 0, 0, 0, None, 0, 0, 0, 0),
    ("33.01", "pbi_jk", 1, 0, 0, 0, None, 0, 0, 0, 0),
    ("33.01", "pkh", 1, 0, 0, 0, None, 0, 0, 0, 0),
    ("ALL", "any", 13, 4, 10, 2, 0.5, 1, 3, 2, 2),
    ("ALL", "bpnt", 13, 1, 3, 1, 1.0, 0, 3, 3, 2),
    ("ALL", "pbi_jk", 13, 1, 3, 1, 1.0, 0, 3, 3, 2),
    ("ALL", "pkh", 13, 3, 7, 1, 1 / 3, 1, 3, 2, 2),
]


def test_simulation_report_and_files(engine: Engine, tmp_path: Path) -> None:
    ranked = engine.from_arrow(ranked_arrow())
    truth = engine.from_arrow(truth_arrow())
    # eligible 3, 1, 2, 12, 10, 4, 6 (5 is in region 33); persons 3, 5, 2, 3, 4 | 6, 4
    rule = _rule(deciles=(1, 4), unit="person", quota=22, regions=["32"], benefit=100.0)
    recipients = select_recipients(ranked, "pkh", rule)
    sim = simulate(recipients, rule, truth, ranked=ranked)
    d = sim.to_dict()
    t = d.pop("truth")
    assert d == {
        "programme": "pkh",
        "unit": "person",
        "deciles": [1, 4],
        "quota": 22,
        "benefit": 100.0,
        "eligible_families": 7,
        "eligible_persons": 27,
        "families": 5,
        "persons": 17,
        "units": 17,
        "cost": 1700.0,
        "by_regency": [
            {"regency_code": "32.04", "families": 4, "persons": 14, "units": 14, "cost": 1400.0},
            {"regency_code": "32.05", "families": 1, "persons": 3, "units": 3, "cost": 300.0},
        ],
    }
    # inclusion: covered 3 (d1), 1 (d5), 2 (no true family), 12 (d7), 10 (d1): 5 + 2 + 3 of 17
    # exclusion: target 3, 10 (covered), 4, 7, 13, missed (4): 6 + 3 + 2 + 4 of 22; 5 fails region
    # extreme poor: 3, 10 covered (7 persons) of 3, 10, 5, 13, missed (14 persons)
    assert t == {
        "inclusion_error": 10 / 17,
        "exclusion_error": 15 / 22,
        "extreme_poor_coverage": 0.5,
        "covered_persons": 17,
        "covered_persons_outside": 10,
        "target_persons": 22,
        "target_persons_excluded": 15,
        "target_persons_missing": 4,
        "extreme_poor_persons": 14,
        "extreme_poor_persons_covered": 7,
    }

    report = current_recipient_report(ranked).to_pyarrow()
    assert report.column_names == list(REPORT_COLUMNS)
    assert [tuple(r.values()) for r in report.to_pylist()] == REPORT
    written = read_parquet_arrow(engine.write_parquet(current_recipient_report(ranked), tmp_path / "report"))
    assert [str(t) for t in written.schema.types] == ["string", "string", *["int64"] * 4, "double", *["int64"] * 4]
    assert [r["family_id"] for r in _rows(leakage_list(ranked))] == [7, 8]
    under = _rows(undercoverage_list(ranked))
    assert [r["family_id"] for r in under] == [10, 3]
    assert under[0] == {
        "family_id": 10,
        "kk": "3204011200000010",
        "region_code": "32.04.01.2001",
        "province_code": "32",
        "regency_code": "32.04",
        "district_code": "32.04.01",
        "decile": 1,
        "predicted_consumption": 350000.0,
        "persons": 4,
        "pkh": False,
        "bpnt": False,
        "pbi_jk": False,
    }

    paths = write_recipients(engine, recipients, sim, tmp_path / "pkh")
    listed = read_parquet_arrow(paths["parquet"])
    assert listed.column_names == list(RECIPIENT_COLUMNS)
    assert [str(t) for t in listed.schema.types] == RECIPIENT_TYPES  # as written, also by Spark
    assert listed.column("family_id").to_pylist() == [3, 1, 2, 12, 10]
    raw = paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(raw[3:].decode("utf-8").splitlines()))
    assert lines[0] == list(CSV_HEADERS.values())
    assert lines[1] == [
        "pkh",
        "1",
        "3",
        '="3204011200000003"',
        '="32.05.01.2001"',
        '="32.05"',
        '="32.05.01"',
        "1",
        "250000",
        "3",
        "3",
        "3",
    ]
    assert [row[2] for row in lines[1:]] == ["3", "1", "2", "12", "10"]
    assert json.loads(paths["simulation"].read_text(encoding="utf-8")) == sim.to_dict()


def test_null_and_nonfinite_consumption_never_eligible(duck: Engine) -> None:
    t = ranked_arrow()
    pc = t.column("predicted_consumption").to_pylist()
    ids = t.column("family_id").to_pylist()
    pc = [float("nan") if i == 3 else float("inf") if i == 1 else v for i, v in zip(ids, pc, strict=True)]
    t = t.set_column(
        t.schema.get_field_index("predicted_consumption"), "predicted_consumption", pa.array(pc, pa.float64())
    )
    ranked = duck.from_arrow(t)
    got = ranked.filter(eligibility(ranked, _rule())).order_by("family_id").family_id.to_pyarrow().to_pylist()
    assert got == [2, 4, 5, 6, 7, 8, 10, 12]


def test_no_truth_and_empty_list(duck: Engine, tmp_path: Path) -> None:
    ranked = duck.from_arrow(ranked_arrow())
    rule = _rule(deciles=(7, 8), benefit=50.0)
    recipients = select_recipients(ranked, "none", rule)
    sim = simulate(recipients, rule)
    assert (sim.families, sim.persons, sim.cost, sim.by_regency, sim.truth) == (0, 0, 0.0, [], None)
    paths = write_recipients(duck, recipients, sim, tmp_path)
    assert (
        paths["csv"].read_bytes()
        == b"\xef\xbb\xbf" + (",".join(f'"{h}"' for h in CSV_HEADERS.values()) + "\r\n").encode()
    )
    # family-unit quota with no truth: the families within quota only
    rule = _rule(deciles=(1, 1), quota=2, benefit=10.0)
    sim = simulate(select_recipients(ranked, "q", rule), rule)
    assert (sim.eligible_families, sim.families, sim.persons, sim.units, sim.cost) == (5, 2, 8, 2, 20.0)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"any_of": ["grandchildren"]}, "'grandchildren'"),
        ({"minimum": {"income": 1}}, "'income'"),
        ({"maximum": {"head_sex": 1}}, "needs a number field; 'head_sex'"),
        ({"equals": {"urban": "ya"}}, "'urban'"),
        ({"equals": {"head_sex": True}}, "'head_sex'"),
        ({"regions": ["3204"]}, "'3204'"),
    ],
)
def test_bad_rules_raise(duck: Engine, kw: dict[str, Any], needle: str) -> None:
    ranked = duck.from_arrow(ranked_arrow())
    with pytest.raises(TargetingError) as info:
        select_recipients(ranked, "sembako", _rule(**kw))
    assert needle in str(info.value)
    assert "'sembako'" in str(info.value)


def test_all_mistakes_at_once_and_bad_inputs(duck: Engine) -> None:
    ranked = duck.from_arrow(ranked_arrow())
    rule = _rule(any_of=["x"], minimum={"y": 1.0}, equals={"z": "a"})
    with pytest.raises(TargetingError) as info:
        eligibility(ranked, rule, "pkh")
    assert [p.message.split("'")[1] for p in info.value.problems] == ["x", "y", "z"]
    with pytest.raises(TargetingError, match="no column 'decile'"):
        eligibility(ranked.drop("decile"), _rule())
    with pytest.raises(TargetingError, match=r"lacks the column\(s\) kk"):
        select_recipients(ranked.drop("kk"), "pkh", _rule())
    recipients = select_recipients(ranked, "pkh", _rule())
    truth = duck.from_arrow(truth_arrow())
    with pytest.raises(TargetingError, match="ranked table"):
        simulate(recipients, _rule(), truth)
    with pytest.raises(TargetingError, match="true_persons"):
        simulate(recipients, _rule(), truth.drop("true_persons"), ranked=ranked)
    with pytest.raises(RecipientReportError, match="kelurahan"):
        current_recipient_report(ranked, by="kelurahan")
    with pytest.raises(RecipientReportError, match="pbi_jk"):
        leakage_list(ranked.drop("pbi_jk"))
    # the report by province adds up to the same national row
    by_province = _rows(current_recipient_report(ranked, by="province_code"))
    assert [tuple(r.values()) for r in by_province if r["region"] == "ALL"] == [r for r in REPORT if r[0] == "ALL"]
    assert sorted({r["region"] for r in by_province}) == ["32", "33", "ALL"]
