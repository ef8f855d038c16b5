"""The ingest report's CSV is written by the one spreadsheet writer: a file name that looks like a
formula stays text, counts stay numbers, and it reads back with the JSON report's figures."""

from __future__ import annotations

import csv
from pathlib import Path

from dtsen.ingest.accounting import FileCount, IngestReport, SourceCount


def test_report_csv_goes_through_the_safe_writer(tmp_path: Path) -> None:
    report = IngestReport(sources=[SourceCount("dinsos", "person", files=[
        FileCount("dinsos", "=HYPERLINK(1).csv", rows_read=5, accepted=4, quarantined=1, lines=6),
        FileCount("dinsos", "rusak.csv", rows_read=0, status="quarantined", reason="file_unreadable"),
    ])])
    _, cs = report.write(tmp_path)
    raw = cs.read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw  # the export rule: BOM, CRLF
    rows = list(csv.reader(cs.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["source", "file", "lines", "rows_read", "accepted", "quarantined", "balanced", "status",
                       "reason"]
    assert rows[1][0] == "dinsos" and rows[1][1] != "=HYPERLINK(1).csv" and rows[1][1].endswith("=HYPERLINK(1).csv")
    assert rows[1][2:] == ["6", "5", "4", "1", "True", "read", ""]
    assert rows[2][2:] == ["", "0", "0", "0", "True", "quarantined", "file_unreadable"]
    assert IngestReport.read(tmp_path).rows_read == 5
