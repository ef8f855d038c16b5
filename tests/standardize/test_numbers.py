"""Known answers for number parsing, on every engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.engine import Engine
from dtsen.standardize.numbers import parse_float, parse_int


def _run(engine: Engine, values: Sequence[str | None], build: Callable[[ir.StringValue], dict[str, Any]]) -> list[dict]:
    """Rows of `build(raw)` in input order; nulls travel as a flag (Spark's from_arrow loses them)."""
    table = engine.from_arrow(
        pa.table({"i": list(range(len(values))), "raw": [v or "" for v in values], "null": [v is None for v in values]})
    )
    raw = ibis.ifelse(table.null, ibis.null("string"), table.raw)
    return table.select("i", **build(raw)).order_by("i").to_pyarrow().drop(["i"]).to_pylist()


# raw -> (int, float auto, float dot); None value with a present raw means invalid
NUMBERS: list[tuple[str | None, int | None, float | None, float | None]] = [
    ("1300", 1300, 1300.0, 1300.0),
    ("-5", -5, -5.0, -5.0),
    ("1.300", 1300, 1300.0, 1.3),
    ("12.500.000", 12500000, 12500000.0, None),
    ("1,300", 1300, 1.3, 1300.0),
    ("1,300,000", 1300000, 1300000.0, 1300000.0),
    ("36,5", None, 36.5, None),
    ("36.5", None, 36.5, 36.5),
    ("36.75", None, 36.75, 36.75),
    ("36.0", 36, 36.0, 36.0),
    ("36,0", 36, 36.0, None),
    ("1.300,50", None, 1300.5, None),
    ("1.300,00", 1300, 1300.0, None),
    ("1,300.50", None, 1300.5, 1300.5),
    ("0.500", None, 0.5, 0.5),
    ("1234.567", None, 1234.567, 1234.567),
    ("Rp 1.300", 1300, 1300.0, 1.3),
    ("Rp. 1.300,-", 1300, 1300.0, 1.3),
    ("rp1.300.000,-", 1300000, 1300000.0, None),
    (" 1 300 ", 1300, 1300.0, 1300.0),
    ("007", 7, 7.0, 7.0),
    ("12345678901234567890", None, 12345678901234567890.0, 12345678901234567890.0),
    ("abc", None, None, None),
    ("1.2.3", None, None, None),
    ("1e5", None, None, None),
    ("--5", None, None, None),
    ("", None, None, None),
    ("  ", None, None, None),
    ("-", None, None, None),
    (None, None, None, None),
]
MISSING = {"", "  ", "-", None}


def test_known_numbers(engine: Engine) -> None:
    def build(raw: ir.StringValue) -> dict[str, Any]:
        i, f, d = parse_int(raw), parse_float(raw), parse_float(raw, decimal="dot")
        return {
            "int": i.value,
            "float": f.value,
            "dot": d.value,
            "missing": i.missing,
            "int_invalid": i.invalid,
            "float_invalid": f.invalid,
            "dot_invalid": d.invalid,
        }

    raws = [raw for raw, *_ in NUMBERS]
    rows = _run(engine, raws, build)
    assert [(raw, r["int"], r["float"], r["dot"]) for raw, r in zip(raws, rows, strict=True)] == NUMBERS
    for (raw, i, f, d), r in zip(NUMBERS, rows, strict=True):
        assert r["missing"] is (raw in MISSING), raw
        assert r["int_invalid"] is (raw not in MISSING and i is None), raw
        assert r["float_invalid"] is (raw not in MISSING and f is None), raw
        assert r["dot_invalid"] is (raw not in MISSING and d is None), raw
