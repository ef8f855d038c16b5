"""Golden persons: deaths reported by Dukcapil, the KK and its date, counts and conflicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from dtsen.consolidate.persons import PERSON_GOLDEN_FIELDS, golden_persons
from dtsen.consolidate.rules import SurvivorshipSettings
from dtsen.engine import Engine

D = dt.date
DUK, BPJS, DTKS, REG = D(2025, 6, 30), D(2025, 5, 30), D(2024, 6, 30), D(2022, 11, 15)
SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("record_key", pa.string()),
        ("source", pa.string()),
        ("observed_at", pa.date32()),
        ("kk", pa.string()),
        ("is_deceased", pa.bool_()),
        ("death_date", pa.date32()),
    ]
)
ROWS: list[tuple[Any, ...]] = [
    # 1: Dukcapil reports the death; a later field check and BPJS still say alive
    (1, "a1", "dukcapil", DUK, "K1", True, D(2025, 1, 10)),
    (1, "a2", "cek_lapangan", D(2025, 7, 1), None, False, None),
    (1, "a3", "bpjs", BPJS, "K1", False, None),
    # 2: DTKS says dead, Dukcapil alive: alive, and no death date
    (2, "b1", "dukcapil", DUK, "K2", False, None),
    (2, "b2", "dtks", DTKS, "K2", True, D(2024, 3, 3)),
    # 3: no Dukcapil record: the most recent KK, with its date; the census's KK conflicts
    (3, "c1", "dtks", DTKS, "K_DTKS", None, None),
    (3, "c2", "bpjs", BPJS, "K_NEW", None, None),
    (3, "c3", "regsosek_art", REG, "K_OLD", None, None),
    # 4: an older Dukcapil record with the death, a newer one without it: the death stands
    (4, "d1", "dukcapil", D(2024, 1, 1), "K4", True, D(2023, 12, 1)),
    (4, "d2", "dukcapil", DUK, "K4", False, None),
]
TRUST = {
    "dukcapil": {"kk": 1.0, "is_deceased": 0.95},
    "bpjs": {"kk": 0.7, "is_deceased": 0.8},
    "dtks": {"kk": 0.6},
    "regsosek_art": {"kk": 0.8},
}
# person_id, kk, is_deceased, death_date, kk_observed_at, sources, records
GOLDEN = [
    (1, "K1", True, D(2025, 1, 10), DUK, 3, 3),
    (2, "K2", False, None, DUK, 2, 2),
    (3, "K_NEW", None, None, BPJS, 3, 3),
    (4, "K4", True, D(2023, 12, 1), DUK, 1, 2),
]
# id, field, value, source, record_key, agreeing_sources, candidate_sources
PROVENANCE = [
    (1, "death_date", "2025-01-10", "dukcapil", "a1", 1, 1),
    (1, "is_deceased", "true", "dukcapil", "a1", 1, 3),
    (1, "kk", "K1", "dukcapil", "a1", 2, 2),
    (2, "is_deceased", "false", "dukcapil", "b1", 1, 2),
    (2, "kk", "K2", "dukcapil", "b1", 2, 2),
    (3, "kk", "K_NEW", "bpjs", "c2", 1, 3),
    (4, "death_date", "2023-12-01", "dukcapil", "d1", 1, 1),
    (4, "is_deceased", "true", "dukcapil", "d1", 1, 1),
    (4, "kk", "K4", "dukcapil", "d2", 1, 1),
]
CONFLICTS = [
    ("person", 1, "is_deceased", "true", "dukcapil", "false", "bpjs", BPJS),
    ("person", 3, "kk", "K_NEW", "bpjs", "K_OLD", "regsosek_art", REG),
]


def test_golden_persons_known_answers(engine: Engine) -> None:
    cols = list(zip(*ROWS, strict=True))
    records = engine.from_arrow(pa.table({f.name: pa.array(c, f.type) for f, c in zip(SCHEMA, cols, strict=True)}))
    out = golden_persons(records, SurvivorshipSettings(), TRUST)
    assert out.table.columns == ("person_id", *PERSON_GOLDEN_FIELDS, "kk_observed_at", "sources", "records")
    got = out.table.select("person_id", "kk", "is_deceased", "death_date", "kk_observed_at", "sources", "records")
    assert [tuple(r.values()) for r in got.order_by("person_id").to_pyarrow().to_pylist()] == GOLDEN
    prov = out.provenance.select(
        "id", "field", "value", "source", "record_key", "agreeing_sources", "candidate_sources"
    ).order_by(["id", "field"])
    assert [tuple(r.values()) for r in prov.to_pyarrow().to_pylist()] == PROVENANCE
    conflicts = out.conflicts.order_by(["id", "field"]).to_pyarrow().to_pylist()
    assert [tuple(r.values()) for r in conflicts] == CONFLICTS


def test_deaths_from_nobody_leaves_the_rules_alone(duck: Engine) -> None:
    cols = list(zip(*ROWS, strict=True))
    records = duck.from_arrow(pa.table({f.name: pa.array(c, f.type) for f, c in zip(SCHEMA, cols, strict=True)}))
    rules = SurvivorshipSettings.model_validate({"deaths_from": []})
    got = golden_persons(records, rules, TRUST).table.select("person_id", "is_deceased", "death_date")
    assert [tuple(r.values()) for r in got.order_by("person_id").to_pyarrow().to_pylist()] == [
        (1, False, None),  # the field check is above all
        (2, False, None),
        (3, None, None),
        (4, False, None),  # the newer Dukcapil record
    ]


NIK_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("record_key", pa.string()),
        ("source", pa.string()),
        ("observed_at", pa.date32()),
        ("nik", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.date32()),
        ("nik_birth_date", pa.date32()),
        ("nik_sex", pa.string()),
    ]
)
NIK_W = "3204056103100001"  # a woman born 21-03-2010
NIK_M = "3204051503800002"  # a man born 15-03-1980
NIK_ROWS: list[tuple[Any, ...]] = [
    # 1: Dukcapil itself mistyped the birth year (21-03-2001); DTKS and BPJS have the NIK's date
    (1, "w1", "dukcapil", DUK, NIK_W, "P", D(2001, 3, 21), D(2010, 3, 21), "P"),
    (1, "w2", "dtks", DTKS, NIK_W, "P", D(2010, 3, 21), D(2010, 3, 21), "P"),
    # 2: the sex miscoded in Dukcapil; the NIK (day 15: a man) and BPJS say L
    (2, "m1", "dukcapil", DUK, NIK_M, "P", D(1980, 3, 15), D(1980, 3, 15), "L"),
    (2, "m2", "bpjs", BPJS, NIK_M, "L", D(1980, 3, 15), D(1980, 3, 15), "L"),
    # 3: a DTKS year typo under the NIK: Dukcapil wins as it would anyway, and it is a conflict
    (3, "y1", "dukcapil", DUK, NIK_M[:6] + "0101900003", "L", D(1990, 1, 1), D(1990, 1, 1), "L"),
    (3, "y2", "dtks", DTKS, NIK_M[:6] + "0101900003", "L", D(1909, 1, 1), D(1990, 1, 1), "L"),
    # 4: born 1925: the NIK says (20)25, only day, month and two-digit year are compared
    (4, "o1", "dtks", DTKS, NIK_M[:6] + "0203250004", "L", D(1925, 3, 2), D(2025, 3, 2), "L"),
    (4, "o2", "bpjs", BPJS, NIK_M[:6] + "0203250004", "L", D(1952, 3, 2), D(2025, 3, 2), "L"),
]


def test_the_value_the_nik_encodes_wins_and_the_other_is_a_conflict(engine: Engine) -> None:
    cols = list(zip(*NIK_ROWS, strict=True))
    records = engine.from_arrow(
        pa.table({f.name: pa.array(c, f.type) for f, c in zip(NIK_SCHEMA, cols, strict=True)})
    )
    trust = {"dukcapil": {"birth_date": 1.0, "sex": 1.0}, "bpjs": {"birth_date": 0.8, "sex": 0.8}}
    out = golden_persons(records, SurvivorshipSettings(), trust)
    got = out.table.select("person_id", "sex", "birth_date").order_by("person_id").to_pyarrow().to_pylist()
    assert [tuple(r.values()) for r in got] == [
        (1, "P", D(2010, 3, 21)),  # against Dukcapil's own (mistyped) year
        (2, "L", D(1980, 3, 15)),
        (3, "L", D(1990, 1, 1)),
        (4, "L", D(1925, 3, 2)),
    ]
    prov = out.provenance.filter(out.provenance.field == "birth_date").order_by("id")
    assert [(r["id"], r["source"]) for r in prov.to_pyarrow().to_pylist()] == [
        (1, "dtks"), (2, "dukcapil"), (3, "dukcapil"), (4, "dtks"),
    ]  # fmt: skip
    conflicts = out.conflicts.filter(out.conflicts.field.isin(["birth_date", "sex"])).order_by(["id", "field"])
    rows = [(r["id"], r["field"], r["chosen_value"], r["other_value"], r["other_source"])
            for r in conflicts.to_pyarrow().to_pylist()]  # fmt: skip
    assert rows == [
        (1, "birth_date", "2010-03-21", "2001-03-21", "dukcapil"),
        (2, "sex", "L", "P", "dukcapil"),
        (3, "birth_date", "1990-01-01", "1909-01-01", "dtks"),
        (4, "birth_date", "1925-03-02", "1952-03-02", "bpjs"),
    ]
