"""Row accounting: every row read is accepted or quarantined, per source and per file.

The pipeline fills one `FileCount` per file (and sheet) from the reader's count and the
engine's counts of what was written, then `check` proves `read = accepted + quarantined`; a
mismatch is an `AccountingError`, never a warning. The report is written as JSON (for the
release manifest) and CSV (for a person with a spreadsheet).

A row is a record: a CSV record may span several physical lines (a quoted newline); `lines`
counts the file's physical lines beside it. A file that cannot be used at all (unreadable, or
without the mapped columns while the source's other files have them) is quarantined whole: its
entry has `status = "quarantined"`, its reason and what was wrong, and no rows; the report's
`files_quarantined` lists those files, and the ingest goes on (unless `ingest.strict`).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dtsen.errors import AccountingError, ProblemLog


@dataclass
class FileCount:
    source: str
    file: str
    rows_read: int
    accepted: int = 0
    quarantined: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
    lines: int | None = None  # CSV: physical lines in the file (a record may span several)
    status: str = "read"  # "read", or "quarantined": the whole file, which could not be used
    reason: str | None = None  # for a quarantined file: file_unreadable or file_columns_missing
    detail: str | None = None  # ... and what was wrong, with the line where there is one

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined


@dataclass
class SourceCount:
    source: str
    level: str
    files: list[FileCount] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reasons (a row may have several)
    flags: Counter[str] = field(default_factory=Counter)  # warnings on accepted rows
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what a person should look at (the mapping, the file)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


@dataclass
class IngestReport:
    sources: list[SourceCount] = field(default_factory=list)
    engine: str = "duckdb"
    regions_edition: str = ""
    work_dir: str = ""
    warnings: list[str] = field(default_factory=list)  # about the mappings (`config.source_warnings`)

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sources)

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.sources)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.sources)

    def check(self) -> None:
        """Raise `AccountingError` unless every file balances."""
        log = ProblemLog()
        for s in self.sources:
            for f in s.files:
                if not f.balanced:
                    log.add(
                        f"read {f.rows_read} rows, but accepted {f.accepted} + quarantined {f.quarantined}"
                        f" = {f.accepted + f.quarantined}",
                        where=f"source {s.source}, file {f.file}",
                    )
        log.raise_if_any(AccountingError, "row accounting does not balance: rows were lost or invented")

    @property
    def files_quarantined(self) -> list[FileCount]:
        return [f for s in self.sources for f in s.files if f.status == "quarantined"]

    def to_dict(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "regions_edition": self.regions_edition,
            "totals": {"rows_read": self.rows_read, "accepted": self.accepted, "quarantined": self.quarantined,
                       "files_quarantined": len(self.files_quarantined)},
            "files_quarantined": [{"source": f.source, "file": f.file, "reason": f.reason, "detail": f.detail}
                                  for f in self.files_quarantined],
            "warnings": list(self.warnings),
            "sources": [
                {
                    "source": s.source,
                    "level": s.level,
                    "rows_read": s.rows_read,
                    "accepted": s.accepted,
                    "quarantined": s.quarantined,
                    "quarantine_reasons": dict(sorted(s.reasons.items())),
                    "flags": dict(sorted(s.flags.items())),
                    "notes": list(s.notes),
                    "files": [asdict(f) for f in s.files],
                }
                for s in self.sources
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestReport:
        """The report as `to_dict` wrote it (e.g. read back from `report.json`)."""
        known = {f.name for f in fields(FileCount)}
        sources = [
            SourceCount(
                source=s["source"], level=s["level"],
                files=[FileCount(**{k: v for k, v in f.items() if k in known}) for f in s.get("files", [])],
                reasons=Counter(s.get("quarantine_reasons", {})), flags=Counter(s.get("flags", {})),
                notes=list(s.get("notes", [])),
            )
            for s in data.get("sources", [])
        ]
        return cls(sources=sources, engine=data.get("engine", ""), regions_edition=data.get("regions_edition", ""),
                   warnings=list(data.get("warnings", [])))

    @classmethod
    def read(cls, directory: Path) -> IngestReport:
        """The report an ingest wrote into `directory` (`work/ingest`)."""
        path = directory / "report.json"
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise AccountingError(f"cannot read the ingest report {path} ({e}); run `dtsen ingest` again") from None

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        js = directory / "report.json"
        js.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        cs = directory / "report.csv"
        with cs.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["source", "file", "lines", "rows_read", "accepted", "quarantined", "balanced", "status",
                        "reason"])
            for s in self.sources:
                for f in s.files:
                    w.writerow([s.source, f.file, "" if f.lines is None else f.lines, f.rows_read, f.accepted,
                                f.quarantined, f.balanced, f.status, f.reason or ""])
        return js, cs
