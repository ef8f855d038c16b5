"""Bulk matching as a job: a file in, a result file out, progress as it goes.

`match_file` does the work against one release (read and standardize the upload, match,
write the results as Parquet: one row per input row, `matching.RESULT_COLUMNS`). `MatchJob`
runs it on a thread for the service: it holds one release for its whole life, reports its
stage and a fraction done through a callback, and keeps the result or the error.

The CSV and XLSX a ministry downloads are written by the project's one safe spreadsheet writer
(`dtsen.export`), through `export_match_results` only.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow.parquet as pq

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.matching import DEFAULT_OPTIONS, MatchOptions, match_rows, unreadable_rows
from dtsen.serve.regions import prefix_range
from dtsen.serve.releases import ServingReleases
from dtsen.serve.scoring import load_match_model
from dtsen.serve.upload import read_upload

RESULT_FILE = "hasil_padan.parquet"
# share of the whole job each stage stands for, in order
STAGES: dict[str, float] = {"read": 0.35, "exact": 0.15, "candidates": 0.15, "score": 0.2, "write": 0.15}
OnProgress = Callable[[str, float], None]  # stage, fraction of the whole job done (0..1)


class MatchExportError(DtsenError):
    """The results cannot be written as a spreadsheet."""


@dataclass
class MatchResult:
    release_id: str
    path: Path
    rows: int
    counts: dict[str, int]
    seconds: float
    columns: dict[str, str]
    notes: list[str] = field(default_factory=list)


def _overall(on_progress: OnProgress | None) -> Callable[[str, float], None]:
    names = list(STAGES)

    def report(stage: str, done: float) -> None:
        if on_progress is None:
            return
        before = sum(STAGES[s] for s in names[: names.index(stage)])
        on_progress(stage, min(1.0, before + STAGES[stage] * done))

    return report


def match_file(
    handle: ReleaseHandle,
    path: Path,
    out_dir: Path,
    *,
    options: MatchOptions = DEFAULT_OPTIONS,
    columns: dict[str, str] | None = None,
    sheet: str | None = None,
    engine: Engine | None = None,
    on_progress: OnProgress | None = None,
    memory_limit: str = "2GB",
    regions: Sequence[str] | None = None,
) -> MatchResult:
    """Match every row of the file at `path` against the handle's release; write the results
    into `out_dir` (`RESULT_FILE`). With `regions` (code prefixes), only the registry's persons
    living there are matched against: a row whose person lives elsewhere comes back `none`,
    exactly as if that person were not in the registry (an empty list: nobody)."""
    started = time.perf_counter()
    report = _overall(on_progress)
    own = engine is None
    eng = engine or Engine.duckdb(memory_limit=memory_limit)
    work = Path(tempfile.mkdtemp(prefix="dtsen-padan-"))
    notes: list[str] = []
    try:
        report("read", 0.0)
        upload = read_upload(eng, Path(path), work, columns=columns, sheet=sheet)
        report("read", 1.0)
        model = load_match_model(handle.link_model_path) if handle.link_model_path else None
        if model is None:
            notes.append("the release has no linkage model: only exact NIK matches are made")
        registry = eng.read_parquet(handle.match_path)
        if regions is not None:
            registry = eng.materialize(registry.filter(_inside(registry.region_code, regions)))
        persons = int((handle.meta.get("counts") or {}).get("persons") or registry.count().execute())
        matched = match_rows(eng, upload.rows, registry, model, persons, options, progress=report)
        results = ibis.union(matched, unreadable_rows(upload.unreadable), distinct=False)
        results = eng.materialize(results.order_by([results.sheet.fill_null(""), results.row]))
        report("write", 0.0)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table = results.to_pyarrow()
        pq.write_table(table, out / RESULT_FILE)
        counts = {s: 0 for s in ("exact_nik", "probabilistic", "ambiguous", "none")}
        for status in table.column("status").to_pylist():
            counts[status] += 1
        report("write", 1.0)
        if table.num_rows != upload.rows_read:
            raise DtsenError(f"matching lost rows: {upload.rows_read} read, {table.num_rows} in the results")
        return MatchResult(release_id=handle.release_id, path=out / RESULT_FILE, rows=table.num_rows, counts=counts,
                           seconds=round(time.perf_counter() - started, 3), columns=upload.columns, notes=notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if own:
            eng.close()


def _inside(code: ir.StringValue, regions: Sequence[str]) -> ir.BooleanValue:
    """`code` lies in one of the region prefixes (never, for none)."""
    parts = []
    for prefix in regions:
        lo, hi = prefix_range(prefix)
        parts.append((code >= lo) & (code < hi))
    if not parts:
        return ibis.literal(False)
    inside = parts[0]
    for part in parts[1:]:
        inside = inside | part
    return inside.fill_null(False)


# How each result column is written to a spreadsheet (`dtsen.export`): counts and scores as numbers,
# flags as YA / TIDAK, the rest (statuses, reasons, sheet names) as text.
_NUMBERS = frozenset({"row", "person_id", "family_id", "match_probability", "match_weight", "candidates",
                      "match_candidates", "decile"})
_TITLES = {"row": "baris", "sheet": "sheet", "status": "status_padan", "match_status": "status_padan",
           "match_probability": "probabilitas", "match_weight": "bobot", "candidates": "kandidat",
           "match_candidates": "kandidat", "reasons": "alasan", "match_reasons": "alasan",
           "is_deceased": "meninggal", "decile": "desil", "poor": "miskin", "extreme_poor": "miskin_ekstrem"}


def export_match_results(result: Path, out: Path) -> Path:
    """Write results (a Parquet file of result columns, perhaps trimmed to a purpose's) as CSV or
    XLSX, by `out`'s extension, through the project's one safe spreadsheet writer (`dtsen.export`:
    no cell becomes a formula, ids stay whole)."""
    from dtsen.export import Column, Sheet, write_csv_batches, write_xlsx

    table = pq.read_table(result)
    columns = [Column(_TITLES.get(name, name), "number" if name in _NUMBERS else "text", key=name)
               for name in table.column_names]
    suffix = Path(out).suffix.lower()
    if suffix == ".csv":
        return write_csv_batches(Path(out), columns, table.to_batches(max_chunksize=50_000))
    if suffix == ".xlsx":
        rows = (tuple(r.values()) for r in table.to_pylist())
        return write_xlsx(Path(out), [Sheet("hasil_padan", columns, rows, auto_filter=True)])
    raise MatchExportError(f"{out}: results are written as .csv or .xlsx, not {suffix or 'a file without extension'}")


JobState = Literal["queued", "running", "done", "failed"]


@dataclass
class MatchJob:
    """A bulk-matching job on a thread (see the module docstring)."""

    releases: ServingReleases
    path: Path
    out_dir: Path
    options: MatchOptions = DEFAULT_OPTIONS
    columns: dict[str, str] | None = None
    on_progress: OnProgress | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: JobState = "queued"
    stage: str = ""
    fraction: float = 0.0
    release_id: str | None = None
    result: MatchResult | None = None
    error: str | None = None
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    _thread: threading.Thread | None = None

    def _progress(self, stage: str, fraction: float) -> None:
        self.stage, self.fraction = stage, fraction
        if self.on_progress:
            self.on_progress(stage, fraction)

    def run(self) -> None:
        self.state = "running"
        try:
            with self.releases.acquire() as handle:
                self.release_id = handle.release_id
                self.result = match_file(handle, self.path, self.out_dir, options=self.options, columns=self.columns,
                                         on_progress=self._progress)
            self.state = "done"
        except DtsenError as exc:
            self.error = str(exc)
            self.state = "failed"
        except Exception as exc:  # a job never takes the service down; the error is kept for its owner
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"

    def start(self) -> MatchJob:
        self._thread = threading.Thread(target=self.run, name=f"padan-{self.id[:8]}", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> MatchJob:
        if self._thread is not None:
            self._thread.join(timeout)
        return self
