"""The front of the pipeline end to end: messy files in, typed records and quarantine out."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.errors import InputFileError, MappingError
from dtsen.ingest.pipeline import ingest

REGIONS = """\
code,name,level
32,Jawa Barat,province
32.04,Kabupaten Bandung,regency
32.04.05,Cileunyi,district
32.04.05.2001,Cileunyi Kulon,village
32.04.05.2002,Cileunyi Wetan,village
32.04.05.2003,Cimekar,village
"""

HEADER = "NIK;NO_KK;NAMA;JK;TGL_LAHIR;KODE_DESA;ALAMAT"
ROWS = [
    # row 2: clean, NIK with spaces, a title, RT/RW in the address
    "3204 0515 0780 0003;3204050101100001;H. Ahmad Suparman, S.Pd;1;15-07-1980;32.04.05.2001;JL. MELATI NO. 3 RT 003/RW 005",
    # row 3: NIK with dots, woman (day + 40)
    "3204.0552.0385.0002;3204050101100001;Siti Nur'aini;2;12-03-1985;32.04.05.2001;JL. MELATI NO. 3 RT.3 RW.5",
    # row 4: NIK as an Excel float in scientific notation
    "3.20405E+15;3204050101100002;Dewi Lestari;2;04-11-1992;32.04.05.2002;KP. SUKAMAJU",
    # row 5: NIK as an Excel float with a decimal part
    "3204050411920001.0;3204050101100002;Budi;1;04-11-1992;32.04.05.2002;KP. SUKAMAJU",
    # row 6: impossible date
    "3204053102900001;3204050101100003;Joko;1;31-02-1990;32.04.05.2003;DUSUN KRAJAN",
    # row 7: future birth date
    "3204050101300001;3204050101100003;Bayi;1;01-01-2030;32.04.05.2003;DUSUN KRAJAN",
    # row 8: age over 120
    "3204050101000001;3204050101100003;Mbah Karto;1;01-01-1890;32.04.05.2003;DUSUN KRAJAN",
    # row 9: village code not in the master
    "3204051507800004;3204050101100004;Asep;1;15-07-1980;32.04.05.2999;DUSUN KRAJAN",
    # row 10: the same row as row 2
    "3204 0515 0780 0003;3204050101100001;H. Ahmad Suparman, S.Pd;1;15-07-1980;32.04.05.2001;JL. MELATI NO. 3 RT 003/RW 005",
    # row 11: ragged (one field too many)
    "3204051507800005;3204050101100005;Ujang;1;15-07-1980;32.04.05.2001;JL. MAWAR;EXTRA",
    # row 12: NIK's sex and birth date disagree with the record (kept, flagged)
    "3204051507800006;3204050101100006;Neneng;2;16-07-1980;32.04.05.2001;JL. MAWAR",
]
TOML = """\
[reference]
regions = "regions.csv"
regions_edition = "uji"

[sources.dinsos]
files = ["dinsos.csv"]
as_of = "2025-06-30"

