"""Bulk matching: planted rows, each with its known outcome.

The registry is the hand-written release R0001 (see `fakes`): SITI AMINAH (persons 2 and 4) are
namesakes born the same day; every other person is unique by name and birth date.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import LINK_MODEL_FILE
from dtsen.serve.match_job import MatchExportError, MatchJob, export_match_results, match_file
from dtsen.serve.matching import RESULT_COLUMNS
from dtsen.serve.releases import ServingReleases
from dtsen.serve.upload import UploadError

# (NIK, name, birth date) -> status, person_id, a reason that must be among the row's reasons
PLANTED: list[tuple[tuple[str, str, str], str, int | None, str | None]] = [
    (("3204011705800001", "AHMAD SUBAGJA", "17-05-1980"), "exact_nik", 1, None),
    (("3204011705800001", "H. AHMAD SUBAGJA, S.Pd", "1980-05-17"), "exact_nik", 1, None),  # titles, another format
    (("3204011705800001", "AHMAD SUBAGYA", "17/05/1980"), "exact_nik", 1, None),  # one letter off, same person
    (("3204020101500001", "BUDI HARTONO", "01-01-1950"), "exact_nik", 5, None),
    (("3204020101500008", "BUDI HARTONO", "01-01-1950"), "probabilistic", 5, "nik_not_found"),  # mistyped digit
    (("", "AHMAD SUBAGJA", "17-05-1980"), "probabilistic", 1, "nik_missing"),
    (("3.20402E+15", "BUDI HARTONO", "01-01-1950"), "probabilistic", 5, "nik_excel_damaged"),
    (("", "SITI AMINAH", "04-03-1982"), "ambiguous", None, "nik_missing"),  # two namesakes
    (("3204011705800001", "DEWI KARTIKA", "09-09-1999"), "none", None, "nik_conflict"),  # someone else's NIK
    (("3204011705800001", "", ""), "none", None, "nik_unconfirmed"),  # nothing to confirm the NIK with
    (("", "ZULKARNAEN PRAWIRA", "11-11-1911"), "none", None, "nik_missing"),  # nobody
    (("3301011212750001", "JOKO SANTOSO", "12-12-1975"), "exact_nik", 7, None),
]


def _write_csv(path: Path, rows: list[tuple[str, str, str]], header: tuple[str, ...] = ("NIK", "NAMA", "TGL_LAHIR"),
               extra: str = "") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
        fh.write(extra)
    return path


def _results(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


def test_every_planted_row_gets_its_outcome(r1: ReleaseHandle, tmp_path: Path) -> None:
    upload = _write_csv(tmp_path / "daftar.csv", [p[0] for p in PLANTED])
    result = match_file(r1, upload, tmp_path / "out")
    rows = _results(result.path)
    assert [r["row"] for r in rows] == list(range(2, 2 + len(PLANTED)))  # every row, in file order
    assert list(rows[0]) == list(RESULT_COLUMNS)
    for (given, status, pid, reason), got in zip(PLANTED, rows, strict=True):
        assert (got["status"], got["person_id"]) == (status, pid), (given[1], got)
        if reason:
            assert reason in (got["reasons"] or "").split(";"), (given[1], got["reasons"])
    assert result.counts == {"exact_nik": 5, "probabilistic": 3, "ambiguous": 1, "none": 3}
    assert result.release_id == "R0001" and result.rows == len(PLANTED)


def test_matched_rows_carry_family_decile_and_flags(r1: ReleaseHandle, tmp_path: Path) -> None:
    upload = _write_csv(tmp_path / "d.csv", [PLANTED[0][0], PLANTED[3][0], PLANTED[7][0]])
    rows = _results(match_file(r1, upload, tmp_path / "out").path)
    ahmad, budi, siti = rows
    assert (ahmad["family_id"], ahmad["decile"], ahmad["poor"], ahmad["extreme_poor"], ahmad["pkh"]) == (10, 2, True, False, True)
    assert ahmad["match_probability"] == 1.0 and ahmad["candidates"] == 1
    assert (budi["family_id"], budi["decile"], budi["is_deceased"]) == (11, 6, False)
    assert siti["candidates"] == 2 and siti["family_id"] is None and siti["decile"] is None


def test_probabilistic_rows_have_a_probability_above_the_threshold(r1: ReleaseHandle, tmp_path: Path) -> None:
    upload = _write_csv(tmp_path / "d.csv", [PLANTED[4][0], PLANTED[5][0]])
    rows = _results(match_file(r1, upload, tmp_path / "out").path)
    assert all(r["status"] == "probabilistic" and r["match_probability"] >= 0.9 for r in rows)
    assert all(r["match_weight"] is not None and r["candidates"] == 1 for r in rows)


def test_xlsx_with_numeric_nik_cells_and_other_column_names(r1: ReleaseHandle, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["No", "Nomor Induk Kependudukan", "Nama Lengkap", "Tanggal Lahir", "Jenis Kelamin"])
    ws.append([1, 3204011705800001, "Ahmad Subagja", "17-05-1980", "L"])  # a float in Excel: last digits lost
    ws.append([2, "3204020101500001", "Budi Hartono", "01-01-1950", "LAKI-LAKI"])
    path = tmp_path / "daftar.xlsx"
    wb.save(path)
    result = match_file(r1, path, tmp_path / "out")
    rows = _results(result.path)
    assert result.columns["Nomor Induk Kependudukan"] == "nik" and result.columns["Jenis Kelamin"] == "sex"
    first, second = rows
    assert first["person_id"] == 1 and first["status"] in ("exact_nik", "probabilistic")
    assert (second["status"], second["person_id"]) == ("exact_nik", 5)


def test_ragged_rows_are_reported_not_dropped(r1: ReleaseHandle, tmp_path: Path) -> None:
    upload = _write_csv(tmp_path / "d.csv", [PLANTED[0][0]], extra="3204020101500001,BUDI,01-01-1950,EXTRA,CELLS\n")
    rows = _results(match_file(r1, upload, tmp_path / "out").path)
    assert [(r["row"], r["status"]) for r in rows] == [(2, "exact_nik"), (3, "none")]
    assert rows[1]["reasons"] == "ragged_row"


def test_missing_columns_are_named(r1: ReleaseHandle, tmp_path: Path) -> None:
    upload = _write_csv(tmp_path / "d.csv", [("1", "x")], header=("ID", "NAMA"))  # type: ignore[list-item]
    with pytest.raises(UploadError, match="nik, birth_date"):
        match_file(r1, upload, tmp_path / "out")


def test_without_a_link_model_only_exact_nik_matches(project: Path, tmp_path: Path) -> None:
    import shutil

    index = tmp_path / "R0001"
    shutil.copytree(project / "serving" / "R0001", index)
    (index / LINK_MODEL_FILE).unlink()
    h = ReleaseHandle(index, project / "releases" / "R0001")
    try:
        upload = _write_csv(tmp_path / "d.csv", [PLANTED[0][0], PLANTED[5][0]])
        result = match_file(h, upload, tmp_path / "out")
    finally:
        h.close()
    rows = _results(result.path)
    assert [r["status"] for r in rows] == ["exact_nik", "none"]
    assert "no_link_model" in rows[1]["reasons"] and result.notes


def test_job_reports_progress_and_holds_its_release(releases: ServingReleases, tmp_path: Path) -> None:
    upload = _write_csv(tmp_path / "d.csv", [p[0] for p in PLANTED])
    seen: list[tuple[str, float]] = []
    lock = threading.Lock()

    def on_progress(stage: str, fraction: float) -> None:
        with lock:
            seen.append((stage, fraction))

    job = MatchJob(releases, upload, tmp_path / "job", on_progress=on_progress).start().wait(120)
    assert job.state == "done", job.error
    assert job.result is not None and job.result.rows == len(PLANTED) and job.release_id == "R0001"
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert next(s for s, _ in seen) == "read" and "score" in {s for s, _ in seen}
    failed = MatchJob(releases, tmp_path / "absent.csv", tmp_path / "job2").start().wait(60)
    assert failed.state == "failed" and "not found" in (failed.error or "")


def test_results_are_exported_through_the_safe_writer(tmp_path: Path) -> None:
    import csv
    import io

    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    result = tmp_path / "hasil_padan.parquet"
    pq.write_table(pa.table({"row": [2, 3], "person_id": [9007199254740993, 7], "status": ["exact_nik", "none"],
                             "reasons": ["=HYPERLINK(\"http://x\",\"klik\")", ""]}), result)
    text = export_match_results(result, tmp_path / "hasil.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["baris", "person_id", "status_padan", "alasan"]
    # a 17-digit id kept whole for Excel (a text literal), the formula neutralised
    assert rows[1] == ["2", '="9007199254740993"', "exact_nik", "'=HYPERLINK(\"http://x\",\"klik\")"]
    book = openpyxl.load_workbook(export_match_results(result, tmp_path / "hasil.xlsx"))
    cells = [[c.value for c in row] for row in book["hasil_padan"].iter_rows()]
    assert cells[1] == [2, "9007199254740993", "exact_nik", "'=HYPERLINK(\"http://x\",\"klik\")"]
    assert all(c.data_type != "f" for row in book["hasil_padan"].iter_rows() for c in row)
    with pytest.raises(MatchExportError, match=r"\.csv or \.xlsx"):
        export_match_results(result, tmp_path / "hasil.ods")
