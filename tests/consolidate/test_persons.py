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
