"""The survivorship engine: known answers for every ranking rule, provenance and conflicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from dtsen.consolidate.rules import SurvivorshipError, SurvivorshipSettings
from dtsen.consolidate.survivorship import as_text, survive
from dtsen.engine import Engine

D = dt.date
SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("record_key", pa.string()),
        ("source", pa.string()),
        ("observed_at", pa.date32()),
        ("birth_date", pa.date32()),
        ("sex", pa.string()),
        ("address", pa.string()),
        ("is_deceased", pa.bool_()),
    ]
)
FIELDS = ["birth_date", "sex", "address", "is_deceased"]
DUK, BPJS, DTKS = D(2025, 6, 30), D(2025, 5, 30), D(2024, 6, 30)

# person_id, record_key, source, observed_at, birth_date, sex, address, is_deceased
ROWS: list[tuple[Any, ...]] = [
    # 1: source order, Dukcapil first, although two other sources agree on another date
    (1, "k11", "dukcapil", DUK, D(1980, 2, 1), "L", "JL A", False),
    (1, "k12", "bpjs", BPJS, D(1980, 1, 2), "L", None, None),
    (1, "k13", "dtks", DTKS, D(1980, 1, 2), "L", "JL LAMA", None),
    # 2: most recent address; a blank is no value
    (2, "k21", "dtks", DTKS, None, None, "JL LAMA 2", None),
    (2, "k22", "regsosek_art", D(2022, 11, 15), None, None, "JL LEBIH LAMA", None),
    (2, "k23", "dukcapil", DUK, D(1990, 5, 5), "P", "  ", None),
    # 3: a field check wins over Dukcapil, old as it is
    (3, "k31", "cek_lapangan", D(2020, 1, 1), None, "P", None, None),
    (3, "k32", "dukcapil", DUK, None, "L", None, None),
    # 4: same date: the value more sources agree on
    (4, "k41", "src_a", D(2025, 1, 1), None, None, "X", None),
    (4, "k42", "src_b", D(2025, 1, 1), None, None, "Y", None),
    (4, "k43", "src_c", D(2025, 1, 1), None, None, "Y", None),
    # 5: a listed source beats newer unlisted ones; 6: unlisted among themselves by recency
    (5, "k51", "other1", D(2025, 1, 1), D(2000, 1, 1), None, None, None),
    (5, "k52", "dtks", D(2020, 1, 1), D(2000, 1, 2), None, None, None),
    (6, "k61", "other1", D(2025, 1, 1), D(2001, 1, 1), None, None, None),
    (6, "k62", "other2", D(2023, 1, 1), D(2001, 2, 2), None, None, None),
    # 9: everything equal but the record key
    (9, "k92", "dukcapil", DUK, None, None, "A", None),
    (9, "k91", "dukcapil", DUK, None, None, "B", None),
    # 10: the chosen source is trusted and so is the other one: a conflict
    (10, "k101", "bpjs", BPJS, None, "L", None, None),
    (10, "k102", "dtks", DTKS, None, "P", None, None),
    # 11: a record without any value still gives a golden row
    (11, "k111", "dtks", DTKS, None, None, None, None),
]
TRUST = {
    "dukcapil": {"birth_date": 1.0, "sex": 1.0},
    "bpjs": {"birth_date": 0.8, "sex": 0.9},
    "dtks": {"birth_date": 0.6, "sex": 0.8},  # birth date not trusted: no conflict from it
}

GOLDEN = [
    (1, D(1980, 2, 1), "L", "JL A", False, 3, 3),
    (2, D(1990, 5, 5), "P", "JL LAMA 2", None, 3, 3),
    (3, None, "P", None, None, 2, 2),
    (4, None, None, "Y", None, 3, 3),
    (5, D(2000, 1, 2), None, None, None, 2, 2),
    (6, D(2001, 1, 1), None, None, None, 2, 2),
    (9, None, None, "B", None, 1, 2),
    (10, None, "L", None, None, 2, 2),
    (11, None, None, None, None, 1, 1),
]
# id, field, value, source, record_key, observed_at, agreeing_sources, candidate_sources
PROVENANCE = [
    (1, "address", "JL A", "dukcapil", "k11", DUK, 1, 2),
    (1, "birth_date", "1980-02-01", "dukcapil", "k11", DUK, 1, 3),
    (1, "is_deceased", "false", "dukcapil", "k11", DUK, 1, 1),
    (1, "sex", "L", "dukcapil", "k11", DUK, 3, 3),
    (2, "address", "JL LAMA 2", "dtks", "k21", DTKS, 1, 2),
    (2, "birth_date", "1990-05-05", "dukcapil", "k23", DUK, 1, 1),
    (2, "sex", "P", "dukcapil", "k23", DUK, 1, 1),
    (3, "sex", "P", "cek_lapangan", "k31", D(2020, 1, 1), 1, 2),
    (4, "address", "Y", "src_b", "k42", D(2025, 1, 1), 2, 3),
    (5, "birth_date", "2000-01-02", "dtks", "k52", D(2020, 1, 1), 1, 2),
    (6, "birth_date", "2001-01-01", "other1", "k61", D(2025, 1, 1), 1, 2),
    (9, "address", "B", "dukcapil", "k91", DUK, 1, 1),
    (10, "sex", "L", "bpjs", "k101", BPJS, 1, 2),
]
# 3: the field check is not a trusted source of sex, Dukcapil is: it was settled on purpose
CONFLICTS = [
    ("person", 1, "birth_date", "1980-02-01", "dukcapil", "1980-01-02", "bpjs", BPJS),
    ("person", 10, "sex", "L", "bpjs", "P", "dtks", DTKS),
]


def _records(engine: Engine) -> Any:
    cols = list(zip(*ROWS, strict=True))
    return engine.from_arrow(pa.table({f.name: pa.array(c, f.type) for f, c in zip(SCHEMA, cols, strict=True)}))


def _rows(table: Any, order: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.order_by(order).to_pyarrow().to_pylist()]


def test_survive_known_answers(engine: Engine) -> None:
    out = survive(_records(engine), "person_id", FIELDS, SurvivorshipSettings(), "person", TRUST)
    assert _rows(out.table, ["person_id"]) == GOLDEN
    prov = out.provenance
    assert set(prov.columns) == {
        "entity",
        "id",
        "field",
        "value",
        "source",
        "record_key",
        "observed_at",
        "agreeing_sources",
        "candidate_sources",
    }
    assert _rows(prov.drop("entity"), ["id", "field"]) == PROVENANCE
    assert prov.entity.to_pyarrow().unique().to_pylist() == ["person"]
    assert _rows(out.conflicts, ["id", "field", "other_source"]) == CONFLICTS
    _check_text(engine)


def test_golden_types_are_the_canonical_ones(duck: Engine) -> None:
    out = survive(_records(duck), "person_id", FIELDS, SurvivorshipSettings(), "person", TRUST)
    schema = out.table.schema()
    assert [str(schema[c]) for c in ["person_id", "birth_date", "sex", "is_deceased", "records"]] == [
        "int64",
        "date",
        "string",
        "boolean",
        "int64",
    ]


def test_rules_from_the_project_change_the_answer(duck: Engine) -> None:
    rules = SurvivorshipSettings.model_validate(
        {
            "above_all": [],
            "person": {
                "birth_date": {"rule": "most_recent"},
                "address": {"rule": "source_order", "order": ["regsosek_art"]},
            },
        }
    )
    out = survive(_records(duck), "person_id", FIELDS, rules, "person", TRUST)
    got = {r[0]: r[1:4] for r in _rows(out.table, ["person_id"])}
    assert got[1] == (D(1980, 2, 1), "L", "JL A")  # Dukcapil is also the most recent
    assert got[2] == (D(1990, 5, 5), "P", "JL LEBIH LAMA")  # the listed source, however old
    assert got[3] == (None, "L", None)  # no field check above all: Dukcapil
    assert got[5] == (D(2000, 1, 1), None, None)  # other1 is the most recent


def test_a_field_missing_from_the_records_is_null(duck: Engine) -> None:
    out = survive(_records(duck).drop("address"), "person_id", ["sex", "address"], SurvivorshipSettings(), "person")
    rows = _rows(out.table, ["person_id"])
    assert rows[0] == (1, "L", None, 3, 3)
    assert str(out.table.schema()["address"]) == "string"
    assert out.conflicts.count().execute() == 0  # no trust given: nothing is trusted


def test_records_without_the_columns_needed_are_refused(duck: Engine) -> None:
    with pytest.raises(SurvivorshipError, match="lack the column"):
        survive(_records(duck).drop("observed_at"), "person_id", FIELDS, SurvivorshipSettings(), "person")


def _check_text(engine: Engine) -> None:
    """Values as text are the same on both engines (Spark writes 1.2345678E7 for a double)."""
    t = engine.from_arrow(
        pa.table(
            {
                "i": [0, 1, 2, 3, 4, 5],
                "f": [36.5, 450000.0, 0.0, 12345678.25, -0.5, None],
                "s": ["A", " ", "", " B ", None, "C"],
            }
        )
    )
    out = t.select("i", f=as_text(t.f), s=as_text(t.s)).order_by("i").to_pyarrow()
    assert out.column("f").to_pylist() == ["36.5", "450000", "0", "12345678.25", "-0.5", None]
    assert out.column("s").to_pylist() == ["A", None, None, "B", None, "C"]
