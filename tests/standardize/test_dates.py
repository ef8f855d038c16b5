"""Known answers and round trips for date parsing, on every engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtsen.engine import Engine
from dtsen.errors import SettingsError
from dtsen.standardize.dates import FORMATS, age_at, parse_date


def _run(engine: Engine, values: Sequence[str | None], build: Callable[[ir.StringValue], dict[str, Any]]) -> list[dict]:
    """Rows of `build(raw)` in input order; nulls travel as a flag (Spark's from_arrow loses them)."""
    table = engine.from_arrow(
        pa.table({"i": list(range(len(values))), "raw": [v or "" for v in values], "null": [v is None for v in values]})
    )
    raw = ibis.ifelse(table.null, ibis.null("string"), table.raw)
    return table.select("i", **build(raw)).order_by("i").to_pyarrow().drop(["i"]).to_pylist()


AS_OF = dt.date(2025, 6, 30)
ALL = list(FORMATS)
D = dt.date

# raw -> (value, missing, invalid), all formats allowed in FORMATS order
DATES: list[tuple[str | None, dt.date | None, bool, bool]] = [
    ("12-03-1990", D(1990, 3, 12), False, False),
    (" 1-2-1990 ", D(1990, 2, 1), False, False),
    ("03/04/1985", D(1985, 4, 3), False, False),
    ("1990-02-03", D(1990, 2, 3), False, False),
    ("1990-2-3", D(1990, 2, 3), False, False),
    ("1990-02-03 00:00:00", D(1990, 2, 3), False, False),
    ("1990-02-03T13:45", D(1990, 2, 3), False, False),
    ("19900203", D(1990, 2, 3), False, False),
    ("33000", D(1990, 5, 7), False, False),
    ("33000.0", D(1990, 5, 7), False, False),
    ("45838.75", D(2025, 6, 30), False, False),  # the fraction is a time of day
    ("46203", D(2026, 6, 30), False, False),  # as_of + 1 year: the last serial accepted
    ("2", D(1900, 1, 1), False, False),  # the first serial accepted
    ("01-02-03", D(2003, 2, 1), False, False),
    ("30-06-25", D(2025, 6, 30), False, False),  # not after as_of: 20YY
    ("01-07-25", D(1925, 7, 1), False, False),  # after as_of: 19YY
    ("29-02-2000", D(2000, 2, 29), False, False),
    ("29-02-2024", D(2024, 2, 29), False, False),
    ("31-12-1800", D(1800, 12, 31), False, False),
    ("29-02-1900", None, False, True),
    ("29-02-2023", None, False, True),
    ("31-02-1990", None, False, True),
    ("31-04-1990", None, False, True),
    ("00-01-1990", None, False, True),
    ("1990-13-01", None, False, True),
    ("1990-00-10", None, False, True),
    ("32-01-1990", None, False, True),
    ("01-01-0990", None, False, True),
    ("abc", None, False, True),
    ("3204051203900001", None, False, True),  # a NIK is not a date
    ("1", None, False, True),  # serial 1 is before 1900-01-01
    ("46204", None, False, True),  # serial after as_of + 1 year
    ("123456", None, False, True),  # more than five digits: not a serial
    ("12.03.1990", None, False, True),
    ("", None, True, False),
    ("   ", None, True, False),
    ("-", None, True, False),
    (None, None, True, False),
]


def test_known_dates(engine: Engine) -> None:
    def build(raw: ir.StringValue) -> dict[str, Any]:
        p = parse_date(raw, ALL, AS_OF)
        return {"value": p.value, "missing": p.missing, "invalid": p.invalid, "age": age_at(p.value, AS_OF)}

    rows = _run(engine, [raw for raw, *_ in DATES], build)
    got = [(raw, r["value"], r["missing"], r["invalid"]) for (raw, *_), r in zip(DATES, rows, strict=True)]
    assert got == DATES
    assert rows[0]["age"] == 35
    assert rows[14]["age"] == 0
    assert rows[-1]["age"] is None


def test_first_matching_format_wins(duck: Engine) -> None:
    # "01-02-2003" could be read as D-M-Y only; "2003-02-01" only as Y-M-D: each format applies to its shape
    rows = _run(
        duck,
        ["01-02-2003", "2003-02-01", "20030201"],
        lambda r: {"v": parse_date(r, ["YYYY-MM-DD", "DD-MM-YYYY"], AS_OF).value},
    )
    assert [r["v"] for r in rows] == [D(2003, 2, 1), D(2003, 2, 1), None]
    # a shape that matches but gives no real date is invalid, even if a later format would read it
    rows = _run(duck, ["20031301"], lambda r: {"inv": parse_date(r, ["YYYYMMDD", "EXCEL_SERIAL"], AS_OF).invalid})
    assert rows[0]["inv"] is True


def test_age_at_birthdays(duck: Engine) -> None:
    births = ["2000-06-30", "2000-07-01", "2004-02-29", "2025-06-30"]
    on = D(2025, 6, 30)
    rows = _run(duck, births, lambda r: {"age": age_at(parse_date(r, ["YYYY-MM-DD"], on).value, on)})
    assert [r["age"] for r in rows] == [25, 24, 21, 0]
    rows = _run(
        duck,
        ["2004-02-29"],
        lambda r: {
            "a": age_at(parse_date(r, ["YYYY-MM-DD"], on).value, D(2025, 2, 28)),
            "b": age_at(parse_date(r, ["YYYY-MM-DD"], on).value, D(2025, 3, 1)),
        },
    )
    assert rows[0] == {"a": 20, "b": 21}


def test_unknown_format_is_a_settings_error() -> None:
    table = ibis.table({"raw": "string"}, name="t")
    with pytest.raises(SettingsError, match="MM-DD-YYYY"):
        parse_date(table.raw, ["MM-DD-YYYY"], AS_OF)


def _write(day: dt.date, fmt: str) -> str:
    if fmt == "EXCEL_SERIAL":
        return f"{(day - dt.date(1899, 12, 30)).days}.0"
    if fmt == "DD-MM-YY":
        return day.strftime("%d-%m-%y")
    python = {"DD-MM-YYYY": "%d-%m-%Y", "DD/MM/YYYY": "%d/%m/%Y", "YYYY-MM-DD": "%Y-%m-%d", "YYYYMMDD": "%Y%m%d"}[fmt]
    text = day.strftime(python)
    return text.replace("-0", "-") if fmt == "DD-MM-YYYY" and day.day % 2 else text  # single digits too


def _two_digit_year_round_trips(day: dt.date) -> bool:
    """DD-MM-YY gives back `day` when the pivot (20YY unless after AS_OF) picks its century."""
    if D(2000, 1, 1) <= day <= AS_OF:
        return True
    return D(1901, 1, 1) <= day < D(2000, 1, 1) and day.replace(year=day.year + 100) > AS_OF


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.lists(st.dates(min_value=D(1900, 1, 1), max_value=D(2199, 12, 31)), min_size=1, max_size=20),
    bad=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 14), st.integers(1800, 2199)), min_size=1, max_size=20),
)
def test_round_trip_duckdb(duck: Engine, days: list[dt.date], bad: list[tuple[int, int, int]]) -> None:
    texts: list[str] = []
    expected: list[dt.date | None] = []
    for day in days:
        for fmt in FORMATS:
            in_range = fmt != "EXCEL_SERIAL" or day <= D(2026, 6, 30)
            if in_range and (fmt != "DD-MM-YY" or _two_digit_year_round_trips(day)):
                texts.append(_write(day, fmt))
                expected.append(day)
    for d, m, y in bad:
        try:
            dt.date(y, m, d)
        except ValueError:
            texts.append(f"{d:02d}-{m:02d}-{y}")
            expected.append(None)
    rows = _run(duck, texts, lambda r: {"v": parse_date(r, ALL, AS_OF).value, "inv": parse_date(r, ALL, AS_OF).invalid})
    assert [r["v"] for r in rows] == expected
    assert [r["inv"] for r in rows] == [e is None for e in expected]
