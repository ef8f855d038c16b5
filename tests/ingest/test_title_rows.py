"""Excel-made exports with title rows above the header and a total line below the data (issue 12):
`header_row` skips the titles, row numbers stay the rows Excel shows, the total line is
quarantined as `summary_row`, the accounting balances, and `dtsen sources draft` proposes the
header row. Known answers on small CSV (Windows-1252, CRLF) and XLSX files."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import ibis
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.errors import InputFileError, MappingError, SettingsError
from dtsen.ingest import csv_reader
from dtsen.ingest.draft import draft_source
from dtsen.ingest.pipeline import ingest
from dtsen.ingest.readers import ReadOptions, stage_file
from dtsen.ingest.source_check import check_sources
from dtsen.ingest.summary_rows import summary_row
from dtsen.ingest.title_rows import header_row_of
from dtsen.standardize import code_key_expr
from tests.ingest.test_layouts import REGIONS, REGSOSEK, REGSOSEK_CSV, quarantine, write_project

TITLES = ["DATA PENERIMA BANSOS", "KABUPATEN BANDUNG", "PERIODE: JUNI 2025"]
HEADER = ["NO", "NIK", "NAMA", "JK", "TGL_LAHIR", "KODE_DESA", "PENGHASILAN"]
DATA = [
    ["1", "3204051507800003", "AHMAD", "L", "15-07-1980", "32.04.05.2001", "1.500.000"],
    ["2", "3204055203850002", "SITI \u2018AISYAH", "P", "12-03-1985", "32.04.05.2002", "750.000"],
    ["3", "3204050109100001", "TOTAL", "L", "01-09-2010", "32.04.05.2001", "0"],  # a person named TOTAL
]
FOOTER = ["JUMLAH", "", "", "", "", "", "2.250.000"]


def _csv(path: Path) -> Path:
    """3 title lines (one padded with delimiters, as Excel writes them) and a blank line, the
    header on row 5, three data rows (6-8) and a JUMLAH footer (row 9): Windows-1252, CRLF."""
    lines = [TITLES[0], TITLES[1] + ";" * 6, TITLES[2], "", ";".join(HEADER), *(";".join(r) for r in DATA),
             ";".join(FOOTER)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def _xlsx(path: Path) -> Path:
    """The same layout in two sheets (header on row 5 of each); the second sheet has one person
    and a GRAND TOTAL footer."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Juni"
    second = book.create_sheet("Juli")
    for sheet, rows, footer in ((first, DATA, FOOTER), (second, DATA[:1], ["GRAND TOTAL", "", "", "", "", "", "1"])):
        for i, title in enumerate(TITLES, start=1):
            sheet.cell(row=i, column=1, value=title)
        for j, name in enumerate(HEADER, start=1):
            sheet.cell(row=5, column=j, value=name)
        for i, row in enumerate([*rows, footer], start=6):
            for j, value in enumerate(row, start=1):
                if value:
                    born = HEADER[j - 1] == "TGL_LAHIR"
                    sheet.cell(row=i, column=j, value=dt.datetime.strptime(value, "%d-%m-%Y") if born else value)
    book.save(path)
    return path


