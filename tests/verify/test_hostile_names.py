"""Known answer (issue 11, items 2, 3 and 10): civil-registry names that are spreadsheet formulas,
control characters or XLSForm references reach the visit lists and forms of a whole build
neutralised, and the build does not stop."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from pyxform.xls2xform import convert

from dtsen.release.build import BuildResult

from ..conftest import build_on_duckdb, regency_project
from ..export.safety import csv_rows, unsafe_csv_cells, unsafe_xlsx_cells

HOSTILE = (
    '=HYPERLINK("http://x","klik")',
    "=cmd|' /C calc'!A0",
    "@SUM(A1)",
    "+62 812",
    "-BUDI",
    "SITI\x1bAMINAH",  # before the fix: openpyxl's IllegalCharacterError stopped the build
    "AHMAD\x0b\x01YANI",
    "${PETUGAS}",  # before the fix: pyxform refused the village's form
    "${keluarga}",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    project = regency_project(tmp_path_factory.mktemp("hostile") / "project", 300, seed=5)
    registry = project / "dukcapil" / "biodata_penduduk.csv"
    with registry.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    name = rows[0].index("NAMA_LGKP")
    for i, row in enumerate(rows[1:]):
        row[name] = HOSTILE[i % len(HOSTILE)]
    with registry.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    toml = project / "dtsen.toml"  # every family on a list: all of them drawn at random
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[verify]\nvisits_per_village = 100\nrandom_share = 1.0\n")
    return build_on_duckdb(project)


def _files(built: BuildResult, name: str) -> list[Path]:
    files = sorted((built.path / "cek_lapangan").rglob(name))
    assert files, f"no {name} in the release"
    return files


def test_the_build_publishes_with_every_visit_list(built: BuildResult) -> None:
    assert built.release_id == "R0001"
    lists = _files(built, "kunjungan.csv")
    assert len(lists) == len(_files(built, "kunjungan.xlsx")) == len(_files(built, "formulir.xlsx"))


def test_visit_lists_hold_the_names_neutralised(built: BuildResult) -> None:
    heads: set[str] = set()
    for path in _files(built, "kunjungan.csv"):
        assert unsafe_csv_cells(path) == [], path
        rows = csv_rows(path)
        heads |= {r[rows[0].index("Nama Kepala Keluarga")].upper() for r in rows[1:]}
    # the golden names (upper-cased by standardisation) as an operator sees them in Excel
    for expected in ('\'=HYPERLINK("HTTP://X","KLIK")', "'=CMD|' /C CALC'!A0", "'@SUM(A1)", "'+62 812", "'-BUDI"):
        assert expected in heads
    assert "SITIAMINAH" in heads and "AHMADYANI" in heads  # control characters removed, not the name
    for path in _files(built, "kunjungan.xlsx"):
        assert unsafe_xlsx_cells(path) == [], path
    book = openpyxl.load_workbook(_files(built, "kunjungan.xlsx")[0])
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    kk = header.index("Nomor KK") + 1
    assert all(sheet.cell(row=r, column=kk).data_type == "s" for r in range(2, sheet.max_row + 1))


def test_every_village_form_converts(built: BuildResult) -> None:
    references = 0
    for path in _files(built, "formulir.xlsx"):
        assert unsafe_xlsx_cells(path) == [], path
        xml = convert(xlsform=str(path)).xform  # raises when pyxform cannot read the form
        references += xml.count("$ {PETUGAS}") + xml.count("$ {KELUARGA}")
        assert "${PETUGAS}" not in xml and "${KELUARGA}" not in xml
    assert references > 0  # the names are in the forms, as text
