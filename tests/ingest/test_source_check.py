"""`dtsen sources check`, `dtsen fields`, and the row table of `dtsen build`: every mapping mistake
is loud, and printed without personal data."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.ingest.source_check import check_sources, shown

TOML = """\
[sources.dinsos]
files = ["dinsos.csv"]
as_of = 2025-06-30
date_formats = ["DD-MM-YYYY"]
[sources.dinsos.columns]
NIK = "nik"
NAMA = "full_name"
JK = "sex"
TGL_LAHIR = "birth_date"
LUAS = "occupation"
[sources.dinsos.codes.sex]
"1" = "L"
"2" = "P"
"""
CSV = """\
NIK;NAMA;JK;TGL_LAHIR;LUAS;CATATAN
3204051507800003;AHMAD SUPARMAN;LK;15-07-1980;PETANI;x
3204055203850002;SITI AMINAH;PR;31-02-1985;GURU;y
3.20405E+15;BUDI;LK;1980/07/15;TANI;
3204051507800004;DEWI;1;15-07-1980;TANI;
"""


def project(tmp_path: Path, csv: str = CSV, toml: str = TOML) -> Path:
    (tmp_path / "dinsos.csv").write_text(csv, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def test_the_check_counts_what_parses_and_shows_no_person(tmp_path: Path, duck: Engine) -> None:
    [result] = check_sources(load_settings(project(tmp_path)), duck, rows=100)
    assert (result.source, result.rows, result.unmapped) == ("dinsos", 4, ["CATATAN"])
    fields = {f.name: f for f in result.fields}
    assert (fields["sex"].values, fields["sex"].parsed) == (4, 1)  # LK and PR: not in the source's list
    assert fields["sex"].unparsed == [("LK", 2), ("PR", 1)]
    assert fields["sex"].fails and not fields["nik"].fails
    assert (fields["nik"].values, fields["nik"].parsed) == (4, 3)
    assert fields["nik"].unparsed == [("3.20405E+15", 1)]
    assert (fields["birth_date"].parsed, fields["birth_date"].unparsed) == (2, [("99-99-9999", 1), ("9999/99/99", 1)])
    assert [f.name for f in result.failing] == ["sex"] and not result.ok
    assert shown("nik", "3204055203850002") == "3204********0002"
    assert shown("full_name", "SITI AMINAH") == "(teks / text)"
    assert shown("region_code", "32.04.05.2999") == "32.04.05.2999"


def test_the_command_exits_non_zero_where_a_mapped_column_mostly_fails(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["sources", "check", "--project", str(project(tmp_path))])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "Gagal / failed: dinsos (sex)" in text
    assert "CATATAN" in text
    assert "3204051507800003" not in result.output and "SITI" not in result.output
    good = CSV.replace(";LK;", ";1;").replace(";PR;", ";2;")
    result = runner.invoke(app, ["sources", "check", "--project", str(project(tmp_path, good)), "--rows", "10"])
    assert result.exit_code == 0, result.output
    assert "every mapping fits its files" in result.output


def test_a_file_that_lacks_a_mapped_column_fails_the_check(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sources", "check", "--project",
                                      str(project(tmp_path, CSV.replace("TGL_LAHIR", "TANGGAL")))])
    assert result.exit_code == 1
    assert "column 'TGL_LAHIR' is not in dinsos.csv" in " ".join(result.output.split())


def test_fields_lists_types_vocabularies_and_ranges(tmp_path: Path) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["fields", "--level", "family"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[2].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert "3 .. 5,000" in rows["floor_area"] and "float" in rows["floor_area"]
    assert "TANAH, BAMBU" in rows["floor_type"]
    assert "nik_birth_date" not in rows and "relationship" not in rows
    toml = TOML + "[ingest.ranges.floor_area]\nmin = 10\n"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["fields", "--level", "family", "--project", str(project(tmp_path, toml=toml))])
    assert "10 .. 5,000" in result.output
