"""Known answers of the synthetic welfare truth and of the single-source view (issue 4, section 4).

Tiny hand-made tables: which golden family is which true family (by majority of its records,
with ties), a duplicate golden family, true families the registry missed, person-weighted true
deciles with families of different sizes, and a single source's latest record per family.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.link.evaluation import TruthError, TruthMismatchError
from dtsen.welfare.single_source import (
    SOURCE_FIELDS,
    SingleSourceError,
    family_sources,
    load_source_records,
    single_source_families,
)
from dtsen.welfare.truth import (
    FAMILY_TRUTH_COLUMNS,
    GOLDEN_TRUTH_COLUMNS,
    family_truth,
    golden_family_truth,
    load_truth_families,
)

FILE = "src/data.csv"

# truth records: (row, person_id, family_id); person_id None = a family-level record
TRUTH_RECORDS = [
    (1, 1, 1),
    (2, 2, 1),
    (3, 3, 2),
    (4, 4, 2),
    (5, 5, 2),
    (6, 6, 1),
    (7, 7, 5),
    (8, 8, 6),
    (9, 9, 5),
    (10, 10, 3),  # quarantined: not in the links, so true family 3 is missed
    (11, 11, None),  # a record the truth gives no family
    (12, 12, 7),  # linked without a family
    (13, None, 2),  # a family-level record of true family 2
]
# links: (row, golden family_id)
LINKS = [
    (1, 10),  # golden 10: true 1, 1, 2 -> true 1 (2 of 3 records)
    (2, 10),
    (3, 10),
    (4, 20),  # golden 20: true 2, 2 and the family record of 2 -> true 2
    (5, 20),
    (13, 20),
    (6, 30),  # golden 30: true 1 by 1 record; golden 10 has 2 -> duplicate
    (7, 40),  # golden 40: true 5 and 6, one each -> the smaller, 5
    (8, 40),
    (9, 50),  # golden 50: true 5 by 1 record, as golden 40 -> tie, the larger id is the duplicate
    (11, 60),  # golden 60: no true family
    (12, None),
]
# true families: id, consumption, living members, poor, extreme poor
TRUE_FAMILIES = [
    (1, 100.0, 3, True, False),
    (2, 50.0, 1, True, True),
    (3, 200.0, 2, False, False),
    (4, 10.0, 0, True, True),  # all died: not in family_truth
    (5, 200.0, 2, False, False),  # ties with 3 on consumption: 3 comes first
    (6, 150.0, 2, False, False),
    (7, None, 5, False, False),  # no consumption: no decile, weighs nothing
]
# 10 ranked persons: 2 (1) | 1 (3) | 6 (2) | 3 (2) | 5 (2)
# people before: 0, 1, 4, 6, 8 -> deciles 1, 2, 5, 7, 9
EXPECTED_GOLDEN = {
    10: (1, False, 3, 2),
    20: (2, False, 3, 3),
    30: (1, True, 1, 1),
    40: (5, False, 2, 1),
    50: (5, True, 1, 1),
    60: (None, False, 1, 0),
}
EXPECTED_TRUTH = {
    # true id: (family_id, persons, poor, extreme, decile)
    1: (10, 3, True, False, 2),
    2: (20, 1, True, True, 1),
    3: (None, 2, False, False, 7),
    5: (40, 2, False, False, 9),
    6: (None, 2, False, False, 5),
    7: (None, 5, False, False, None),
}


def _truth_records() -> pa.Table:
    rows: list[dict[str, Any]] = [
        {"source": "src", "file": FILE, "sheet": None, "row": r, "person_id": p, "family_id": f, "errors": []}
        for r, p, f in TRUTH_RECORDS
    ]
    schema = pa.schema(
        [
            ("source", pa.string()),
            ("file", pa.string()),
            ("sheet", pa.string()),
            ("row", pa.int64()),
            ("person_id", pa.int64()),
            ("family_id", pa.int64()),
            ("errors", pa.list_(pa.string())),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _links(extra: list[dict[str, Any]] | None = None) -> pa.Table:
    level = {r: "person" if p is not None else "family" for r, p, _ in TRUTH_RECORDS}
    rows = [
        {"source": "src", "file": FILE, "sheet": None, "row": r, "level": level[r], "person_id": None, "family_id": f}
        for r, f in LINKS
    ]
    schema = pa.schema(
        [
            ("source", pa.string()),
            ("file", pa.string()),
            ("sheet", pa.string()),
            ("row", pa.int64()),
            ("level", pa.string()),
            ("person_id", pa.int64()),
            ("family_id", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows + (extra or []), schema=schema)


def _true_families() -> pa.Table:
    return pa.table(
        {
            "family_id": pa.array([f[0] for f in TRUE_FAMILIES], pa.int64()),
            "consumption_per_capita": pa.array([f[1] for f in TRUE_FAMILIES], pa.float64()),
            "living_members": pa.array([f[2] for f in TRUE_FAMILIES], pa.int64()),
            "household_size": pa.array([f[2] + 1 for f in TRUE_FAMILIES], pa.int64()),
            "poor": pa.array([f[3] for f in TRUE_FAMILIES], pa.bool_()),
            "extreme_poor": pa.array([f[4] for f in TRUE_FAMILIES], pa.bool_()),
            "region_code": pa.array([f"32.04.05.200{f[0]}" for f in TRUE_FAMILIES], pa.string()),
        }
    )


# -- single source: golden families 1..3; source "regsosek" has records of 1 and 2, "pln" of 3
GOLDEN = pa.table(
    {
        "family_id": pa.array([1, 2, 3], pa.int64()),
        "kk": pa.array(["3204050101200001", "3204050101200002", "3204050101200003"], pa.string()),
        "region_code": pa.array(["32.04.05.2001"] * 3, pa.string()),
        "floor_type": pa.array(["KERAMIK", "KERAMIK", "TANAH"], pa.string()),
        "has_car": pa.array([True, True, False], pa.bool_()),
        "electricity_va": pa.array([900, 1300, 450], pa.int64()),
        "pkh": pa.array([False, True, True], pa.bool_()),
        "consumption_per_capita": pa.array([None, 800000.0, None], pa.float64()),
        "size": pa.array([4, 2, 5], pa.int64()),
        "head_sex": pa.array(["L", "P", "L"], pa.string()),
        "sources": pa.array([3, 2, 1], pa.int64()),
        "records": pa.array([5, 2, 1], pa.int64()),
    }
)
# staged records: source, row, observed_at, floor_type, has_car, electricity_va (no pkh column)
STAGED = [
    ("regsosek", 5, dt.date(2022, 1, 1), "TANAH", False, 450),  # family 1, older
    ("regsosek", 7, dt.date(2023, 1, 1), "KERAMIK", True, 2200),  # family 1, latest, larger row
    ("regsosek", 3, dt.date(2023, 1, 1), "SEMEN", None, 900),  # family 1, latest, smallest row: chosen
    ("regsosek", 4, dt.date(2020, 5, 1), "BAMBU", True, None),  # family 2
    ("regsosek", 9, dt.date(2024, 1, 1), "KAYU", False, 450),  # not linked to a family
    ("pln", 3, dt.date(2025, 1, 1), None, None, 2200),  # family 3, another source, same row
]
SS_LINKS = {("regsosek", 5): 1, ("regsosek", 7): 1, ("regsosek", 3): 1, ("regsosek", 4): 2, ("regsosek", 9): None,
            ("pln", 3): 3}  # fmt: skip
EXPECTED_SINGLE = [
    {"family_id": 1, "kk": "3204050101200001", "region_code": "32.04.05.2001", "floor_type": "SEMEN",
     "has_car": None, "electricity_va": 900, "pkh": None, "consumption_per_capita": None, "size": 4,
     "head_sex": "L", "sources": 1, "records": 3},
    {"family_id": 2, "kk": "3204050101200002", "region_code": "32.04.05.2001", "floor_type": "BAMBU",
     "has_car": True, "electricity_va": None, "pkh": None, "consumption_per_capita": 800000.0, "size": 2,
     "head_sex": "P", "sources": 1, "records": 1},
]  # fmt: skip


def _staged() -> pa.Table:
    return pa.table(
        {
            "source": pa.array([s[0] for s in STAGED], pa.string()),
            "file": pa.array([f"{s[0]}/data.csv" for s in STAGED], pa.string()),
            "sheet": pa.array([None] * len(STAGED), pa.string()),
            "row": pa.array([s[1] for s in STAGED], pa.int64()),
            "observed_at": pa.array([s[2] for s in STAGED], pa.date32()),
            "floor_type": pa.array([s[3] for s in STAGED], pa.string()),
            "has_car": pa.array([s[4] for s in STAGED], pa.bool_()),
            "electricity_va": pa.array([s[5] for s in STAGED], pa.int64()),
        }
    )


def _ss_links() -> pa.Table:
    keys = list(SS_LINKS)
    return pa.table(
        {
            "source": pa.array([k[0] for k in keys], pa.string()),
            "file": pa.array([f"{k[0]}/data.csv" for k in keys], pa.string()),
            "sheet": pa.array([None] * len(keys), pa.string()),
            "row": pa.array([k[1] for k in keys], pa.int64()),
            "level": pa.array(["family"] * len(keys), pa.string()),
            "person_id": pa.array([None] * len(keys), pa.int64()),
            "family_id": pa.array(list(SS_LINKS.values()), pa.int64()),
        }
    )


def _check_family_truth(truth: pa.Table) -> None:
    assert truth.column_names == list(FAMILY_TRUTH_COLUMNS)
    assert truth.schema.field("true_decile").type == pa.int64()
    rows = {r["true_family_id"]: r for r in truth.to_pylist()}
    got = {
        k: (r["family_id"], r["true_persons"], r["true_poor"], r["true_extreme_poor"], r["true_decile"])
        for k, r in rows.items()
    }
    assert got == EXPECTED_TRUTH
    assert rows[3]["true_consumption"] == 200.0 and rows[3]["region_code"] == "32.04.05.2003"


def test_known_answers(engine: Engine) -> None:
    """Majority mapping, duplicates, missed families, person-weighted deciles, single source."""
    links = engine.from_arrow(_links())
    records = engine.from_arrow(_truth_records())
    golden_table = engine.materialize(golden_family_truth(engine, links, records))
    golden = golden_table.to_pyarrow()
    assert golden.column_names == list(GOLDEN_TRUTH_COLUMNS)
    got = {r["family_id"]: (r["true_family_id"], r["duplicate"], r["records"], r["true_records"])
           for r in golden.to_pylist()}  # fmt: skip
    assert got == EXPECTED_GOLDEN

    families = engine.from_arrow(_true_families())
    _check_family_truth(family_truth(engine, links, records, families, golden=golden_table).to_pyarrow())

    single = single_source_families(
        engine, engine.from_arrow(_ss_links()), engine.from_arrow(_staged()), engine.from_arrow(GOLDEN), "regsosek"
    ).to_pyarrow()
    assert single.schema.names == GOLDEN.schema.names
    assert [f.type for f in single.schema] == [f.type for f in GOLDEN.schema]
    assert single.sort_by("family_id").to_pylist() == EXPECTED_SINGLE


def test_family_truth_maps_by_itself(duck: Engine) -> None:
    links, records = duck.from_arrow(_links()), duck.from_arrow(_truth_records())
    _check_family_truth(family_truth(duck, links, records, duck.from_arrow(_true_families())).to_pyarrow())


def test_links_of_other_data_are_refused(duck: Engine) -> None:
    stray = {"source": "src", "file": FILE, "sheet": None, "row": 99, "level": "person", "person_id": None,
             "family_id": 70}  # fmt: skip
    with pytest.raises(TruthMismatchError, match="row 99"):
        golden_family_truth(duck, duck.from_arrow(_links([stray])), duck.from_arrow(_truth_records()))
    with pytest.raises(TruthError, match="lack the column"):
        golden_family_truth(duck, duck.from_arrow(_links().drop(["family_id"])), duck.from_arrow(_truth_records()))


def test_load_truth_families(duck: Engine, tmp_path: Path) -> None:
    with pytest.raises(TruthError, match="no true families at"):
        load_truth_families(duck, tmp_path)
    (tmp_path / "truth").mkdir()
    pq.write_table(_true_families().drop(["poor"]), tmp_path / "truth" / "families.parquet")
    with pytest.raises(TruthError, match=r"families.parquet: the true families lack the column\(s\) poor"):
        load_truth_families(duck, tmp_path)
    pq.write_table(_true_families(), tmp_path / "truth" / "families.parquet")
    assert load_truth_families(duck, tmp_path / "truth").count().to_pyarrow().as_py() == len(TRUE_FAMILIES)


def _source(name: str, level: str, fields: list[str]) -> str:
    columns = "\n".join(f'C{i} = "{f}"' for i, f in enumerate(["kk", *fields]))
    return (
        f'[sources.{name}]\nlevel = "{level}"\nfiles = ["{name}.csv"]\nas_of = 2025-01-01\n\n'
        f"[sources.{name}.columns]\n{columns}\n\n"
    )


def test_family_sources(duck: Engine, tmp_path: Path) -> None:
    welfare5 = ["floor_type", "wall_type", "roof_type", "water_source", "has_car"]
    text = (
        '[welfare]\nsurvey = "susenas"\n\n'
        + _source("regsosek", "family", welfare5)
        + _source("p3ke", "family", ["household_size", "pkh", "bpnt", "pbi_jk", "floor_type", "wall_type"])
        + _source("pln", "family", ["electricity_va", "electricity_kwh"])
        + _source("susenas", "family", [*welfare5, "consumption_per_capita"])
        + _source("dtks", "person", ["full_name"])
        + _source("dtsen_lama", "family", [*welfare5[:4], "livestock"])
    )
    (tmp_path / "dtsen.toml").write_text(text, encoding="utf-8")
    settings = load_settings(tmp_path)
    assert family_sources(settings) == ["regsosek", "dtsen_lama"]
    assert "household_size" in SOURCE_FIELDS and "kk" not in SOURCE_FIELDS

    with pytest.raises(SingleSourceError, match="unknown source 'bpjs'"):
        load_source_records(duck, settings, "bpjs")
    with pytest.raises(SingleSourceError, match=r"'dtks' is person-level \(.*dtsen.toml line \d+"):
        load_source_records(duck, settings, "dtks")
    with pytest.raises(SingleSourceError, match="run `dtsen ingest` first"):
        load_source_records(duck, settings, "regsosek")
    records = settings.work_dir / "ingest" / "records" / "regsosek"
    records.mkdir(parents=True)
    pq.write_table(_staged(), records / "part-0.parquet")
    assert load_source_records(duck, settings, "regsosek").count().to_pyarrow().as_py() == len(STAGED)
