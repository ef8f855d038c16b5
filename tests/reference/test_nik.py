"""NIK parsing: known answers on both engines, the Python twin, Excel damage per value and per column."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtsen.engine import Engine
from dtsen.ingest.reasons import REASONS
from dtsen.reference import (
    RegionMaster,
    check_nik,
    flag_rounded_column,
    nik_birth_date_mismatch,
    nik_parts,
    nik_sex_mismatch,
)

AS_OF = dt.date(2025, 6, 30)
FIELDS = (
    "clean",
    "missing",
    "excel_damaged",
    "bad_format",
    "bad_date",
    "bad_serial",
    "district_code",
    "birth_date",
    "sex",
)


@pytest.fixture(scope="module")
def duck() -> Iterator[Engine]:
    """One DuckDB engine for all the examples hypothesis generates in this module."""
    eng = Engine.duckdb(memory_limit="1GB", threads=2)
    yield eng
    eng.close()


def register(engine: Engine, **columns: list[Any]) -> ir.Table:
    """A table (i, *columns) of string columns on the engine, with real nulls.

    Works around Engine.from_arrow on Spark turning a null string into 'NaN': nulls travel as
    separate flags and are restored with an expression.
    """
    n = len(next(iter(columns.values())))
    data: dict[str, list[Any]] = {"i": list(range(n))}
    for name, values in columns.items():
        data[name] = ["" if v is None else str(v) for v in values]
        data[f"_{name}_null"] = [v is None for v in values]
    t = engine.from_arrow(pa.table(data))
    return t.select("i", **{c: ibis.ifelse(t[f"_{c}_null"], ibis.null("string"), t[c]) for c in columns})


def evaluate(engine: Engine, raws: list[str | None], as_of: dt.date) -> list[dict[str, Any]]:
    t = register(engine, raw=raws)
    p = nik_parts(t.raw, as_of)
    out = t.select("i", **{f: getattr(p, f) for f in FIELDS}).order_by("i").to_pyarrow()
    return [{f: row[f] for f in FIELDS} for row in out.to_pylist()]


def twin(raw: str | None, as_of: dt.date) -> dict[str, Any]:
    check = check_nik(raw, as_of)
    return {f: getattr(check, f) for f in FIELDS}


D = dt.date
# raw, clean, reasons, birth date, sex
CASES: list[tuple[str | None, str | None, set[str], dt.date | None, str | None]] = [
    ("3204051205900001", "3204051205900001", set(), D(1990, 5, 12), "L"),
    ("3204055205900001", "3204055205900001", set(), D(1990, 5, 12), "P"),
    ("3204057112850123", "3204057112850123", set(), D(1985, 12, 31), "P"),
    ("3204053112850123", "3204053112850123", set(), D(1985, 12, 31), "L"),
    ("3204053006250001", "3204053006250001", set(), D(2025, 6, 30), "L"),  # on as_of: 20YY
    ("3204050107250001", "3204050107250001", set(), D(1925, 7, 1), "L"),  # after as_of: 19YY
    ("3204052902000001", "3204052902000001", set(), D(2000, 2, 29), "L"),
    ("3204056902960001", "3204056902960001", set(), D(1996, 2, 29), "P"),
    ("3204052902010001", "3204052902010001", {"nik_bad_date"}, None, "L"),
    ("3204053102900001", "3204053102900001", {"nik_bad_date"}, None, "L"),
    ("3204053002900001", "3204053002900001", {"nik_bad_date"}, None, "L"),
    ("3204057102900001", "3204057102900001", {"nik_bad_date"}, None, "P"),
    ("3204050005900001", "3204050005900001", {"nik_bad_date"}, None, None),
    ("3204053205900001", "3204053205900001", {"nik_bad_date"}, None, None),
    ("3204054005900001", "3204054005900001", {"nik_bad_date"}, None, None),
    ("3204057205900001", "3204057205900001", {"nik_bad_date"}, None, None),
    ("3204051213900001", "3204051213900001", {"nik_bad_date"}, None, "L"),
    ("3204051200900001", "3204051200900001", {"nik_bad_date"}, None, "L"),
    ("3204051205900000", "3204051205900000", {"nik_bad_serial"}, D(1990, 5, 12), "L"),
    ("3204.0512.0590.0001", "3204051205900001", set(), D(1990, 5, 12), "L"),
    ("32.04.05.120590.0001", "3204051205900001", set(), D(1990, 5, 12), "L"),
    ("320405120590.0001", "3204051205900001", set(), D(1990, 5, 12), "L"),
    ("3204-0512-0590-0001", "3204051205900001", set(), D(1990, 5, 12), "L"),
    (" 3204 0512 0590 0001\u00a0", "3204051205900001", set(), D(1990, 5, 12), "L"),
    ("'3204051205900001", "3204051205900001", set(), D(1990, 5, 12), "L"),
    ("3.20405E+15", None, {"nik_excel_damaged"}, None, None),
    ("3,20405E+15", None, {"nik_excel_damaged"}, None, None),
    ("3.20405e15", None, {"nik_excel_damaged"}, None, None),
    ("3204051205900001.0", None, {"nik_excel_damaged"}, None, None),
    ("3204051205900001.00", None, {"nik_excel_damaged"}, None, None),
    ("3204051205900001,0", None, {"nik_excel_damaged"}, None, None),
    ("320405120590000.5", None, {"nik_excel_damaged"}, None, None),
    ("12345", None, {"nik_bad_format"}, None, None),
    ("32040512059000011", None, {"nik_bad_format"}, None, None),
    ("3204O51205900001", None, {"nik_bad_format"}, None, None),
    (None, None, {"nik_missing"}, None, None),
    ("", None, {"nik_missing"}, None, None),
    (" \t ", None, {"nik_missing"}, None, None),
]


def expected_fields(case: tuple[str | None, str | None, set[str], dt.date | None, str | None]) -> dict[str, Any]:
    _, clean, reasons, birth, sex = case
    return {
        "clean": clean,
        "missing": "nik_missing" in reasons,
        "excel_damaged": "nik_excel_damaged" in reasons,
        "bad_format": "nik_bad_format" in reasons,
        "bad_date": "nik_bad_date" in reasons,
        "bad_serial": "nik_bad_serial" in reasons,
        "district_code": f"{clean[:2]}.{clean[2:4]}.{clean[4:6]}" if clean else None,
        "birth_date": birth,
        "sex": sex,
    }


def test_known_answers_on_the_engine(engine: Engine) -> None:
    got = evaluate(engine, [c[0] for c in CASES], AS_OF)
    for case, row in zip(CASES, got, strict=True):
        assert row == expected_fields(case), case[0]


@pytest.mark.parametrize("case", CASES, ids=[repr(c[0]) for c in CASES])
def test_known_answers_in_python(case: tuple[str | None, str | None, set[str], dt.date | None, str | None]) -> None:
    check = check_nik(case[0], AS_OF)
    assert twin(case[0], AS_OF) == expected_fields(case)
    assert set(check.reasons) == case[2]
    assert check.raw == case[0]


def test_reason_codes_exist() -> None:
    codes = {r for case in CASES for r in check_nik(case[0], AS_OF).reasons}
    assert codes == {"nik_missing", "nik_excel_damaged", "nik_bad_format", "nik_bad_date", "nik_bad_serial"}
    assert codes <= set(REASONS)
    assert "nik_bad_region" in REASONS


def test_district_reason_with_a_master(refdata: Any) -> None:
    master = RegionMaster.load(refdata / "regions.csv")
    assert check_nik("3204051205900001", AS_OF, master).reasons == []
    assert check_nik("3204991205900001", AS_OF, master).reasons == ["nik_bad_region"]
    assert check_nik("3204991205900001", AS_OF, RegionMaster.empty()).reasons == []


# -- the Python twin agrees with the engine on generated strings (DuckDB only: fast) --------------
def _nik(district: str, born: dt.date, female: bool, serial: int) -> str:
    return f"{district}{born.day + 40 * female:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


_NIKS = st.builds(
    _nik,
    st.text("0123456789", min_size=6, max_size=6),
    st.dates(dt.date(1920, 1, 1), dt.date(2030, 12, 31)),
    st.booleans(),
    st.integers(0, 9999),
)


def _mutate(nik: str, pos: int, digit: str) -> str:
    return nik[:pos] + digit + nik[pos + 1 :]


def _separate(nik: str, cuts: list[tuple[int, str]]) -> str:
    for pos, sep in sorted(cuts, reverse=True):
        nik = nik[:pos] + sep + nik[pos:]
    return nik


_RAW = st.one_of(
    _NIKS,
    st.builds(_mutate, _NIKS, st.integers(0, 15), st.sampled_from("0123456789")),
    st.builds(
        _separate,
        _NIKS,
        st.lists(st.tuples(st.integers(0, 16), st.sampled_from([" ", ".", "-", "\u00a0", ",", "'", "\t"])), max_size=4),
    ),
    _NIKS.map(lambda n: f"{int(n):.5E}"),
    _NIKS.map(lambda n: f"{int(n):.14e}".replace(".", ",")),
    st.builds(lambda n, tail: n + tail, _NIKS, st.sampled_from([".0", ".00", ",0", ".5", ".000001", "0", ""])),
    _NIKS.map(lambda n: n[:15] + "." + n[15:]),
    st.builds(lambda n, k: n[:k], _NIKS, st.integers(0, 16)),
    st.text("0123456789 .,-eE+'x\u00a0", max_size=22),
    st.none(),
)


@settings(max_examples=40, deadline=None)
@given(raws=st.lists(_RAW, min_size=1, max_size=60), as_of=st.dates(dt.date(2000, 1, 1), dt.date(2035, 12, 31)))
def test_python_twin_agrees_with_the_engine(duck: Engine, raws: list[str | None], as_of: dt.date) -> None:
    got = evaluate(duck, raws, as_of)
    for raw, row in zip(raws, got, strict=True):
        assert row == twin(raw, as_of), raw


# -- Excel rounding per column ---------------------------------------------------------------
def test_flag_rounded_column(engine: Engine) -> None:
    rows: list[tuple[str, str, str | None, bool]] = []  # source, file, clean, expected

    def group(file: str, zeros: int, others: int, nulls: int, flagged: bool) -> None:
        for k in range(zeros):
            rows.append(("s", file, f"32040512059{k:04d}0", flagged))
        for k in range(others):
            rows.append(("s", file, f"32040512059{k:04d}{1 + k % 9}", False))
        rows.extend(("s", file, None, False) for _ in range(nulls))

    group("all_zero", 6, 0, 0, True)
    group("few_zero", 3, 7, 0, False)
    group("too_small", 4, 0, 0, False)  # below min_count
    group("majority", 6, 4, 0, True)
    group("half", 5, 5, 0, False)  # share must exceed one half
    group("nulls_ignored", 5, 1, 10, True)
    rows.append(("other", "all_zero", "3204051205900001", False))  # `by` includes the source
    t = register(engine, src=[r[0] for r in rows], file=[r[1] for r in rows], nik=[r[2] for r in rows])
    out = flag_rounded_column(t, "nik", by=["src", "file"]).order_by("i").to_pyarrow()
    assert out.column_names == ["i", "src", "file", "nik", "nik_rounded"]
    assert out.column("nik_rounded").to_pylist() == [r[3] for r in rows]
    whole = flag_rounded_column(t, "nik", by=[], min_count=3, share=0.3).order_by("i").to_pyarrow()
    assert whole.column("nik_rounded").to_pylist() == [r[2] is not None and r[2].endswith("0") for r in rows]


def test_clean_files_are_never_flagged(duck: Engine) -> None:
    rng = random.Random(20250630)
    src, clean = [], []
    for f in range(400):
        for _ in range(rng.randint(1, 60)):
            src.append(f"file{f}")
            clean.append("".join(rng.choice("0123456789") for _ in range(16)))
    t = duck.from_arrow(pa.table({"file": src, "nik": clean}))
    out = flag_rounded_column(t, "nik", by=["file"]).to_pyarrow()
    assert sum(out.column("nik_rounded").to_pylist()) == 0
    assert sum(n.endswith("0") for n in clean) > 0.08 * len(clean)  # genuine zeros were there


def test_false_alarm_bound_at_the_defaults() -> None:
    """P(a clean file of n NIKs is flagged) = P(X >= max(5, floor(n/2)+1)), X ~ Binomial(n, 0.1)."""

    def p_flag(n: int) -> float:
        k0 = max(5, n // 2 + 1)
        return sum(math.comb(n, k) * 0.1**k * 0.9 ** (n - k) for k in range(k0, n + 1))

    worst = max(range(1, 400), key=p_flag)
    assert worst == 9
    assert p_flag(worst) < 0.001
    assert p_flag(4) == 0.0


# -- mismatches with recorded fields ---------------------------------------------------------------
def test_birth_date_and_sex_mismatch(engine: Engine) -> None:
    cases = [
        # nik, recorded birth date, recorded sex, date mismatch, sex mismatch
        ("3204051205900001", "1990-05-12", "L", False, False),
        ("3204055205900001", "1990-05-12", "P", False, False),
        ("3204055205900001", "1990-05-12", "L", False, True),
        ("3204051205900001", "1990-05-12", " p ", False, True),
        ("3204051205900001", "2090-05-12", "L", False, False),  # the NIK cannot know the century
        ("3204051205900001", "1990-05-13", "L", True, False),
        ("3204051205900001", "1990-06-12", "L", True, False),
        ("3204051205900001", "1991-05-12", "L", True, False),
        ("3204051205900001", None, None, False, False),
        ("3204051205900001", "1991-05-12", "X", True, False),  # an unknown sex code is another check
        ("3204053102900001", "1990-02-28", "L", False, False),  # the NIK date is not real
        ("3.20405E+15", "1990-05-12", "P", False, False),
        (None, "1990-05-12", "P", False, False),
    ]
    t = register(engine, nik=[c[0] for c in cases], bd=[c[1] for c in cases], sex=[c[2] for c in cases])
    parts = nik_parts(t.nik, AS_OF)
    out = t.select(
        "i",
        date=nik_birth_date_mismatch(parts, t.bd.cast("date")),
        sex=nik_sex_mismatch(parts, t.sex),
    )
    rows = out.order_by("i").to_pyarrow().to_pylist()
    assert [(r["date"], r["sex"]) for r in rows] == [(c[3], c[4]) for c in cases]