def _project(tmp_path: Path, file: str, extra: str = "") -> Path:
    (tmp_path / "regions.csv").write_text(REGIONS, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(f"""\
[reference]
regions = "regions.csv"

[sources.bansos]
files = ["{file}"]
as_of = 2025-06-30
header_row = 5
date_formats = ["DD-MM-YYYY", "YYYY-MM-DD"]
{extra}
[sources.bansos.columns]
NIK = "nik"
NAMA = "full_name"
JK = "sex"
TGL_LAHIR = "birth_date"
KODE_DESA = "region_code"
""", encoding="utf-8")
    return tmp_path


def _rows(project: Path, part: str) -> dict[tuple[str | None, int], dict[str, object]]:
    table = read_parquet_arrow(project / "work" / "ingest" / part / "bansos")
    return {(r["sheet"], r["row"]): r for r in table.to_pylist()}


def test_a_csv_with_titles_and_a_total_line(tmp_path: Path, duck: Engine) -> None:
    _csv(tmp_path / "bansos.csv")
    project = _project(tmp_path, "bansos.csv")
    report = ingest(load_settings(project), duck)
    records, quarantine = _rows(project, "records"), _rows(project, "quarantine")
    assert sorted(records) == [(None, 6), (None, 7), (None, 8)]  # the first data row is row 6
    assert records[(None, 6)]["nik"] == "3204051507800003" and records[(None, 6)]["sex"] == "L"
    assert records[(None, 7)]["region_code"] == "32.04.05.2002"
    assert "AISYAH" in str(records[(None, 7)]["full_name"])  # Windows-1252 read
    assert records[(None, 8)]["nik"] == "3204050109100001"  # TOTAL with a NIK is a person
    assert sorted(quarantine) == [(None, 9)]
    footer = quarantine[(None, 9)]
    assert footer["reasons"] == "summary_row"
    assert '"NO":"JUMLAH"' in str(footer["raw"]) and '"PENGHASILAN":"2.250.000"' in str(footer["raw"])
    f = report.sources[0].files[0]
    assert (f.rows_read, f.accepted, f.quarantined, f.balanced) == (4, 3, 1, True)
    assert f.encoding == "cp1252" and f.delimiter == ";"
    assert any("header is record 5" in n for n in f.notes)
    assert report.sources[0].reasons == {"summary_row": 1}


def test_an_xlsx_with_titles_in_every_sheet(tmp_path: Path, duck: Engine) -> None:
    _xlsx(tmp_path / "bansos.xlsx")
    project = _project(tmp_path, "bansos.xlsx")
    report = ingest(load_settings(project), duck)
    records, quarantine = _rows(project, "records"), _rows(project, "quarantine")
    assert sorted(records) == [("Juli", 6), ("Juni", 6), ("Juni", 7), ("Juni", 8)]
    assert records[("Juni", 7)]["birth_date"] == dt.date(1985, 3, 12)
    assert records[("Juni", 8)]["full_name"] == "TOTAL"
    assert {k: v["reasons"] for k, v in quarantine.items()} == {("Juni", 9): "summary_row", ("Juli", 7): "summary_row"}
    f = report.sources[0].files[0]
    assert (f.rows_read, f.accepted, f.quarantined, f.balanced) == (6, 4, 2, True)


def test_csv_and_xlsx_number_the_same_rows_alike(tmp_path: Path) -> None:
    csv_staged = stage_file(_csv(tmp_path / "a.csv"), tmp_path / "c", ReadOptions(header_row=5))
    xlsx_staged = stage_file(_xlsx(tmp_path / "a.xlsx"), tmp_path / "x", ReadOptions(header_row=5, sheet="Juni"))
    for staged in (csv_staged, xlsx_staged):
        table = pq.read_table(staged.staged)
        assert staged.columns == HEADER
        assert table.column("_row").to_pylist() == [6, 7, 8, 9]
        assert table.column("NIK").to_pylist()[:3] == [r[1] for r in DATA]


def test_without_header_row_the_titles_stop_the_file_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"could not detect the delimiter.*\(set header_row = 5: rows 1-4"):
        stage_file(_csv(tmp_path / "a.csv"), tmp_path / "c", ReadOptions())
    staged = stage_file(_xlsx(tmp_path / "a.xlsx"), tmp_path / "x", ReadOptions(sheet="Juni"))
    assert staged.columns[0] == TITLES[0] and "NIK" not in staged.columns  # what header_row is for


