"""Bulk-matching jobs of the service (*padan data*): queued, run one at a time, kept in files.

    <serving.dir>/service/padan/<job id>/
        job.json               who asked, for which purpose, within which regions, state, progress
        upload.csv|.xlsx       the list as uploaded (removed once the job has run)
        hasil_padan.parquet    the results (`dtsen.serve.match_job`), one row per uploaded row

Directories are 0700 and files 0600. A job belongs to the principal that submitted it
(`owner`, e.g. `client:kemensos-pkh`); nobody else learns that it exists. Its region scope is
fixed when it is submitted (`regions`: the caller's region prefixes, or null for a national
caller): the registry side of the matching is limited to persons living there, so a row whose
person lives elsewhere comes back `none`, the same as a person the registry does not hold.

One worker thread runs the jobs in the order they came (each holds one release for its whole
run); a job still queued or running when the service stopped is run again when it starts. Jobs
older than `RETENTION_DAYS` are removed at start.

This state is in files because the operational store's migrations were being extended by
another change at the same time; it belongs in the store (a `match_jobs` table) once they are
reconciled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.dci.envelope import new_id
from dtsen.errors import DtsenError
from dtsen.serve.match_job import RESULT_FILE, match_file
from dtsen.serve.matching import MatchOptions
from dtsen.serve.releases import ServingReleases

RETENTION_DAYS = 7
JOB_FILE = "job.json"
UPLOAD = "upload"
SUFFIXES = (".csv", ".txt", ".xlsx")
JobState = Literal["queued", "running", "done", "failed"]
OnDone = Callable[["JobRecord", list[int]], None]  # a finished job and the persons it matched
# result column -> the policy's field name it is answered as (row and sheet are the caller's own)
RESULT_FIELDS: dict[str, str] = {
    "status": "match_status", "person_id": "person_id", "family_id": "family_id",
    "match_probability": "match_probability", "match_weight": "match_weight", "candidates": "match_candidates",
    "is_deceased": "is_deceased", "decile": "decile", "poor": "poor", "extreme_poor": "extreme_poor", "pkh": "pkh",
    "bpnt": "bpnt", "pbi_jk": "pbi_jk", "reasons": "match_reasons",
}  # fmt: skip
ALWAYS = ("row", "sheet")


class MatchJobError(DtsenError):
    """A bulk-matching job cannot be made or read."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class JobRecord:
    id: str
    owner: str
    purpose: str
    regions: list[str] | None  # None: national
    suffix: str
    role: str = ""  # the caller's grants, as the audit chain names them
    source: str = ""
    state: JobState = "queued"
    stage: str = ""
    progress: float = 0.0
    release_id: str | None = None
    rows: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    created: str = field(default_factory=_now)
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobRecord:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class MatchJobs:
    """The jobs of one service (see the module docstring)."""

    def __init__(self, directory: Path, releases: ServingReleases, options: MatchOptions,
                 memory_limit: str = "2GB", on_done: OnDone | None = None) -> None:
        self.directory = _private_dir(Path(directory))
        self.releases = releases
        self.options = options
        self.memory_limit = memory_limit
        self.on_done = on_done
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRecord] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._load()

    # -- state -----------------------------------------------------------------------------------
    def _dir(self, job_id: str) -> Path:
        return self.directory / job_id

    def _save(self, job: JobRecord) -> None:
        _write_private(self._dir(job.id) / JOB_FILE, json.dumps(asdict(job), indent=1))

    def _load(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=RETENTION_DAYS)
        for d in sorted(self.directory.iterdir()):
            path = d / JOB_FILE
            if not d.is_dir() or not path.exists():
                continue
            try:
                job = JobRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, TypeError):
                continue
            if dt.datetime.fromisoformat(job.created) < cutoff:
                shutil.rmtree(d, ignore_errors=True)
                continue
            self._jobs[job.id] = job
            if job.state in ("queued", "running"):
                if self._upload(job).exists():
                    job.state, job.stage, job.progress = "queued", "", 0.0
                    self._save(job)
                    self._enqueue(job.id)
                else:
                    self._fail(job, "the service stopped while this job ran, and its list is gone")

    def _upload(self, job: JobRecord) -> Path:
        return self._dir(job.id) / f"{UPLOAD}{job.suffix}"

    # -- submit and read -------------------------------------------------------------------------
    def submit(self, owner: str, purpose: str, regions: list[str] | None, filename: str,
               content: BinaryIO, role: str = "", source: str = "") -> JobRecord:
        suffix = Path(filename or "").suffix.lower()
        if suffix not in SUFFIXES:
            raise MatchJobError(f"the list must be a CSV or XLSX file ({', '.join(SUFFIXES)}), not {suffix or 'none'}")
        job = JobRecord(id=new_id(), owner=owner, purpose=purpose, regions=regions, suffix=suffix, role=role,
                        source=source)
        _private_dir(self._dir(job.id))
        target = self._upload(job)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(content, out, 1 << 20)
        with self._lock:
            self._jobs[job.id] = job
            self._save(job)
        self._enqueue(job.id)
        return job

    def get(self, job_id: str, owner: str) -> JobRecord | None:
        """The job, when it exists and belongs to `owner` (else None: indistinguishable)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return JobRecord.from_dict(asdict(job)) if job is not None and job.owner == owner else None

    def results(self, job: JobRecord) -> pa.Table:
        path = self._dir(job.id) / RESULT_FILE
        if job.state != "done" or not path.exists():
            raise MatchJobError(f"job {job.id} has no results (it is {job.state})")
        return pq.read_table(path)

    def wait(self, job_id: str, timeout: float = 60.0) -> JobRecord:
        """Until the job has run (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                job = self._jobs[job_id]
                if job.state in ("done", "failed"):
                    return JobRecord.from_dict(asdict(job))
            time.sleep(0.02)
        raise TimeoutError(f"job {job_id} did not finish in {timeout} s")

    # -- the worker ------------------------------------------------------------------------------
    def _enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = threading.Thread(target=self._work, name="padan-worker", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs.get(job_id)
            if job is not None and job.state == "queued":
                self._run(job)

    def _progress(self, job: JobRecord, stage: str, fraction: float) -> None:
        with self._lock:
            changed = stage != job.stage
            job.stage, job.progress = stage, round(fraction, 3)
            if changed:
                self._save(job)

    def _run(self, job: JobRecord) -> None:
        with self._lock:
            job.state, job.started = "running", _now()
            self._save(job)
        try:
            with self.releases.acquire() as handle:
                job.release_id = handle.release_id
                result = match_file(handle, self._upload(job), self._dir(job.id), options=self.options,
                                    memory_limit=self.memory_limit, regions=job.regions,
                                    on_progress=lambda stage, f: self._progress(job, stage, f))
        except DtsenError as exc:
            where = self._dir(job.id)
            self._fail(job, str(exc).replace(str(self._upload(job)), "the list").replace(str(where), "the job"))
            return
        except Exception as exc:  # a job never takes the service down; its owner sees the kind of error
            self._fail(job, f"internal error ({type(exc).__name__})")
            return
        finally:
            with contextlib.suppress(FileNotFoundError):
                self._upload(job).unlink()
        if self.on_done is not None:  # the matches are in the audit chain before anyone can fetch them
            try:
                persons = pq.read_table(result.path, columns=["person_id"]).column("person_id").to_pylist()
                self.on_done(job, sorted({int(p) for p in persons if p is not None}))
            except Exception as exc:
                self._fail(job, f"the results could not be written to the audit chain ({type(exc).__name__})")
                return
        with self._lock:
            job.state, job.stage, job.progress, job.finished = "done", "done", 1.0, _now()
            job.rows, job.counts, job.columns, job.notes = result.rows, result.counts, result.columns, result.notes
            job.seconds = result.seconds
            self._save(job)

    def _fail(self, job: JobRecord, error: str) -> None:
        from dtsen.privacy import mask_identifiers

        with self._lock:
            job.state, job.error, job.finished = "failed", mask_identifiers(error)[:1000], _now()
            self._save(job)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=5)

    def __iter__(self) -> Iterator[JobRecord]:
        with self._lock:
            return iter([JobRecord.from_dict(asdict(j)) for j in self._jobs.values()])


def project_results(table: pa.Table, fields: frozenset[str]) -> pa.Table:
    """The result columns the purpose may see, named by the policy's fields (`RESULT_FIELDS`);
    row and sheet always (they point into the caller's own list)."""
    columns: dict[str, pa.ChunkedArray] = {name: table.column(name) for name in ALWAYS}
    for column, name in RESULT_FIELDS.items():
        if name in fields and column in table.column_names:
            columns[name] = table.column(column)
    return pa.table(columns)
