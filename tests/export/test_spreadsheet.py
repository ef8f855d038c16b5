"""The spreadsheet writer: known answers per cell and per file, and properties over any text."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtsen.export import Choices, Column, ExportError, Sheet, csv_cell, write_csv, write_csv_batches, write_xlsx
from dtsen.export.cells import EXCEL_CELL_MAX, EXCEL_LARGEST, clean, neutralise, xlsx_cell

from .safety import csv_cell_is_safe, csv_rows, unsafe_csv_cells, unsafe_xlsx_cells, xlsx_cell_is_safe

# --- one cell ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ('=HYPERLINK("http://x","klik")', "text", '\'=HYPERLINK("http://x","klik")'),
        ("=cmd|' /C calc'!A0", "text", "'=cmd|' /C calc'!A0"),
        ("@SUM(A1)", "text", "'@SUM(A1)"),
        ("+62 812 555", "text", "'+62 812 555"),
        ("-", "text", "'-"),
        ("\t=1+1", "text", "'\t=1+1"),
        ("\r=1+1", "text", "'\r=1+1"),
        ("  =1+1", "text", "'  =1+1"),  # a leading space does not hide a formula from every program
        ("SITI\x1bAMINAH", "text", "SITIAMINAH"),
        ("\x00\x0b\x01=1+1", "text", "'=1+1"),  # cleaned first, then neutralised
        ("A\x85B\x9f\ufffeC", "text", "ABC"),  # C1 controls and non-characters
        ("baris\nkedua\ttab", "text", "baris\nkedua\ttab"),
        ("'=1+1", "text", "'=1+1"),  # already text: not quoted twice
        ("003", "text", "003"),
        ("003", "code", '="003"'),
        ("3204051705900001", "code", '="3204051705900001"'),
        ("32.04.05.2001", "code", '="32.04.05.2001"'),
        ("=1+1", "code", '="=1+1"'),
        ('=A1&"x"', "code", '="=A1&""x"""'),  # inner quotes doubled: one string constant
        ("=" + "A" * 300, "code", "'=" + "A" * 300),  # too long for a literal
        ("=1\n2", "code", "'=1\n2"),  # no line break inside a literal
        ("ABC", "code", "ABC"),
        (12, "number", "12"),
        (-5, "number", "-5"),
        (0.8125, "number", "0.8125"),
        (float("nan"), "number", ""),
        (float("inf"), "number", ""),
        (3204051705900001, "number", '="3204051705900001"'),  # beyond 15 digits: kept whole, as text
        ("=1+1", "number", "'=1+1"),  # not a number: the text rule
        (True, "text", "YA"),
        (False, "number", "0"),
        (None, "text", ""),
    ],
)
def test_csv_cell(value: Any, kind: Any, expected: str) -> None:
    assert csv_cell(value, kind) == expected


def test_xlsx_cell() -> None:
    assert xlsx_cell("=1+1", "text") == ("'=1+1", True)
    assert xlsx_cell("003", "code") == ("003", True)
    assert xlsx_cell(3204051705900001, "number") == ("3204051705900001", True)
    assert xlsx_cell(12.5, "number") == (12.5, False)
    assert xlsx_cell(float("nan"), "number") == (None, False)
    assert xlsx_cell("\x1b", "text") == (None, False)  # nothing left: an empty cell
    assert xlsx_cell("x" * 40_000, "text")[0] == "x" * EXCEL_CELL_MAX


# --- files -------------------------------------------------------------------------------------

COLUMNS = [Column("Nama"), Column("NIK", "code"), Column("Skor", "number", number_format="0.00", digits=2)]
ROWS: list[list[Any]] = [
    ['=HYPERLINK("http://x","klik")', "3204051705900001", 1.256],
    ["SITI\x1bAMINAH", "003", -5],
    [None, None, None],
]


def test_csv_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a" / "daftar.csv", COLUMNS, ROWS)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfNama,NIK,Skor\r\n")
    assert raw.decode("utf-8-sig").split("\r\n") == [
        "Nama,NIK,Skor",
        '"\'=HYPERLINK(""http://x"",""klik"")","=""3204051705900001""",1.26',
        'SITIAMINAH,"=""003""",-5',
        ",,",
        "",
    ]
    assert unsafe_csv_cells(path) == []


