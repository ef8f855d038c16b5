"""The region master: loading and validation, lookups, name keys and code expressions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtsen.engine import Engine
from dtsen.errors import ReferenceDataError
from dtsen.reference import (
    Region,
    RegionMaster,
    name_key,
    name_key_expr,
    normalize_code,
    region_code_expr,
    region_format_ok,
    with_district_check,
)


@pytest.fixture(scope="module")
def duck() -> Iterator[Engine]:
    """One DuckDB engine for all the examples hypothesis generates in this module."""
    eng = Engine.duckdb(memory_limit="1GB", threads=2)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def master(refdata: Path) -> RegionMaster:
    return RegionMaster.load(refdata / "regions.csv", edition="Kepmendagri 300.2.2-2430/2025")


SMALL = """code,name,level
32,Jawa Barat,province
32.04,Kabupaten Bandung,regency
32.04.05,Cileunyi,district
32.04.05.2001,Cileunyi Kulon,village
32.04.05.2002,Cileunyi Wetan,village
32.73,Kota Bandung,regency
32.73.01,Sukasari,district
"""


def register(engine: Engine, values: list[str | None], name: str = "raw") -> ir.Table:
    """A table (i, <name>) on the engine with real nulls.

    Works around Engine.from_arrow on Spark turning a null string into 'NaN': nulls travel as
    a separate flag and are restored with an expression.
    """
    data = pa.table(
        {"i": list(range(len(values))), name: [v or "" for v in values], "_null": [v is None for v in values]}
    )
    t = engine.from_arrow(data)
    return t.select("i", **{name: ibis.ifelse(t._null, ibis.null("string"), t[name])})


def write(tmp_path: Path, text: str, name: str = "regions.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- pure functions ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("32", "32"),
        ("3204", "32.04"),
        ("320405", "32.04.05"),
        ("3204052001", "32.04.05.2001"),
        ("32.04.05.2001", "32.04.05.2001"),
        (" 32.04.05.2001 ", "32.04.05.2001"),
        ("32 04 05 2001", "32.04.05.2001"),
        ("32-04-05-2001", "32.04.05.2001"),
        ("32.04", "32.04"),
        ("3", None),
        ("320", None),
        ("32040", None),
        ("32040520", None),
        ("320405200", None),
        ("32040520011", None),
        ("32.4.5.2001", None),
        ("32.04.05.201", None),
        ("3204.05.2001x", None),
        ("", None),
        ("ab.cd", None),
        ("٣٢", None),  # Arabic-Indic digits are not code digits
    ],
)
def test_normalize_code(raw: str, expected: str | None) -> None:
    assert normalize_code(raw) == expected


@given(
    digits=st.sampled_from([2, 4, 6, 10]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
    sep=st.sampled_from(["", ".", " ", "-", ". "]),
)
def test_normalize_code_round_trip(digits: str, sep: str) -> None:
    segments = [digits[a:b] for a, b in ((0, 2), (2, 4), (4, 6), (6, 10)) if a < len(digits)]
    assert normalize_code(sep.join(segments)) == ".".join(segments)
    assert normalize_code(digits) == ".".join(segments)


TRICKY_NAMES: list[tuple[str, str]] = [
    ("Kabupaten Bandung", "BANDUNG"),
    ("kab. bandung", "BANDUNG"),
    ("KAB.BANDUNG", "BANDUNG"),
    ("Kab Bandung", "BANDUNG"),
    ("  KABUPATEN   BANDUNG  ", "BANDUNG"),
    ("Kota Bandung", "BANDUNG"),
    ("KOTA ADM. JAKARTA PUSAT", "JAKARTA PUSAT"),
    ("Kota Administrasi Jakarta Pusat", "JAKARTA PUSAT"),
    ("Kabupaten Administrasi Kepulauan Seribu", "KEPULAUAN SERIBU"),
    ("Kabupaten Kotabaru", "KOTABARU"),  # a name that starts like a prefix is kept
    ("Kabanjahe", "KABANJAHE"),
    ("Kota", "KOTA"),  # a prefix alone is a name
    ("Lawe Sigala-Gala", "LAWE SIGALA GALA"),
    ("Ma'rang", "MARANG"),
    ("Ma’rang", "MARANG"),
    ("Lubuk Pakam I,II", "LUBUK PAKAM I II"),
    ("Lambang Sari I, II, III", "LAMBANG SARI I II III"),
    ("Tanjung Priok (Pelabuhan)", "TANJUNG PRIOK PELABUHAN"),
    ("Sei/Sungai Rampah", "SEI SUNGAI RAMPAH"),
    ("\tCileunyi\u00a0Kulon\n", "CILEUNYI KULON"),
    ("Kota Kota Baru", "KOTA BARU"),  # only one prefix is removed
    ("Désa Baru", "D SA BARU"),  # non-ASCII letters become separators, the same on every engine
    ("...", ""),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), TRICKY_NAMES)
def test_name_key_known_answers(raw: str, expected: str) -> None:
    assert name_key(raw) == expected


def test_name_key_expr_agrees_with_python(engine: Engine) -> None:
    names = [raw for raw, _ in TRICKY_NAMES]
    t = engine.from_arrow(pa.table({"i": list(range(len(names))), "name": names}))
    got = t.select("i", key=name_key_expr(t.name)).order_by("i").to_pyarrow().column("key").to_pylist()
    assert got == [expected for _, expected in TRICKY_NAMES]


_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=30,
) | st.from_regex(
    r"(?i)(kab|kab\.|kabupaten|kota|kota adm\.?|kota administrasi)[ .]{0,3}[a-z' -]{0,12}", fullmatch=True
)


@settings(max_examples=25, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=40))
def test_name_key_expr_agrees_on_any_text(duck: Engine, names: list[str]) -> None:
    t = duck.from_arrow(pa.table({"i": list(range(len(names))), "name": names}))
    got = t.select("i", key=name_key_expr(t.name)).order_by("i").to_pyarrow().column("key").to_pylist()
    assert got == [name_key(n) for n in names]


REGION_CODES: list[tuple[str | None, str | None]] = [
    ("32.04.05.2001", "32.04.05.2001"),
    ("3204052001", "32.04.05.2001"),
    (" 32.04.05.2001 ", "32.04.05.2001"),
    ("32 04 05 2001", "32.04.05.2001"),
    ("32-04-05-2001", "32.04.05.2001"),
    ("\u00a03204052001\t", "32.04.05.2001"),
    ("32.04.05", None),
    ("320405200", None),
    ("32040520011", None),
    ("32.4.5.2001", None),
    ("32.04.05.2001.1", None),
    ("32O4052001", None),
    ("", None),
    (None, None),
]


def test_region_code_expr(engine: Engine) -> None:
    t = register(engine, [raw for raw, _ in REGION_CODES])
    out = t.select("i", code=region_code_expr(t.raw), ok=region_format_ok(t.raw)).order_by("i").to_pyarrow()
    expected = [code for _, code in REGION_CODES]
    assert out.column("code").to_pylist() == expected
    assert out.column("ok").to_pylist() == [code is not None for code in expected]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text("0123456789 .-\tx", max_size=16), min_size=1, max_size=40))
def test_region_code_expr_agrees_with_normalize_code(duck: Engine, raws: list[str]) -> None:
    t = duck.from_arrow(pa.table({"i": list(range(len(raws))), "raw": raws}))
    got = t.select("i", code=region_code_expr(t.raw)).order_by("i").to_pyarrow().column("code").to_pylist()
    expected = [c if c is not None and len(c) == 13 else None for c in map(normalize_code, raws)]
    assert got == expected


# -- the national master -----------------------------------------------------------------------
def test_load_national_master(master: RegionMaster) -> None:
    assert master.is_loaded
    assert master.edition == "Kepmendagri 300.2.2-2430/2025"
    assert len(master) == 91_599
    assert master.counts_by_level() == {"province": 38, "regency": 514, "district": 7_285, "village": 83_762}
    assert len(master.sha256) == 64


def test_get_parent_children_ancestors(master: RegionMaster) -> None:
    village = Region("32.04.05.2001", "Cileunyi Kulon", "village", "32.04.05")
    assert master.get("32.04.05.2001") == village
    assert master.get("3204052001") == village
    assert master.get(" 32 04 05 2001 ") == village
    assert master.get("31") == Region("31", "Daerah Khusus Ibukota Jakarta", "province", None)
    assert master.get("32.04.05.9999") is None
    assert master.get("nonsense") is None
    assert "3273" in master
    assert "99" not in master
    assert master.parent("3204052001") == Region("32.04.05", "Cileunyi", "district", "32.04")
    assert master.parent("32") is None
    assert [r.code for r in master.ancestors("32.04.05.2001")] == ["32", "32.04", "32.04.05"]
    assert master.ancestors("32") == []
    kids = master.children("32.04.05")
    assert [r.code for r in kids] == [f"32.04.05.{n}" for n in range(2001, 2007)]
    assert kids[0] == village
    assert master.children("32.04.05.2001") == []
    assert master.children("99") == []
    assert len(master.children("32")) == 27  # Jawa Barat: 18 kabupaten + 9 kota


def test_find_tolerates_case_punctuation_and_prefixes(master: RegionMaster) -> None:
    def codes(*args: str | None, **kwargs: str | None) -> list[str]:
        return [r.code for r in master.find(*args, **kwargs)]  # type: ignore[arg-type]

    assert codes("kab. bandung") == ["32.04"]
    assert codes("KABUPATEN  BANDUNG") == ["32.04"]
    assert codes("KOTA BANDUNG") == ["32.73"]
    assert codes("Bandung", level="regency") == ["32.04", "32.73"]
    assert codes("bandung", level="district") == ["35.04.17", "36.04.34"]
    assert "32.04" in codes("Bandung") and "33.05.12.2019" in codes("Bandung")
    assert codes("kota adm. jakarta pusat") == ["31.71"]
    assert codes("Jakarta Pusat") == ["31.71"]
    assert codes("Kab. Adm. Kepulauan Seribu") == ["31.01"]
    assert codes("Kabupaten Administrasi Kepulauan Seribu") == ["31.01"]
    assert codes("lawe sigala gala") == ["11.02.02"]
    assert codes("cileunyi kulon", within="32.04.05") == ["32.04.05.2001"]
    assert codes("cileunyi kulon", within="3204") == ["32.04.05.2001"]
    assert codes("cileunyi kulon", within="32.73") == []
    assert codes("cileunyi kulon", within="not a code") == []
    assert codes("no such place") == []
    with pytest.raises(ValueError, match="unknown level"):
        master.find("Bandung", level="kelurahan")


def test_to_arrow(master: RegionMaster) -> None:
    table = master.to_arrow()
    assert table.schema == pa.schema([(c, pa.string()) for c in ("code", "name", "level", "parent", "name_key")])
    assert table.num_rows == 91_599
    assert table.slice(0, 2).to_pylist() == [
        {"code": "11", "name": "Aceh", "level": "province", "parent": None, "name_key": "ACEH"},
        {
            "code": "11.01",
            "name": "Kabupaten Aceh Selatan",
            "level": "regency",
            "parent": "11",
            "name_key": "ACEH SELATAN",
        },
    ]
    assert master.to_arrow("district").num_rows == 7_285
    # The keys are computed with Arrow at load; they must equal the Python rule on every name.
    names = table.column("name").to_pylist()
    assert table.column("name_key").to_pylist() == [name_key(n) for n in names]


def test_empty_master() -> None:
    empty = RegionMaster.empty()
    assert not empty.is_loaded
    assert len(empty) == 0
    assert empty.get("32.04") is None
    assert empty.find("Bandung") == []
    assert empty.children("32") == []
    assert empty.counts_by_level() == {"province": 0, "regency": 0, "district": 0, "village": 0}
    assert empty.to_arrow().num_rows == 0
    assert empty.to_arrow().column_names == ["code", "name", "level", "parent", "name_key"]


# -- validation --------------------------------------------------------------------------------
def test_small_master_with_bom_and_spaces(tmp_path: Path) -> None:
    text = "\ufeff" + SMALL.replace("32.73,Kota Bandung,regency", " 32.73 , Kota Bandung ,Regency")
    m = RegionMaster.load(write(tmp_path, text), edition="test")
    assert len(m) == 7
    assert m.get("32.73") == Region("32.73", "Kota Bandung", "regency", "32")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = SMALL + "\n".join(
        [
            "32.4,Bad Code,regency",  # row 9: malformed
            "32.04.06,Cimenyan,kecamatan",  # row 10: unknown level
            "32.04.07,Cilengkrang,village",  # row 11: level mismatch
            "32.04.05.2001,Cileunyi Lagi,village",  # row 12: duplicate of row 5
            "32.99.01,Yatim,district",  # row 13: orphan
            "32.04.05.2003,   ,village",  # row 14: empty name
        ]
    )
    with pytest.raises(ReferenceDataError) as info:
        RegionMaster.load(write(tmp_path, text))
    err = info.value
    assert "6 problems" in str(err)
    found = {(p.where.rsplit("row ", 1)[1], p.message) for p in err.problems}
    assert found == {
        ("9", "malformed code ('32.4')"),
        ("10", "unknown level ('kecamatan', expected one of province, regency, district, village)"),
        ("11", "code does not fit its level (32.04.07 is a district code, level says village)"),
        ("12", "duplicate code (32.04.05.2001 already on row 5)"),
        ("13", "parent code missing (no row with code 32.99)"),
        ("14", "empty name"),
    }
    assert all(str(tmp_path) in p.where for p in err.problems)


def test_long_problem_lists_are_summarised(tmp_path: Path) -> None:
    text = "code,name,level\n" + "".join(f"x{i},Name,province\n" for i in range(120))
    with pytest.raises(ReferenceDataError) as info:
        RegionMaster.load(write(tmp_path, text))
    messages = [p.message for p in info.value.problems]
    assert messages.count("malformed code ('x0')") == 1
    assert len(messages) == 51
    assert messages[-1] == "malformed code: 70 more rows not listed"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("code,name\n32,Jawa Barat\n", "lacks column.*level"),
        ("kode,nama,level\n32,Jawa Barat,province\n", "lacks column.*code, name"),
        ("code,name,level\n32,Jawa Barat,province,extra\n", "cannot read"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ReferenceDataError, match=match):
        RegionMaster.load(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="not found"):
        RegionMaster.load(tmp_path / "nope.csv")


# -- district check on the engine ------------------------------------------------------------
def test_with_district_check(engine: Engine, tmp_path: Path) -> None:
    small = RegionMaster.load(write(tmp_path, SMALL))
    codes = ["32.04.05", "32.73.01", "32.04.99", None, "32.04", "32.04.05"]
    t = register(engine, codes, "d")
    out = with_district_check(t, "d", small, engine).order_by("i").to_pyarrow()
    assert out.column_names == ["i", "d", "d_known"]
    assert out.column("d").to_pylist() == codes
    assert out.column("d_known").to_pylist() == [True, True, False, True, False, True]
    villages = with_district_check(t.mutate(v=t.d + ".2001"), "v", small, engine, level="village")
    assert villages.order_by("i").to_pyarrow().column("v_known").to_pylist() == [True, False, False, True, False, True]
    unloaded = with_district_check(t, "d", RegionMaster.empty(), engine).order_by("i").to_pyarrow()
    assert unloaded.column("d_known").to_pylist() == [True] * len(codes)