def test_a_mapping_without_header_row_is_told_the_header_row(tmp_path: Path, duck: Engine) -> None:
    _xlsx(tmp_path / "bansos.xlsx")
    project = _project(tmp_path, "bansos.xlsx")
    toml = (project / "dtsen.toml").read_text(encoding="utf-8").replace("header_row = 5\n", "")
    (project / "dtsen.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(MappingError) as e:
        ingest(load_settings(project), duck)
    assert "set header_row = 5: rows 1-4 hold 3 title lines" in str(e.value)


def test_a_header_row_past_the_end_names_the_file_and_the_setting(tmp_path: Path, duck: Engine) -> None:
    csv_path, xlsx_path = _csv(tmp_path / "a.csv"), _xlsx(tmp_path / "a.xlsx")
    for path in (csv_path, xlsx_path):
        with pytest.raises(InputFileError, match=r"header_row = 50") as e:
            stage_file(path, tmp_path / "out", ReadOptions(header_row=50))
        assert str(path) in str(e.value)
    project = _project(tmp_path, "a.csv")
    toml = (project / "dtsen.toml").read_text(encoding="utf-8").replace("header_row = 5", "header_row = 50")
    (project / "dtsen.toml").write_text(toml, encoding="utf-8")
    report = ingest(load_settings(project), duck)  # the file is quarantined whole, with why
    [failed] = report.files_quarantined
    assert failed.reason == "file_unreadable" and "header_row = 50" in str(failed.detail)
    assert report.rows_read == 0


def test_header_row_is_a_mistake_for_a_parquet_source(tmp_path: Path) -> None:
    (tmp_path / "dtsen.toml").write_text("""\
[sources.p]
files = ["p.parquet"]
as_of = 2025-06-30
header_row = 3
columns = { NIK = "nik" }
""", encoding="utf-8")
    with pytest.raises(SettingsError, match="header_row") as e:
        load_settings(tmp_path)
    assert "line 4" in str(e.value)


def test_summary_rows_are_total_lines_only() -> None:
    rows: list[tuple[list[str | None], bool]] = [
        (["JUMLAH", None, None, "1.234", "56"], True),
        (["", "Jumlah keseluruhan: 1.234", None, None, None], True),
        (["grand total", "-", "Rp 5.000.000", "12%", None], True),
        (["Sub Total :", "10", None, None, None], True),
        (["TOTAL", None, "3204051507800003", None, None], True),  # by its cells; validate checks the NIK
        (["1", "TOTAL", "3204051507800003", "L", "15-07-1980"], False),  # a person named TOTAL
        (["JUMLAH ART", "3", None, None, None], False),  # a header-like text, not a total
        (["ANI TOTAL", "3", None, None, None], False),
        (["3", "1.500", None, None, None], False),  # numbers without a label
        ([None, None, None, None, None], False),
    ]
    t = ibis.memtable(pa.table({f"c{i}": pa.array([r[i] for r, _ in rows], pa.string()) for i in range(5)}))
    found = t.mutate(s=summary_row(t, [f"c{i}" for i in range(5)])).s.to_pyarrow().to_pylist()
    assert found == [expected for _, expected in rows]
    # with c2 mapped as the NIK, a row whose NIK cell starts with 11 digits is not even tested
    found = t.mutate(s=summary_row(t, [f"c{i}" for i in range(5)], [t.c2])).s.to_pyarrow().to_pylist()
    assert found == [expected and i != 4 for i, (_, expected) in enumerate(rows)]


def test_summary_rows_on_a_wide_file_on_each_engine(engine: Engine) -> None:
    """The same answers on DuckDB and Spark, with empty and blank cells, in a 40-column file
    whose rows are then filtered and kept (the plan that filled Spark's 2 GB driver heap while
    constraint propagation was on)."""
    rows: list[tuple[list[str | None], bool]] = [
        (["  jumlah ", "", "  ", "1.234 ", None], True),
        (["", "-", "\tTotal Keseluruhan :", "Rp 5.000", ""], True),
        (["Sub Total", "12%", "x", None, None], False),  # one cell neither label nor number
        (["", "", "", "", ""], False),
        (["JUMLAH", None, "3204051507800003", None, None], False),  # an identifier: not tested
        (["1", "AHMAD", "3204051507800003", "L", "JML"], False),
    ]
    wide = 40
    cells = [[r[i] if i < 5 else ("" if i % 2 else None) for i in range(wide)] for r, _ in rows]
    data = pa.table({f"c{i}": pa.array([c[i] for c in cells], pa.string()) for i in range(wide)})
    t = engine.from_arrow(data.append_column("n", pa.array(range(len(rows)), pa.int64())))
    # as `layout.raw_table` does with a file of two kinds of row: a kind key, the rows of one kind
    u = t.select("n", s=summary_row(t, [f"c{i}" for i in range(wide)], [t.c2]), kind=code_key_expr(t.c0))
    mine, unknown = u.kind.isin(["RUTA"]).fill_null(False), ~u.kind.isin(["RUTA", "ART"]).fill_null(False)
    u = u.mutate(_n_kind=unknown & ~u.s).filter(mine | unknown)
    u = u.select("n", "s", notes=ibis.literal(";").join([ibis.ifelse(u._n_kind, "kind_unknown", ibis.null("string"))]))
    kept = engine.materialize(u).order_by("n").to_pyarrow()
    assert kept["s"].to_pylist() == [expected for _, expected in rows]


def test_a_total_line_with_an_identifier_is_no_summary_row(tmp_path: Path, duck: Engine) -> None:
    path = tmp_path / "b.csv"
    path.write_text("NIK;NAMA;JK\n3204051507800003;TOTAL;\n;TOTAL;\n;Jumlah keseluruhan: 2;\n", encoding="utf-8")
    project = _project(tmp_path, "b.csv")
    toml = (project / "dtsen.toml").read_text(encoding="utf-8").replace("header_row = 5\n", "")
    toml = toml.replace('TGL_LAHIR = "birth_date"\nKODE_DESA = "region_code"\n', "")
    (project / "dtsen.toml").write_text(toml, encoding="utf-8")
    report = ingest(load_settings(project), duck)
    assert sorted(_rows(project, "records")) == [(None, 2)]  # TOTAL with a NIK: a person
    assert {k[1]: v["reasons"] for k, v in _rows(project, "quarantine").items()} == {3: "summary_row", 4: "summary_row"}
    assert report.sources[0].files[0].balanced


def test_title_rows_give_a_header_row() -> None:
    titles = [["DATA PENERIMA BANSOS", "", ""], ["PERIODE:", "JUNI 2025"], [], HEADER, DATA[0]]
    assert header_row_of(titles) == (4, "rows 1-3 hold 2 title lines (at most 2 cells each); row 4 has 7 column names")
    assert header_row_of([HEADER, DATA[0]]) is None  # the header is row 1
    assert header_row_of([[], [], HEADER, DATA[0]]) is None  # blank rows only: the readers skip them
    assert header_row_of([["DATA BANSOS"], DATA[0], DATA[1]]) is None  # a data row is no header
    assert header_row_of([["A", "B"], ["NIK", "NAMA", "JK"]]) is None  # not twice the cells of the titles


def test_the_draft_proposes_the_header_row(tmp_path: Path) -> None:
    for path, totals in ((_csv(tmp_path / "bansos.csv"), 1), (_xlsx(tmp_path / "bansos.xlsx"), 2)):
        d = draft_source(path, name="bansos", relative_to=tmp_path)
        assert d.header_row == 5
        text = d.toml()
        assert "header_row = 5  # rows 1-4 hold 3 title lines" in text
        # JUMLAH (and GRAND TOTAL in the second sheet), not the person named TOTAL with a NIK
        assert f"# Note: {totals} sampled row(s) look like total lines" in text
        doc = tomllib.loads(text)["sources"]["bansos"]
        assert doc["header_row"] == 5 and doc["columns"]["NIK"] == "nik" and doc["columns"]["NAMA"] == "full_name"
        (tmp_path / "dtsen.toml").write_text(text, encoding="utf-8")
        assert load_settings(tmp_path).sources["bansos"].header_row == 5
    plain = tmp_path / "plain.csv"
    plain.write_text(";".join(HEADER) + "\n" + "\n".join(";".join(r) for r in DATA) + "\n", encoding="utf-8")
    d = draft_source(plain)
    assert d.header_row == 1 and "header_row" not in d.toml() and "total lines" not in d.toml()


def test_a_file_of_record_kinds_with_titles_and_a_total_line(tmp_path: Path, duck: Engine) -> None:
    """The total line of a household/member file is the first kind's, as a summary row only
    (no kind_unknown), and the kinds' rows still add up to the file's."""
    text = "REKAP REGSOSEK\nDESA CILEUNYI KULON\n\n" + REGSOSEK_CSV + "JUMLAH;;;;;;;;66\n"
    toml = REGSOSEK.replace('kind_column = "JENIS"', 'kind_column = "JENIS"\nheader_row = 4')
    project = write_project(tmp_path, toml, regsosek__csv=text)
    report = ingest(load_settings(project), duck)
    counts = {s.source: (s.rows_read, s.accepted, s.quarantined) for s in report.sources}
    assert counts == {"regsosek_ruta": (4, 2, 2), "regsosek_art": (4, 4, 0)}  # 8 rows: 7 as before + the total
    q = quarantine(project, "regsosek_ruta")
    assert (q[11]["reasons"], q[12]["reasons"]) == ("kind_unknown", "summary_row")  # rows 5-12: header on 4


def test_sources_check_reads_below_the_titles(tmp_path: Path, duck: Engine) -> None:
    _csv(tmp_path / "bansos.csv")
    [result] = check_sources(load_settings(_project(tmp_path, "bansos.csv")), duck, rows=100)
    assert result.problems == [] and result.rows == 4  # rows 6-9: three people and the total line
    parsed = {f.name: (f.values, f.parsed) for f in result.fields}
    assert parsed["nik"] == (3, 3) and parsed["birth_date"] == (3, 3)
    assert result.unmapped == ["NO", "PENGHASILAN"]


def _staged(path: Path, out: Path, fast: bool) -> tuple[list[int], list[str | None], list[int]]:
    sf = csv_reader.stage_csv(path, out, ReadOptions(header_row=5), fast=fast)
    table, rejects = pq.read_table(sf.staged), pq.read_table(sf.rejects)
    return table.column("_row").to_pylist(), table.column("NIK").to_pylist(), rejects.column("_row").to_pylist()


def test_arrow_skips_the_title_lines_and_agrees_with_the_csv_module(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(tmp_path / "a.csv")
    slow = _staged(path, tmp_path / "slow", fast=False)
    assert slow == ([6, 7, 8, 9], [*(r[1] for r in DATA), None], [])
    with monkeypatch.context() as m:  # the fast path alone reads it: the csv module is not called
        m.setattr(csv_reader, "_stage_python", lambda *a, **k: pytest.fail("read by the csv module"))
        assert _staged(path, tmp_path / "fast", fast=True) == slow
    # a ragged row below titles: Arrow gives up, the csv module numbers it
    ragged = tmp_path / "r.csv"
    ragged.write_bytes(path.read_bytes().replace(b"\r\nJUMLAH;", b"\r\n9;9\r\nJUMLAH;"))
    assert _staged(ragged, tmp_path / "r_fast", fast=True) == _staged(ragged, tmp_path / "r_slow", fast=False) == (
        [6, 7, 8, 10], [*(r[1] for r in DATA), None], [9])
