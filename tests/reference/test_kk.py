"""Nomor KK parsing: the same cleaning and Excel checks as the NIK, and the district check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.ingest.reasons import REASONS
from dtsen.reference import RegionMaster, check_kk, flag_rounded_column, kk_parts, with_district_check

FIELDS = ("clean", "missing", "excel_damaged", "bad_format", "district_code", "bad_serial")

# raw, clean, reasons (no master)
CASES: list[tuple[str | None, str | None, set[str]]] = [
    ("3204050101090001", "3204050101090001", set()),
    ("3204.0501.0109.0001", "3204050101090001", set()),
    ("32.04.05.010109.0001", "3204050101090001", set()),
    (" 3204 0501 0109 0001 ", "3204050101090001", set()),
    ("3204-0501-0109-0001", "3204050101090001", set()),
    ("'3204050101090001", "3204050101090001", set()),
    ("3204050000000000", "3204050000000000", {"kk_bad_serial"}),  # no date check; serial 0000 is Excel's
    ("3204050101090000", "3204050101090000", {"kk_bad_serial"}),  # 0001-0009 rounded to 15 digits
    ("3204050101090010", "3204050101090010", set()),
    ("3.20405E+15", None, {"kk_excel_damaged"}),
    ("3,20405E+15", None, {"kk_excel_damaged"}),
    ("3204050101090001.0", None, {"kk_excel_damaged"}),
    ("3204050101090001,00", None, {"kk_excel_damaged"}),
    ("320405010109000.1", None, {"kk_excel_damaged"}),
    ("320405010109", None, {"kk_bad_format"}),
    ("32040501010900011", None, {"kk_bad_format"}),
    ("KK3204050101090001", None, {"kk_bad_format"}),
    (None, None, {"kk_missing"}),
    ("", None, {"kk_missing"}),
    ("\u00a0", None, {"kk_missing"}),
]

SMALL_MASTER = """code,name,level
32,Jawa Barat,province
32.04,Kabupaten Bandung,regency
32.04.05,Cileunyi,district
"""


def register(engine: Engine, values: list[str | None]) -> ir.Table:
    """A table (i, raw) on the engine with real nulls (Engine.from_arrow on Spark turns them into 'NaN')."""
    data = pa.table(
        {"i": list(range(len(values))), "raw": [v or "" for v in values], "_null": [v is None for v in values]}
    )
    t = engine.from_arrow(data)
    return t.select("i", raw=ibis.ifelse(t._null, ibis.null("string"), t.raw))


def expected_fields(clean: str | None, reasons: set[str]) -> dict[str, Any]:
    return {
        "clean": clean,
        "missing": "kk_missing" in reasons,
        "excel_damaged": "kk_excel_damaged" in reasons,
        "bad_format": "kk_bad_format" in reasons,
        "district_code": f"{clean[:2]}.{clean[2:4]}.{clean[4:6]}" if clean else None,
        "bad_serial": "kk_bad_serial" in reasons,
    }


@pytest.mark.parametrize(("raw", "clean", "reasons"), CASES, ids=[repr(c[0]) for c in CASES])
def test_check_kk(raw: str | None, clean: str | None, reasons: set[str]) -> None:
    check = check_kk(raw)
    assert {f: getattr(check, f) for f in FIELDS} == expected_fields(clean, reasons)
    assert set(check.reasons) == reasons
    assert set(check.reasons) <= set(REASONS)


def test_kk_parts_and_district_check(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text(SMALL_MASTER, encoding="utf-8")
    master = RegionMaster.load(path)
    raws = [c[0] for c in CASES] + ["3273010101090001"]  # a district not in the small master
    t = register(engine, raws)
    parts = kk_parts(t.raw)
    parsed = t.select("i", **{f: getattr(parts, f) for f in FIELDS})
    checked = with_district_check(parsed, "district_code", master, engine)
    rows = checked.order_by("i").to_pyarrow().to_pylist()
    expected = [expected_fields(c[1], c[2]) for c in CASES] + [expected_fields("3273010101090001", set())]
    assert [{f: r[f] for f in FIELDS} for r in rows] == expected
    # Unknown only when a district is present and not in the master; nulls are the format check's.
    assert [r["district_code_known"] for r in rows] == [True] * len(CASES) + [False]
    assert check_kk("3273010101090001", master).reasons == ["kk_bad_region"]
    assert check_kk("3204050101090001", master).reasons == []


def test_rounded_kk_column(duck: Engine) -> None:
    kks = [f"3204050101{k:05d}0" for k in range(8)] + ["3204050101090001"]
    t = duck.from_arrow(pa.table({"f": ["a"] * len(kks), "raw": kks}))
    parts = kk_parts(t.raw)
    out = flag_rounded_column(t.mutate(kk=parts.clean), "kk", by=["f"]).to_pyarrow()
    assert out.column("kk_rounded").to_pylist() == [True] * 8 + [False]