def test_xlsx_file(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "daftar.xlsx",
        [
            Sheet("Daftar", COLUMNS, ROWS, auto_filter=True),
            Sheet(
                "Petunjuk",
                [Column("Isian", width=60), Column("Keputusan", choices=Choices(("SAMA", "BEDA"), "Keputusan"))],
                [["=SUM(A1)", None]],
                freeze=None,
                notes=("Judul", "baris kedua"),
            ),
        ],
    )
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Daftar", "Petunjuk"]
    ws = book["Daftar"]
    assert [c.value for c in ws[1]] == ["Nama", "NIK", "Skor"] and all(c.font.bold for c in ws[1])
    name, nik, score = ws[2]
    assert (name.value, name.data_type, name.number_format) == ('\'=HYPERLINK("http://x","klik")', "s", "@")
    assert (nik.value, nik.data_type, nik.number_format) == ("3204051705900001", "s", "@")
    assert (score.value, score.data_type, score.number_format) == (1.256, "n", "0.00")
    assert [c.value for c in ws[3]] == ["SITIAMINAH", "003", -5]
    assert [c.value for c in ws[4]] == [None, None, None]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C4"
    assert ws.column_dimensions["B"].width == 18  # 16 digits + 2
    guide = book["Petunjuk"]
    assert [guide.cell(row=r, column=1).value for r in range(1, 6)] == [
        "Judul",
        "baris kedua",
        None,
        "Isian",
        "'=SUM(A1)",
    ]
    assert guide.cell(row=1, column=1).font.bold and guide.column_dimensions["A"].width == 60
    (rule,) = guide.data_validations.dataValidation
    assert rule.formula1 == '"SAMA,BEDA"' and str(rule.sqref) == "B5"
    assert unsafe_xlsx_cells(path) == []


def test_a_row_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="row 2 has 2 values for 3 columns"):
        write_csv(tmp_path / "x.csv", COLUMNS, [ROWS[0], ["a", "b"]])
    with pytest.raises(ExportError, match="lacks the columns NIK"):
        write_csv_batches(tmp_path / "y.csv", [Column("NIK", "code", key="NIK")], [pa.table({"x": [1]})])


def test_arrow_batches_give_the_rows_writer_s_cells(tmp_path: Path) -> None:
    texts = ["=1+1", "003", "SITI\x1bAMINAH", None, "3204051705900001", 'a"b', "-", "x\ny", "\x85"]
    ints = [1, -5, None, 3204051705900001, 0, 7, 8, 9, 10]
    columns = [Column("T", key="t"), Column("C", "code", key="t"), Column("N", "number", key="n")]
    table = pa.table({"t": texts, "n": pa.array(ints, pa.int64())})
    batches = write_csv_batches(tmp_path / "b.csv", columns, [table.slice(0, 2), table.slice(2)])
    rows = write_csv(tmp_path / "r.csv", columns, [[t, t, n] for t, n in zip(texts, ints, strict=True)])
    assert csv_rows(batches) == csv_rows(rows)
    assert batches.read_bytes().endswith(b"\r\n")
    empty = write_csv_batches(tmp_path / "e.csv", columns, [])
    assert empty.read_bytes() == b'\xef\xbb\xbf"T","C","N"\r\n'


# --- properties --------------------------------------------------------------------------------

