"""Values that are cleaned or withheld before they are stored (issue 11): control characters
anywhere in a file, numbers outside their plausible range, RT/RW that are no RT/RW, a stray
quote in a file written without quoting, a field too large; and messages that never print a
person's data."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.errors import MappingError, SettingsError
from dtsen.ingest.masking import mask_digits
from dtsen.ingest.pipeline import ingest


def by_row(table: pa.Table) -> dict[int, dict[str, object]]:
    return {r["row"]: r for r in table.to_pylist()}


def flags(record: dict[str, object]) -> set[str]:
    return set(str(record["flags"] or "").split(";")) - {""}


PERSON_TOML = """\
[sources.dinsos]
files = ["dinsos.csv"]
as_of = "2025-06-30"
[sources.dinsos.columns]
NIK = "nik"
NAMA = "full_name"
ALAMAT = "address"
RT = "rt"
RW = "rw"
PEKERJAAN = "occupation"
"""


def test_control_characters_far_into_the_file_are_removed_and_flagged(tmp_path: Path, duck: Engine) -> None:
    """A name with ESC, VT, SOH or NUL after the first 64 KiB used to stop the release at the
    spreadsheet writer; now the characters are removed and the field named in a warning."""
    filler = [f"320405150780{i:04d};WARGA {i};JL. MAWAR;1;2;PETANI" for i in range(1, 3001)]
    bad = [
        "3204051507809001;BUDI\x1bSANTOSO;JL. MELATI\x00 NO 5;3;4;GURU\x0b",
        "3204051507809002;SITI\x01 AMINAH;KP. \x85BARU;5;6;\x7fTANI",
    ]
    text = "NIK;NAMA;ALAMAT;RT;RW;PEKERJAAN\n" + "\n".join(filler + bad) + "\n"
    assert len(text.encode()) > 64 * 1024 and text.index("\x1b") > 64 * 1024
    (tmp_path / "dinsos.csv").write_text(text, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(PERSON_TOML, encoding="utf-8")
    settings = load_settings(tmp_path)
    report = ingest(settings, duck)
    assert report.sources[0].accepted == 3002
    records = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/dinsos"))
    budi, siti = records[3002], records[3003]
    assert (budi["full_name"], budi["address"], budi["occupation"]) == ("BUDISANTOSO", "JL MELATI NO 5", "GURU")
    assert (siti["full_name"], siti["address"], siti["occupation"]) == ("SITI AMINAH", "KAMPUNG BARU", "TANI")
    assert flags(budi) == {"control_chars_removed:full_name", "control_chars_removed:address",
                           "control_chars_removed:occupation"}
    assert "control_chars_removed:full_name" in flags(siti)
    assert flags(records[2]) == set()
    assert report.sources[0].flags["control_chars_removed:full_name"] == 2
    # every text value that ingest accepted can be written to a spreadsheet
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r, rec in enumerate(records.values(), start=1):
        for c, value in enumerate(v for v in rec.values() if isinstance(v, str)):
            sheet.cell(row=r, column=c + 1, value=value)
    book.save(tmp_path / "out.xlsx")


FAMILY_TOML = """\
[sources.survei]
level = "family"
files = ["survei.csv"]
as_of = "2025-06-30"
[sources.survei.columns]
NO_KK = "kk"
ART = "household_size"
LUAS = "floor_area"
KAPITA = "consumption_per_capita"
KWH = "electricity_kwh"
RT = "rt"
RW = "rw"
"""
FAMILY_CSV = """\
NO_KK;ART;LUAS;KAPITA;KWH;RT;RW
3204050101100001;4;36;850000;120;3;5
3204050101100002;-3;-50;-5;inf;-5;NaN
3204050101100003;1000000000;20;0;50;inf;0
3204050101100004;5;9;100000000000000000000;12,5;1234;2
3204050101100005;2;;;;-;
3204050101100006;2;40;900000;10;7;1
"""


def family_project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "survei.csv").write_text(FAMILY_CSV, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(extra + FAMILY_TOML, encoding="utf-8")
    return tmp_path


def test_numbers_outside_their_range_are_withheld_and_flagged(tmp_path: Path, duck: Engine) -> None:
    settings = load_settings(family_project(tmp_path))
    report = ingest(settings, duck)
    assert (report.sources[0].accepted, report.sources[0].quarantined) == (6, 0)
    rec = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/survei"))
    good = rec[2]
    assert (good["household_size"], good["floor_area"], good["consumption_per_capita"]) == (4, 36.0, 850000.0)
    assert (good["rt"], good["rw"]) == ("003", "005") and flags(good) == set()

    neg = rec[3]
    assert [neg[f] for f in ("household_size", "floor_area", "consumption_per_capita", "electricity_kwh", "rt", "rw")] \
        == [None] * 6
    assert flags(neg) == {"value_out_of_range:household_size", "value_out_of_range:floor_area",
                          "value_out_of_range:consumption_per_capita", "value_invalid:electricity_kwh",
                          "value_out_of_range:rt", "value_invalid:rw"}
    huge = rec[4]
    assert (huge["household_size"], huge["consumption_per_capita"], huge["rt"], huge["rw"]) == (None, None, None, None)
    assert flags(huge) == {"value_out_of_range:household_size", "value_out_of_range:consumption_per_capita",
                           "value_invalid:rt", "value_out_of_range:rw"}
    assert rec[5]["consumption_per_capita"] is None and rec[5]["floor_area"] == 9.0
    assert flags(rec[5]) == {"value_out_of_range:consumption_per_capita", "value_out_of_range:rt"}
    assert rec[5]["electricity_kwh"] == 12.5 and rec[5]["rw"] == "002"
    # blanks and a dash are missing values, not bad ones
    assert flags(rec[6]) == set() and rec[6]["rt"] is None
    assert report.sources[0].flags["value_out_of_range:household_size"] == 2


def test_a_project_narrows_a_range_and_may_reject(tmp_path: Path, duck: Engine) -> None:
    extra = ('[ingest]\nranges = { floor_area = { min = 10 }, rt = { max = 4 } }\n'
             '[ingest.severity]\nvalue_out_of_range = "reject"\n')
    settings = load_settings(family_project(tmp_path, extra))
    assert settings.ingest.field_ranges()["floor_area"] == (10, 5000)
    ingest(settings, duck)
    rec = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/survei"))
    quarantine = by_row(read_parquet_arrow(settings.work_dir / "ingest/quarantine/survei"))
    assert sorted(rec) == [2, 6]  # row 2 has RT 3, within 1..4
    assert sorted(quarantine) == [3, 4, 5, 7]
    assert quarantine[7]["reasons"] == "value_out_of_range:rt"  # RT 7: above the project's 4
    assert set(str(quarantine[5]["reasons"]).split(";")) == {
        "value_out_of_range:floor_area", "value_out_of_range:consumption_per_capita", "value_out_of_range:rt"}


def test_a_range_for_a_field_that_is_no_number_is_a_mistake(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="has mistakes") as info:
        load_settings(family_project(tmp_path, '[ingest.ranges.full_name]\nmax = 3\n'))
    assert "a range is given for 'full_name', which is not a number field" in str(info.value)
    assert "dtsen.toml line 1 (ingest.ranges.full_name)" in str(info.value)


def test_masking_keeps_identifiers_out_of_messages() -> None:
    assert mask_digits("3204055203850002") == "3204********0002"
    assert mask_digits("NIK 3204 0552 0385 0002, KK 3204050101100001") == "NIK 3204********0002, KK 3204********0001"
    assert mask_digits("KODE 32.04.05.2001 RT 3") == "KODE ********01 RT 3"
    assert mask_digits("ALAMAT") == "ALAMAT"


def test_a_file_without_a_header_row_is_not_printed(tmp_path: Path, duck: Engine) -> None:
    """A file whose first row is data: the message says so and prints neither the NIK nor the
    name from that row."""
    (tmp_path / "dinsos.csv").write_text("3204055203850002;SITI AMINAH;JL. MAWAR;1;2;PETANI\n", encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(PERSON_TOML, encoding="utf-8")
    with pytest.raises(MappingError) as info:
        ingest(load_settings(tmp_path), duck)
    text = str(info.value)
    assert "is its first row a header?" in text
    assert "3204055203850002" not in text and "SITI" not in text


def test_the_report_counts_lines_and_records(tmp_path: Path, duck: Engine) -> None:
    """A broken quote costs one line: the report counts the file's physical lines beside its
    records, and the quarantine names the line of the one row that did not fit."""
    text = (
        "NIK;NAMA;ALAMAT;RT;RW;PEKERJAAN\n"
        '3204051507800001;AHMAD;"JL. MERDEKA;1;2;PETANI\n'
        "3204051507800002;BUDI;JL. MAWAR;1;2\n"
        + "".join(f"320405150780{i:04d};WARGA;JL. X;1;2;TANI\n" for i in range(3, 8))
        + '3204051507800008;CICI;"JL. A\nBLOK C";1;2;GURU\n'
    )
    (tmp_path / "dinsos.csv").write_text(text, encoding="utf-8")
    (tmp_path / "dtsen.toml").write_text(PERSON_TOML, encoding="utf-8")
    settings = load_settings(tmp_path)
    report = ingest(settings, duck)
    [f] = report.sources[0].files
    assert (f.lines, f.rows_read, f.accepted, f.quarantined) == (10, 8, 7, 1)
    quarantine = by_row(read_parquet_arrow(settings.work_dir / "ingest/quarantine/dinsos"))
    assert list(quarantine) == [3]
    assert (quarantine[3]["reasons"], quarantine[3]["detail"]) == ("ragged_row", "expected 6 fields, found 5")
    assert any("line(s) 2" in n for n in f.notes)  # the line with the stray quote, read by itself
    records = by_row(read_parquet_arrow(settings.work_dir / "ingest/records/dinsos"))
    assert records[2]["address"] == "JL MERDEKA" and records[9]["address"] == "JL A BLOK C"
    data = json.loads((settings.work_dir / "ingest/report.json").read_text())
    assert data["sources"][0]["files"][0]["lines"] == 10
