"""Golden families: composition derived from the members, survivorship, provenance, conflicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from dtsen.consolidate.families import COMPOSITION_FIELDS, FAMILY_GOLDEN_FIELDS, age_on, golden_families
from dtsen.consolidate.rules import SurvivorshipError, SurvivorshipSettings
from dtsen.engine import Engine

D = dt.date
AS_OF = D(2025, 6, 30)
SEEN = D(2025, 6, 30)
PERSON_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("family_id", pa.int64()),
        ("kk", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.date32()),
        ("relationship", pa.string()),
        ("disability", pa.string()),
        ("is_deceased", pa.bool_()),
        ("region_code", pa.string()),
        ("kk_observed_at", pa.date32()),
    ]
)
R1, R2 = "32.04.01.2001", "32.04.02.2002"
PERSONS: list[tuple[Any, ...]] = [
    # family 1: the head on the KK has died; the widow, the oldest living member, heads it
    (101, 1, "K1", "L", D(1950, 3, 1), "KEPALA_KELUARGA", "TIDAK", True, R1, SEEN),
    (102, 1, "K1", "P", D(1955, 7, 1), "ISTRI", "TIDAK", False, R1, SEEN),  # 69: elderly
    (103, 1, "K1", "L", D(2012, 7, 1), "ANAK", None, False, R1, SEEN),  # 12 (birthday tomorrow): child
    (104, 1, "K1", "P", D(2010, 6, 30), "ANAK", "TIDAK", None, R1, SEEN),  # 15 today: working age
    (105, 1, "K1", "L", None, "CUCU", "FISIK", False, R1, SEEN),  # age unknown, disabled
    (106, 1, "K2", "P", D(1965, 6, 30), "FAMILI_LAIN", "TIDAK", False, R1, SEEN),  # 60 today: elderly
    # family 2: everyone has died
    (201, 2, "K20", "L", D(1940, 1, 1), "KEPALA_KELUARGA", None, True, R1, SEEN),
    # family 4: two heads on record (a data error): the older one; no family record: the head's region
    (401, 4, "K4", "L", D(1970, 1, 1), "KEPALA_KELUARGA", None, False, R1, SEEN),
    (402, 4, "K4", "L", D(1960, 1, 1), "KEPALA_KELUARGA", None, False, R2, SEEN),
]
FAMILY_SCHEMA = pa.schema(
    [
        ("family_id", pa.int64()),
        ("record_key", pa.string()),
        ("source", pa.string()),
        ("observed_at", pa.date32()),
        ("kk", pa.string()),
        ("region_code", pa.string()),
        ("floor_area", pa.float64()),
        ("has_car", pa.bool_()),
        ("electricity_va", pa.int64()),
    ]
)
REG, SUS, PLN = D(2022, 11, 15), D(2025, 3, 31), D(2025, 6, 30)
FAMILY_RECORDS: list[tuple[Any, ...]] = [
    # family 1: the survey is the most recent; its floor area differs by 28%, its car too
    (1, "f11", "regsosek_keluarga", REG, "K1", R1, 36.0, False, 900),
    (1, "f12", "susenas", SUS, "K1", R2, 50.0, True, None),
    # family 3: no members known; 40 against 45 m2 is within 25%; the census's VA is not trusted
    (3, "f31", "regsosek_keluarga", REG, "K3", R1, 40.0, None, 1300),
    (3, "f32", "susenas", SUS, "K3", None, 45.0, None, None),
    (3, "f33", "pln", PLN, "K3", None, None, None, 900),
]
TRUST = {
    "regsosek_keluarga": {"floor_area": 0.8, "has_car": 0.8, "electricity_va": 0.6},
    "susenas": {"floor_area": 0.9, "has_car": 0.9, "electricity_va": 0.8},
    "pln": {"electricity_va": 1.0},
}
# family_id, kk, region_code, floor_area, has_car, electricity_va, size, members_deceased, children,
# elderly, dependants, working_age, disabled, head_person_id, head_sex, all_deceased, sources, records
GOLDEN = [
    (1, "K1", R2, 50.0, True, 900, 5, 1, 1, 2, 3, 1, 1, 102, "P", False, 2, 2),
    (2, "K20", None, None, None, None, 0, 1, 0, 0, 0, 0, 0, None, None, True, 0, 0),
    (3, "K3", R1, 45.0, None, 900, 0, 0, 0, 0, 0, 0, 0, None, None, False, 3, 3),
    (4, "K4", R2, None, None, None, 2, 0, 0, 1, 1, 1, 0, 402, "L", False, 0, 0),
]
# id, field, value, source, record_key, observed_at, agreeing_sources, candidate_sources
PROVENANCE = [
    (1, "electricity_va", "900", "regsosek_keluarga", "f11", REG, 1, 1),
    (1, "floor_area", "50", "susenas", "f12", SUS, 1, 2),
    (1, "has_car", "true", "susenas", "f12", SUS, 1, 2),
    (1, "kk", "K1", "members", None, SEEN, None, None),
    (1, "region_code", R2, "susenas", "f12", SUS, 1, 2),
    (2, "kk", "K20", "members", None, SEEN, None, None),
    (3, "electricity_va", "900", "pln", "f33", PLN, 1, 2),
    (3, "floor_area", "45", "susenas", "f32", SUS, 1, 2),
    (3, "kk", "K3", "pln", "f33", PLN, 3, 3),
    (3, "region_code", R1, "regsosek_keluarga", "f31", REG, 1, 1),
    (4, "kk", "K4", "members", None, SEEN, None, None),
    (4, "region_code", R2, "members", None, None, None, None),
]
CONFLICTS = [
    ("family", 1, "floor_area", "50", "susenas", "36", "regsosek_keluarga", REG),
    ("family", 1, "has_car", "true", "susenas", "false", "regsosek_keluarga", REG),
]
SHOWN = [
    "family_id",
    "kk",
    "region_code",
    "floor_area",
    "has_car",
    "electricity_va",
    *COMPOSITION_FIELDS,
    "sources",
    "records",
]


def _table(engine: Engine, schema: pa.Schema, rows: list[tuple[Any, ...]]) -> Any:
    cols = list(zip(*rows, strict=True))
    return engine.from_arrow(pa.table({f.name: pa.array(c, f.type) for f, c in zip(schema, cols, strict=True)}))


def _rows(table: Any, order: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.order_by(order).to_pyarrow().to_pylist()]


def test_golden_families_known_answers(engine: Engine) -> None:
    persons = _table(engine, PERSON_SCHEMA, PERSONS)
    records = _table(engine, FAMILY_SCHEMA, FAMILY_RECORDS)
    out = golden_families(records, persons, SurvivorshipSettings(), TRUST, AS_OF)
    assert out.table.columns == ("family_id", *FAMILY_GOLDEN_FIELDS, *COMPOSITION_FIELDS, "sources", "records")
    assert _rows(out.table.select(SHOWN), ["family_id"]) == GOLDEN
    prov = out.provenance.drop("entity")
    assert _rows(prov, ["id", "field"]) == PROVENANCE
    assert _rows(out.conflicts, ["id", "field"]) == CONFLICTS


def test_age_on_the_as_of_date(duck: Engine) -> None:
    births = [D(2000, 6, 30), D(2000, 7, 1), D(2000, 2, 29), D(1999, 12, 31), None]
    t = duck.from_arrow(pa.table({"i": range(len(births)), "b": pa.array(births, pa.date32())}))
    got = t.select("i", a=age_on(t.b, D(2025, 6, 30))).order_by("i").to_pyarrow().column("a").to_pylist()
    assert got == [25, 24, 25, 25, None]
    got = t.select("i", a=age_on(t.b, D(2025, 2, 28))).order_by("i").to_pyarrow().column("a").to_pylist()
    assert got == [24, 24, 24, 25, None]  # a leap-day birthday comes on 1 March in other years


def test_persons_without_the_columns_needed_are_refused(duck: Engine) -> None:
    persons = _table(duck, PERSON_SCHEMA, PERSONS).drop("relationship")
    records = _table(duck, FAMILY_SCHEMA, FAMILY_RECORDS)
    with pytest.raises(SurvivorshipError, match="relationship"):
        golden_families(records, persons, SurvivorshipSettings(), TRUST, AS_OF)