# any text a Python string can hold and UTF-8 can encode (no lone surrogates), controls included
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
LONG = st.builds(lambda t, n: (t or "=") * n, TEXT, st.integers(1, 2_000))  # up to 80,000 characters
FORMULAS = st.sampled_from(['=HYPERLINK("http://x","klik")', "=cmd|' /C calc'!A0", "@SUM(A1)", "+1", "-1", "\t=1"])
VALUES = st.one_of(
    st.none(),
    TEXT,
    LONG,
    st.builds(lambda f, t: f + t, FORMULAS, TEXT),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
ROW = st.tuples(VALUES, VALUES, VALUES)
KINDED = [Column("text"), Column("code", "code"), Column("number", "number")]


def _expected_text(value: Any) -> str:
    return neutralise(clean(value if isinstance(value, str) else str(value)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=4))
def test_any_value_is_written_and_never_read_back_as_a_formula(tmp_path: Path, rows: list[tuple[Any, ...]]) -> None:
    xlsx = write_xlsx(tmp_path / "p.xlsx", [Sheet("S", KINDED, rows)])
    book = openpyxl.load_workbook(xlsx)
    got = list(book["S"].iter_rows(min_row=2))
    book.close()
    assert len(got) == len(rows)
    for cells, row in zip(got, rows, strict=True):
        for cell, value, col in zip(cells, row, KINDED, strict=True):
            assert xlsx_cell_is_safe(cell.value, cell.data_type), (col.kind, value, cell.value)
            if isinstance(value, str):
                expected = _expected_text(value).replace("\r\n", "\n").replace("\r", "\n")
                assert (cell.value or "") == expected[:EXCEL_CELL_MAX]
            elif col.kind == "number" and isinstance(value, float):
                if not math.isfinite(value):
                    assert cell.value is None
                elif abs(value) > EXCEL_LARGEST:
                    assert cell.value == repr(value) and cell.data_type == "s"
                else:  # openpyxl keeps 16 significant digits, Excel 15
                    assert isinstance(cell.value, float | int) and math.isclose(cell.value, value, rel_tol=1e-15)
            elif col.kind == "number" and isinstance(value, int) and not isinstance(value, bool):
                if abs(value) < 10**15:
                    assert cell.value == value and cell.data_type == "n"
                else:
                    assert cell.value == str(value) and cell.data_type == "s"  # kept whole, as text

    path = write_csv(tmp_path / "p.csv", KINDED, rows)
    read = csv_rows(path)[1:]
    assert len(read) == len(rows)
    for texts, row in zip(read, rows, strict=True):
        for text, value, col in zip(texts, row, KINDED, strict=True):
            assert csv_cell_is_safe(text), (col.kind, value, text)
            assert text == csv_cell(value, col.kind)  # what was meant is what is read
            if col.kind == "text" and isinstance(value, str):
                assert text == _expected_text(value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(st.none(), TEXT, st.builds(lambda f, t: f + t, FORMULAS, TEXT)), min_size=1))
def test_the_arrow_path_follows_the_same_rule(tmp_path: Path, texts: list[str | None]) -> None:
    columns = [Column("T", key="t"), Column("C", "code", key="t")]
    batches = write_csv_batches(tmp_path / "b.csv", columns, [pa.table({"t": pa.array(texts, pa.string())})])
    rows = write_csv(tmp_path / "r.csv", columns, [[t, t] for t in texts])
    assert csv_rows(batches) == csv_rows(rows)
    assert unsafe_csv_cells(batches) == []


def test_the_csv_module_reads_what_excel_would(tmp_path: Path) -> None:
    # a value with every CSV special at once survives the round trip exactly
    value = 'a,b;"c"\r\nd\te'
    path = write_csv(tmp_path / "s.csv", [Column("x")], [[value]])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh))[1] == [value]


def test_the_same_sheet_written_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    import time

    from dtsen.export.spreadsheet import Column, Sheet, write_xlsx

    def sheet() -> Sheet:
        return Sheet("daftar", [Column("nama"), Column("jumlah", "number")], [["SITI", 3], ["=HYPERLINK(1)", 4]])

    a = write_xlsx(tmp_path / "a.xlsx", [sheet()]).read_bytes()
    time.sleep(2.1)  # a zip entry's time has a resolution of two seconds
    b = write_xlsx(tmp_path / "b.xlsx", [sheet()]).read_bytes()
    assert a == b
    import openpyxl

    ws = openpyxl.load_workbook(tmp_path / "b.xlsx").active
    assert ws is not None and ws["A3"].value == "'=HYPERLINK(1)" and ws["B2"].value == 3
