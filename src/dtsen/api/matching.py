"""Bulk matching (*padan data*) over HTTP, as an asynchronous job (`dtsen.api.match_jobs`).

    POST /api/match?purpose=targeting          multipart `file` (CSV or XLSX: NIK, NAMA, TANGGAL_LAHIR)
                                               -> 202 {"job_id", "status_url", "results_url"}
    GET  /api/match/{job_id}                   state, stage and progress (0..1), counts when done
    GET  /api/match/{job_id}/results?purpose=targeting&format=json|csv|xlsx|parquet

Each uploaded row comes back with whether and how it matched (`exact_nik`, `probabilistic`,
`ambiguous`, `none`), the person and family, decile and flags, as far as the purpose allows
(`match.bulk` in the policy). The matching runs only against persons inside the caller's region
(fixed when the job is submitted); a person elsewhere comes back `none`, like one the registry
does not hold. Uploads may be as large as `api.max_upload_bytes` (this route only). A job is
seen only by the principal that submitted it: anyone else gets 404, as for a job that does not
exist. Downloading the results is a read of personal data, written to the audit chain with the
persons matched (written when the job completes, before its results can be fetched; each download
is an entry naming the job).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from dtsen.api.deps import AccessDep, CurrentPrincipal, PurposeParam
from dtsen.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from dtsen.api.match_jobs import JobRecord, MatchJobError, MatchJobs, project_results
from dtsen.api.reads import policy_scope
from dtsen.security.audit import AuditEvent
from dtsen.security.context import Security
from dtsen.security.policy import Scope
from dtsen.security.principal import within
from dtsen.serve.match_job import MatchExportError, export_match_results

router = APIRouter(prefix="/api/match", tags=["matching"])
JOB_ID = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The job id POST /api/match gave.")]
RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {"model": ErrorBody, "description": "The list cannot be matched (missing columns, not CSV or XLSX)"},
    404: {"model": ErrorBody, "description": "No such job, or not the caller's"},
    409: {"model": ErrorBody, "description": "The job has not finished"},
    413: {"model": ErrorBody, "description": "The list is larger than api.max_upload_bytes"},
    503: {"model": ErrorBody, "description": "No release can be served yet"},
}
MEDIA = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "parquet": "application/vnd.apache.parquet"}


class JobAccepted(BaseModel):
    job_id: str
    state: str
    status_url: str
    results_url: str


class JobStatus(BaseModel):
    job_id: str
    state: str = Field(description="queued, running, done or failed.")
    stage: str = Field(description="read, exact, candidates, score, write (while running).")
    progress: float = Field(description="Share of the job done, 0 to 1.")
    purpose: str
    regions: list[str] | None = Field(description="The regions matched within (null: national).")
    release_id: str | None = Field(description="The release matched against.")
    rows: int | None = Field(description="Rows of the list (done).")
    counts: dict[str, int] = Field(description="Rows per status: exact_nik, probabilistic, ambiguous, none.")
    columns: dict[str, str] = Field(description="Column of the list -> the field it was read as.")
    notes: list[str]
    error: str | None
    created: str
    finished: str | None


class ResultPage(BaseModel):
    job_id: str
    release_id: str | None
    purpose: str
    total: int
    offset: int
    limit: int
    rows: list[dict[str, Any]]


def jobs_of(request: Request) -> MatchJobs:
    jobs: MatchJobs = request.app.state.match_jobs
    return jobs


def _status(job: JobRecord) -> JobStatus:
    return JobStatus(job_id=job.id, state=job.state, stage=job.stage, progress=job.progress, purpose=job.purpose,
                     regions=job.regions, release_id=job.release_id, rows=job.rows, counts=job.counts,
                     columns=job.columns, notes=job.notes, error=job.error, created=job.created,
                     finished=job.finished)


def audit_completion(security: Security) -> Callable[[JobRecord, list[int]], None]:
    """What a finished job records: the persons it matched, for its owner and purpose."""

    def record(job: JobRecord, persons: list[int]) -> None:
        security.writer.record(AuditEvent(
            actor=job.owner, action="match.bulk", purpose=job.purpose, role=job.role, source=job.source,
            records=(f"match_job:{job.id}", *(f"person:{p}" for p in persons)),
            detail={"stage": "matched", "persons": len(persons), "release_id": job.release_id or ""}))

    return record


def _covers(scope: Scope, regions: list[str] | None) -> bool:
    """Whether the caller's scope still reaches every region the job matched within."""
    prefixes = scope.region_prefixes
    if prefixes is None:
        return True
    if regions is None:
        return False
    return all(any(within(r, p) for p in prefixes) for r in regions)


