"""One JSON error shape for every error the service returns, including 404, 405, 422 and
unexpected exceptions (never a traceback, never personal data):

    {"error": "not_found", "error_description": "...", "pesan": "...", "status": 404,
     "request_id": "3f2a...", "details": []}

`error` and `error_description` are the members RFC 6749 gives OAuth2 errors, so `/auth/token`
answers in the same shape. `pesan` is the Indonesian text of the error code; `details` lists
validation problems (where and what, never the value sent). The codes are a catalogue (data),
and `DtsenError` subclasses map onto them in one table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from dtsen.errors import DtsenError
from dtsen.security.errors import (
    AccessDenied,
    AccountError,
    AuthenticationError,
    LockedOutError,
    PolicyError,
)
from dtsen.security.masking import mask
from dtsen.serve.index import ServingIndexError
from dtsen.store.connection import StoreError

log = logging.getLogger("dtsen.api.errors")


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    pesan: str  # Bahasa Indonesia
    description: str  # English, used when the error carries no message of its own


_CATALOGUE = (
    ErrorCode("bad_request", 400, "Permintaan tidak sah", "The request is not valid"),
    ErrorCode("invalid_request", 400, "Permintaan token tidak lengkap", "The token request is missing a parameter"),
    ErrorCode("unsupported_grant_type", 400, "Jenis grant tidak didukung",
              "Only grant_type=client_credentials is supported"),
    ErrorCode("invalid_client", 401, "Klien tidak dikenal atau rahasia salah", "Client authentication failed"),
    ErrorCode("invalid_login", 401, "Nama pengguna, kata sandi atau kode TOTP salah",
              "Wrong username, password or TOTP code"),
    ErrorCode("unauthorized", 401, "Perlu token akses yang sah", "A valid access token is required"),
    ErrorCode("forbidden", 403, "Akses ditolak", "Access denied"),
    ErrorCode("not_found", 404, "Tidak ditemukan", "Not found"),
    ErrorCode("method_not_allowed", 405, "Metode tidak diizinkan", "Method not allowed"),
    ErrorCode("conflict", 409, "Bertentangan dengan keadaan saat ini", "Conflicts with the current state"),
    ErrorCode("payload_too_large", 413, "Isi permintaan terlalu besar", "The request body is too large"),
    ErrorCode("unsupported_media_type", 415, "Jenis isi tidak didukung", "Unsupported content type"),
    ErrorCode("validation_error", 422, "Isian permintaan tidak sah", "The request's parameters are not valid"),
    ErrorCode("locked_out", 429, "Terlalu banyak percobaan gagal", "Too many failed attempts"),
    ErrorCode("rate_limited", 429, "Terlalu banyak permintaan", "Too many requests"),
    ErrorCode("internal_error", 500, "Terjadi galat di server", "Internal error"),
    ErrorCode("store_unavailable", 503, "Penyimpanan operasional tidak tersedia", "The operational store is unavailable"),
    ErrorCode("release_unavailable", 503, "Belum ada rilis yang dapat dilayani", "No release can be served yet"),
)
ERRORS: dict[str, ErrorCode] = {e.code: e for e in _CATALOGUE}
_BY_STATUS: dict[int, str] = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                              415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
                              503: "store_unavailable"}

# DtsenError subclasses and the code they answer with (first match wins).
_BY_EXCEPTION: tuple[tuple[type[DtsenError], str], ...] = (
    (LockedOutError, "locked_out"),
    (AuthenticationError, "unauthorized"),
    (AccessDenied, "forbidden"),
    (AccountError, "bad_request"),
    (PolicyError, "internal_error"),
    (StoreError, "store_unavailable"),
    (ServingIndexError, "release_unavailable"),
)


class ErrorBody(BaseModel):
    """The shape of every error response."""

    error: str = Field(description="Error code (stable, snake_case; OAuth2 codes at /auth/token).")
    error_description: str = Field(description="What is wrong (English, or Indonesian / English).")
    pesan: str = Field(description="Pesan galat dalam Bahasa Indonesia.")
    status: int = Field(description="The HTTP status.")
    request_id: str = Field(description="Quote it when reporting a problem; it names the request in the logs.")
    details: list[dict[str, Any]] = Field(default_factory=list, description="Validation problems, where and what.")


class ApiError(DtsenError):
    """An error an endpoint raises on purpose: a catalogue code and a message without personal data."""

    def __init__(self, code: str, message: str = "", *, headers: Mapping[str, str] | None = None,
                 details: Sequence[Mapping[str, Any]] = ()) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message or ERRORS[code].description)
        self.code = code
        self.headers = dict(headers or {})
        self.details = [dict(d) for d in details]


def request_id_of(scope: Mapping[str, Any]) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", "")) if isinstance(state, Mapping) else ""


def error_response(code: str, message: str = "", *, request_id: str = "", headers: Mapping[str, str] | None = None,
                   details: Sequence[Mapping[str, Any]] = ()) -> JSONResponse:
    spec = ERRORS[code]
    body = ErrorBody(error=code, error_description=mask(message or spec.description), pesan=spec.pesan,
                     status=spec.status, request_id=request_id, details=[dict(d) for d in details])
    all_headers = dict(headers or {})
    if spec.status == 401 and "WWW-Authenticate" not in all_headers:
        all_headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body.model_dump(), status_code=spec.status, headers=all_headers)


def _dtsen_error(request: Request, exc: Exception) -> JSONResponse:
    rid = request_id_of(request.scope)
    if isinstance(exc, ApiError):
        return error_response(exc.code, str(exc), request_id=rid, headers=exc.headers, details=exc.details)
    assert isinstance(exc, DtsenError)
    code = next((c for cls, c in _BY_EXCEPTION if isinstance(exc, cls)), "bad_request")
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LockedOutError) else {}
    if ERRORS[code].status >= 500:
        log.error("%s (request %s)", type(exc).__name__, rid)
        return error_response(code, request_id=rid)
    return error_response(code, str(exc), request_id=rid, headers=headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _BY_STATUS.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
    headers = dict(exc.headers or {})
    # Starlette's own messages ("Not Found", "Method Not Allowed") add nothing to the catalogue's.
    return error_response(code, request_id=request_id_of(request.scope), headers=headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": mask(str(e.get("msg", ""))),
                "type": str(e.get("type", ""))} for e in exc.errors()]
    return error_response("validation_error", request_id=request_id_of(request.scope), details=details)


def install(app: FastAPI) -> None:
    """Route every handled error through the one shape."""
    app.add_exception_handler(DtsenError, _dtsen_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": desc}
    for status, desc in ((401, "No valid token"), (403, "Access denied"), (422, "Parameters not valid"),
                         (429, "Too many requests"))
}
"""OpenAPI `responses=` for routes that take a token: the error shape for their failures."""