[sources.dinsos.columns]
NIK = "nik"
NO_KK = "kk"
NAMA = "full_name"
JK = "sex"
TGL_LAHIR = "birth_date"
KODE_DESA = "region_code"
ALAMAT = "address"
"""


def project(tmp_path: Path, rows: list[str] = ROWS, toml: str = TOML, encoding: str = "utf-8") -> Path:
    (tmp_path / "regions.csv").write_text(REGIONS, encoding="utf-8")
    (tmp_path / "dinsos.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding=encoding)
    (tmp_path / "dtsen.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def project_toml(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "dtsen.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def by_row(table: pa.Table) -> dict[int, dict[str, object]]:
    return {r["row"]: r for r in table.to_pylist()}


def test_every_row_is_accepted_or_quarantined_with_its_reasons(tmp_path: Path, duck: Engine) -> None:
    settings = load_settings(project(tmp_path))
    report = ingest(settings, duck)
    [src] = report.sources
    assert (src.rows_read, src.accepted, src.quarantined) == (11, 10, 1)
    records = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/dinsos"))
    quarantine = by_row(read_parquet_arrow(settings.work_dir / "ingest/quarantine/dinsos"))
    assert sorted(records) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 12]
    assert set(records) | set(quarantine) == set(range(2, 13))
    assert not set(records) & set(quarantine)

    ahmad = records[2]
    assert ahmad["nik"] == "3204051507800003"
    assert ahmad["name"] == "AHMAD SUPARMAN"
    assert ahmad["name_titles"] is not None and "H" in str(ahmad["name_titles"]).split()
    assert (ahmad["sex"], ahmad["rt"], ahmad["rw"]) == ("L", "003", "005")
    assert ahmad["region_code"] == "32.04.05.2001"
    assert records[3]["nik"] == "3204055203850002" and records[3]["nik_sex"] == "P"
    assert (records[3]["rt"], records[3]["rw"]) == ("003", "005")

    def reasons(row: int) -> set[str]:
        return set(str(quarantine[row]["reasons"]).split(";"))

    def flags(row: int) -> set[str]:
        return set(str(records[row]["flags"]).split(";"))

    # a single bad field is withheld (null) and flagged; the rest of the row is kept
    for row, code, field in [
        (4, "nik_excel_damaged", "nik"),
        (5, "nik_excel_damaged", "nik"),
        (6, "birth_date_invalid", "birth_date"),
        (7, "birth_date_future", "birth_date"),
        (8, "age_implausible", "birth_date"),
        (9, "region_unknown", "region_code"),
    ]:
        assert code in flags(row) and records[row][field] is None, (row, code, records[row])
    assert records[4]["name"] == "DEWI LESTARI" and records[4]["kk"] == "3204050101100002"
    assert records[9]["nik"] == "3204051507800004" and records[6]["name"] == "JOKO"
    assert "duplicate_row" in flags(10) and records[10]["nik"] == ahmad["nik"]
    assert reasons(11) == {"ragged_row"}
    assert quarantine[11]["detail"] == "expected 7 fields, found 8"
    assert quarantine[11]["file"] == "dinsos.csv"
    # NIK disagreement with the record is a separate, non-blocking reason
    assert {"nik_sex_mismatch", "nik_birth_date_mismatch"} <= flags(12)
    # the report on disk says the same
    data = json.loads((settings.work_dir / "ingest/report.json").read_text())
    assert data["totals"] == {"rows_read": 11, "accepted": 10, "quarantined": 1, "files_quarantined": 0}


def test_windows_1252_names_survive(tmp_path: Path, duck: Engine) -> None:
    rows = ["3204051507800003;3204050101100001;JOSÉ Désa;1;15-07-1980;32.04.05.2001;JL. MELATI"]
    settings = load_settings(project(tmp_path, rows, encoding="cp1252"))
    ingest(settings, duck)
    [rec] = read_parquet_arrow(settings.work_dir / "ingest/records/dinsos").to_pylist()
    assert rec["full_name"] == "JOSÉ DÉSA"


def test_missing_column_names_the_column_and_the_mapping_line(tmp_path: Path, duck: Engine) -> None:
    settings = load_settings(project(tmp_path, toml=TOML.replace('JK = "sex"', 'JENIS_KELAMIN = "sex"')))
    with pytest.raises(MappingError) as info:
        ingest(settings, duck)
    text = str(info.value)
    assert "column 'JENIS_KELAMIN' is not in dinsos.csv" in text
    assert "dtsen.toml line 13 (sources.dinsos.columns.JENIS_KELAMIN)" in text
    assert "the file has: NIK, NO_KK, NAMA, JK" in text


def test_missing_file_is_named(tmp_path: Path, duck: Engine) -> None:
    settings = load_settings(project(tmp_path, toml=TOML.replace("dinsos.csv", "tidak_ada_*.csv")))
    with pytest.raises(MappingError, match=r"no file matches 'tidak_ada_\*\.csv'"):
        ingest(settings, duck)


def test_binary_and_empty_files_are_clear_errors_with_strict(tmp_path: Path, duck: Engine) -> None:
    settings = load_settings(project(tmp_path, toml=TOML.replace('regions_edition = "uji"\n',
                                                                  'regions_edition = "uji"\n[ingest]\nstrict = true\n')))
    assert settings.ingest.strict
    (tmp_path / "dinsos.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputFileError, match="binary"):
        ingest(settings, duck)
    (tmp_path / "dinsos.csv").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        ingest(settings, duck)


def test_an_unreadable_file_is_quarantined_whole_and_the_others_go_on(tmp_path: Path, duck: Engine) -> None:
    """Issue 11: one bad file does not stop a build. Three files in one source: a cp1252 one, a
    UTF-16 one beside it (detected by its byte-order mark), and a PNG named .csv; and a file
    literally named with glob characters."""
    project(tmp_path, rows=[ROWS[0], ROWS[1].replace("Nur'aini", "Nur'aïni")], encoding="cp1252")
    (tmp_path / "dinsos_utf16.csv").write_bytes("\n".join([HEADER, ROWS[-1].replace("Neneng", "Néneng")]).encode("utf-16"))
    (tmp_path / "dinsos_rusak.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "dtks[5].csv").write_text("\n".join([HEADER, ROWS[0].replace("0003;", "0007;", 1)]) + "\n")
    toml = TOML.replace('files = ["dinsos.csv"]', 'files = ["dinsos*.csv", "dtks[5].csv"]')
    settings = load_settings(project_toml(tmp_path, toml))
    report = ingest(settings, duck)
    [src] = report.sources
    files = {f.file: f for f in src.files}
    assert set(files) == {"dinsos.csv", "dinsos_utf16.csv", "dinsos_rusak.csv", "dtks[5].csv"}
    bad = files["dinsos_rusak.csv"]
    assert (bad.status, bad.reason, bad.rows_read, bad.accepted, bad.quarantined) == (
        "quarantined", "file_unreadable", 0, 0, 0)
    assert bad.detail is not None and "looks binary" in bad.detail
    assert files["dinsos_utf16.csv"].encoding == "utf-16" and files["dinsos.csv"].encoding == "cp1252"
    assert (src.rows_read, src.accepted) == (4, 4)
    records = read_parquet_arrow(settings.work_dir / "ingest/records/dinsos").to_pylist()
    assert sorted(r["name"] for r in records) == ["AHMAD SUPARMAN", "AHMAD SUPARMAN", "NÉNENG", "SITI NURAÏNI"]
    data = json.loads((settings.work_dir / "ingest/report.json").read_text())
    assert data["files_quarantined"] == [{"source": "dinsos", "file": "dinsos_rusak.csv", "reason": "file_unreadable",
                                          "detail": bad.detail}]
    assert data["totals"]["files_quarantined"] == 1


def test_encoding_per_file_overrides_the_source(tmp_path: Path, duck: Engine) -> None:
    project(tmp_path, rows=ROWS[:1])
    (tmp_path / "lama.csv").write_text("\n".join([HEADER, ROWS[1].replace("Siti", "Sïti")]) + "\n", encoding="latin-1")
    toml = TOML.replace('files = ["dinsos.csv"]', 'files = ["dinsos.csv", "lama.csv"]\nencoding = "utf-8"\n'
                        'encodings = { "lama.csv" = "latin-1" }')
    settings = load_settings(project_toml(tmp_path, toml))
    report = ingest(settings, duck)
    assert {f.file: f.encoding for f in report.sources[0].files} == {"dinsos.csv": "utf-8", "lama.csv": "iso8859-1"}
    names = sorted(r["full_name"] for r in read_parquet_arrow(settings.work_dir / "ingest/records/dinsos").to_pylist())
    assert names == ["H. AHMAD SUPARMAN, S.PD", "SÏTI NUR'AINI"]


def test_header_only_file_balances_with_zero_rows(tmp_path: Path, duck: Engine) -> None:
    settings = load_settings(project(tmp_path, rows=[]))
    report = ingest(settings, duck)
    assert (report.rows_read, report.accepted, report.quarantined) == (0, 0, 0)


def test_cli_init_then_ingest_prints_the_accounting_table(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ingest", "--project", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "Row accounting" in result.output and "dinsos" in result.output
    cells = "".join(result.output.split()).replace("│", "")  # table cells wrap at 80 columns
    assert "nik_excel_damaged1" in cells and "birth_date_invalid1" in cells


def test_cli_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", "--project", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "dtsen init DIR" in result.output
    assert "Traceback" not in result.output


def test_a_code_list_translates_a_number_field(tmp_path: Path, duck: Engine) -> None:
    """Regsosek writes the PLN power as a class (1 = 450 VA ... 5 = 3500 VA): the code list of a
    number field applies before the number is parsed; a plain number passes through."""
    (tmp_path / "regions.csv").write_text(REGIONS, encoding="utf-8")
    (tmp_path / "rumah.csv").write_text(
        "NO_KK;DAYA;LUAS\n3204050101100001;1;36\n3204050101100002;3;45,5\n3204050101100003;2200;\n"
        "3204050101100004;X;20\n",  # a code that is not in the list and no number
        encoding="utf-8",
    )
    (tmp_path / "dtsen.toml").write_text(
        '[sources.rumah]\nlevel = "family"\nfiles = ["rumah.csv"]\nas_of = 2025-06-30\n'
        '[sources.rumah.columns]\nNO_KK = "kk"\nDAYA = "electricity_va"\nLUAS = "floor_area"\n'
        '[sources.rumah.codes.electricity_va]\n"1" = "450"\n"2" = "900"\n"3" = "1300"\n',
        encoding="utf-8",
    )
    settings = load_settings(tmp_path)
    ingest(settings, duck)
    records = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/rumah"))
    assert [records[r]["electricity_va"] for r in (2, 3, 4, 5)] == [450, 1300, 2200, None]
    assert records[3]["floor_area"] == 45.5
    assert "value_invalid" in str(records[5]["flags"])  # kept, flagged, the value unknown


def test_row_numbers_mean_the_same_in_csv_xlsx_and_parquet(tmp_path: Path, duck: Engine) -> None:
    """The same rows as CSV, XLSX and Parquet: every accepted and quarantined row reports the
    same row number, the row a spreadsheet shows it on (the header is row 1, so the first data
    row is row 2; see README, "Row numbers")."""
    import openpyxl
    import pyarrow.parquet as pq

    header = ["NIK", "NAMA", "TGL_LAHIR"]
    rows = [
        ["3204051507800003", "AHMAD", "15-07-1980"],
        ["32040552", "SITI", ""],  # a short NIK and no birth date: nothing identifies her, quarantined
        ["3204050109100001", "BUDI", "01-09-2010"],
        ["3204050411920001", "DEWI", "04-11-1992"],
    ]
    (tmp_path / "a.csv").write_text("\n".join(";".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r in [header, *rows]:
        sheet.append(r)
    book.save(tmp_path / "a.xlsx")
    pq.write_table(pa.table({h: [r[i] for r in rows] for i, h in enumerate(header)}), tmp_path / "a.parquet")
    toml = "".join(
        f'[sources.{fmt}]\nfiles = ["a.{fmt}"]\nas_of = 2025-06-30\ndate_formats = ["DD-MM-YYYY"]\n'
        f'columns = {{ NIK = "nik", NAMA = "full_name", TGL_LAHIR = "birth_date" }}\n'
        for fmt in ("csv", "xlsx", "parquet")
    )
    settings = load_settings(project_toml(tmp_path, toml))
    ingest(settings, duck)
    seen = {}
    for fmt in ("csv", "xlsx", "parquet"):
        records = by_row(read_parquet_arrow(settings.work_dir / "ingest/records" / fmt))
        quarantine = by_row(read_parquet_arrow(settings.work_dir / "ingest/quarantine" / fmt))
        seen[fmt] = ({n: r["name"] for n, r in records.items()}, {n: json.loads(str(q["raw"]))["NAMA"]
                                                                 for n, q in quarantine.items()})
    assert seen["csv"] == ({2: "AHMAD", 4: "BUDI", 5: "DEWI"}, {3: "SITI"})
    assert seen["xlsx"] == seen["csv"] and seen["parquet"] == seen["csv"]