@router.post("", status_code=202, response_model=JobAccepted, responses=RESPONSES)
def submit(request: Request, purpose: PurposeParam, access: AccessDep,
           file: Annotated[UploadFile, File(description="The list: CSV or XLSX with NIK, name and birth date "
                                                        "(columns found by name: NIK, NAMA, TANGGAL_LAHIR, ...).")],
           ) -> JobAccepted:
    """Upload a list to match against the registry; the job runs in the background."""
    scope = policy_scope(access, "match.bulk", purpose)
    regions = None if scope.region_prefixes is None else list(scope.region_prefixes)
    if regions == [] and scope.family_ids:
        raise ApiError("forbidden", "bulk matching is for regions, not for one family")
    try:
        job = jobs_of(request).submit(access.principal.ref, purpose, regions, file.filename or "", file.file,
                                      role=",".join(dict.fromkeys(p.grant.label() for p in scope.parts)),
                                      source=access.caller.source)
    except MatchJobError as exc:
        raise ApiError("unsupported_media_type", str(exc)) from None
    access.record("match.bulk", purpose, [f"match_job:{job.id}"], region_code=None,
                  detail={"stage": "submitted", "regions": regions or "national"})
    base = f"/api/match/{job.id}"
    return JobAccepted(job_id=job.id, state=job.state, status_url=base, results_url=f"{base}/results?purpose={purpose}")


@router.get("/{job_id}", response_model=JobStatus, responses=RESPONSES)
def status(request: Request, job_id: JOB_ID, principal: CurrentPrincipal) -> JobStatus:
    """A job's state and progress (its owner only)."""
    job = jobs_of(request).get(job_id, principal.ref)
    if job is None:
        raise ApiError("not_found", "no such job")
    return _status(job)


@router.get("/{job_id}/results", response_model=ResultPage, responses={
    **RESPONSES, 200: {"description": "The results: JSON (a page), or a CSV, XLSX or Parquet file",
                       "content": {"application/json": {}, **{m: {} for m in MEDIA.values()}}}})
def results(request: Request, job_id: JOB_ID, purpose: PurposeParam, access: AccessDep,
            format: Annotated[Literal["json", "csv", "xlsx", "parquet"], Query()] = "json",
            offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
            limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
    """The results of a finished job, trimmed to the fields the purpose allows (its owner only,
    for the purpose it was submitted with, while the caller's region still covers the job's)."""
    jobs = jobs_of(request)
    job = jobs.get(job_id, access.principal.ref)
    scope = policy_scope(access, "match.bulk", purpose)
    if job is None or job.purpose != purpose or not _covers(scope, job.regions):
        access.record("match.bulk", purpose, [f"match_job:{job_id}"], outcome="denied",
                      detail={"reason": "not the caller's job, or outside the caller's scope"})
        raise ApiError("not_found", "no such job")
    if job.state != "done":
        raise ApiError("conflict", f"the job is {job.state}" + (f": {job.error}" if job.error else ""))
    table = project_results(jobs.results(job), scope.fields)
    if format == "json":
        table = table.slice(offset, limit)
    access.record("match.bulk", purpose, [f"match_job:{job.id}"], region_code=None,
                  detail={"stage": "results", "format": format, "rows": table.num_rows,
                          "persons": "in the entry of the job's completion"})
    if format == "json":
        body = ResultPage(job_id=job.id, release_id=job.release_id, purpose=purpose, total=job.rows or 0,
                          offset=offset, limit=limit, rows=table.to_pylist())
        return JSONResponse(body.model_dump(mode="json"))
    return _file(table, job, format)


def _file(table: pa.Table, job: JobRecord, format: str) -> Response:
    name = f"hasil_padan_{job.id[:8]}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "parquet":
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return Response(buffer.getvalue(), media_type=MEDIA["parquet"], headers=headers)
    work = FilePath(tempfile.mkdtemp(prefix="dtsen-hasil-"))
    source = work / "hasil.parquet"
    pq.write_table(table, source)
    try:
        out = export_match_results(source, work / name)
    except MatchExportError as exc:
        raise ApiError("unsupported_media_type", str(exc)) from None
    return FileResponse(out, media_type=MEDIA[format], filename=name,
                        background=BackgroundTask(_remove, work))


def _remove(path: FilePath) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
