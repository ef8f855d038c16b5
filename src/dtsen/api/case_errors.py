"""How the workflow's errors answer (in the one error shape of `dtsen.api.errors`), the
`responses=` its routes document, and reading an upload within its limit."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, UploadFile
from starlette.responses import JSONResponse

from dtsen.api.errors import ERROR_RESPONSES, ErrorBody, error_response, request_id_of
from dtsen.workflow.errors import (
    BatchRefused,
    CaseConflict,
    CaseNotFound,
    EvidenceRefused,
    EvidenceTooLarge,
    InvalidCaseInput,
    QuotaExceeded,
    RegistryUnavailable,
    TransitionRefused,
    WorkflowError,
)

# WorkflowError subclasses and the code they answer with (first match wins).
_CODES: tuple[tuple[type[WorkflowError], str], ...] = (
    (CaseNotFound, "not_found"),
    (InvalidCaseInput, "validation_error"),
    (TransitionRefused, "conflict"),
    (CaseConflict, "conflict"),
    (BatchRefused, "conflict"),
    (RegistryUnavailable, "conflict"),
    (EvidenceTooLarge, "payload_too_large"),
    (EvidenceRefused, "unsupported_media_type"),
    (QuotaExceeded, "rate_limited"),
)

CASE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {"model": ErrorBody, "description": "The request cannot be read"},
    404: {"model": ErrorBody, "description": "No such case, batch or evidence"},
    409: {"model": ErrorBody, "description": "Not possible in the case's present state, or no release yet"},
    413: {"model": ErrorBody, "description": "The body or file is too large"},
    415: {"model": ErrorBody, "description": "The file is not an image or PDF we accept"},
}


def _workflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowError)
    code = next((c for cls, c in _CODES if isinstance(exc, cls)), "bad_request")
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QuotaExceeded) else {}
    details = [{"loc": p.where.split(".") if p.where else [], "msg": p.message, "type": "workflow"}
               for p in exc.problems]
    message = str(exc.args[0]) if exc.args else ""
    return error_response(code, message, request_id=request_id_of(request.scope), headers=headers, details=details)


def install(app: FastAPI) -> None:
    app.add_exception_handler(WorkflowError, _workflow_error)


def read_upload(file: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes, refusing it past `max_bytes` without reading further."""
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise EvidenceTooLarge(f"berkas terlalu besar / file too large: more than {max_bytes:,} bytes")
    return data
