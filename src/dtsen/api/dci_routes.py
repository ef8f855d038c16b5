"""DCI Social Registry API v1.0.0 over HTTP (`/dci/registry/...`, the specification's paths).

    POST /dci/registry/sync/search       the on-search envelope as the response
    POST /dci/registry/search            ACK now; the on-search envelope POSTed to header.sender_uri
    POST /dci/registry/sync/txn/status   the txn-on-status envelope as the response
    POST /dci/registry/txn/status        ACK now; txn-on-status POSTed to header.sender_uri
    POST /dci/registry/subscribe         ACK now; on-subscribe POSTed to header.sender_uri
    POST /dci/registry/unsubscribe       ACK now; on-unsubscribe POSTed to header.sender_uri

Callers are machine clients with a bearer token (401 without one); `header.sender_id` must be the
token's client id. A refused envelope (bad header, version, timestamp, signature, sender_uri) is an
HTTP 4xx whose body is the specification's `errors` list (and the same `error` object). Every search
answer and every callback is written to the audit chain with the records it carried. Handlers
parse, ask the policy, call `dtsen.dci` (through `dtsen.api.dci_service`), record and answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dtsen.api.access import Access
from dtsen.api.dci_service import DciService, default_purpose, records_of
from dtsen.api.deps import AccessDep
from dtsen.api.errors import ERROR_RESPONSES, ErrorBody
from dtsen.api.reads import policy_scope
from dtsen.dci import Callback, DciRegistry, DciRequestError
from dtsen.dci.envelope import http_error_body
from dtsen.security.policy import Scope

router = APIRouter(prefix="/dci/registry", tags=["dci"])

DciPurpose = Annotated[str | None, Query(
    min_length=1, max_length=40, pattern=r"^[a-z_]+$",
    description="The purpose of the request; default: the one purpose the client is granted for DCI.")]
ENVELOPE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["header", "message"],
    "properties": {"signature": {"type": "string"}, "header": {"type": "object"}, "message": {"type": "object"}},
    "description": "A DCI envelope (social_api_v1.0.0.yaml)."}}}}}
DCI_ERROR = {"type": "object", "properties": {"errors": {"type": "array", "items": {"type": "object"}},
                                             "error": {"type": "object"}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {"description": "The envelope (sync) or the acknowledgement (async)",
          "content": {"application/json": {"schema": {"type": "object"}}}},
    400: {"description": "The envelope is refused (DCI error codes)", "content": {"application/json": {
        "schema": DCI_ERROR}}},
    403: {"description": "Access denied, or header.sender_id is not the token's client", "content": {
        "application/json": {"schema": {"anyOf": [ErrorBody.model_json_schema(), DCI_ERROR]}}}},
    415: {"description": "The body is not JSON", "content": {"application/json": {"schema": DCI_ERROR}}},
    503: {"model": ErrorBody, "description": "No release can be served yet"},
}


def service_of(request: Request) -> DciService:
    service: DciService = request.app.state.dci
    return service


def _refused(error: DciRequestError, status: int | None = None) -> JSONResponse:
    return JSONResponse(http_error_body(error), status_code=status or error.http_status)


async def _envelope(request: Request) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Refusal(DciRequestError("err.request.bad", "send the envelope as application/json"), 415)
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise _Refusal(DciRequestError("err.request.bad", "the body is not valid JSON")) from None


class _Refusal(Exception):
    def __init__(self, error: DciRequestError, status: int | None = None) -> None:
        super().__init__(error.code)
        self.error, self.status = error, status


def _caller_scope(access: Access, action: str, stated: str | None, body: Any) -> Scope:
    """The caller's scope for `action` (403, audited, when none); the envelope's sender must be
    the token's client (403, audited, otherwise)."""
    principal = access.principal
    purpose = stated or default_purpose(access.security, principal, action)
    if purpose is None:
        access.scope(action, stated)  # audited denial: no purpose, or several to choose from
    scope = policy_scope(access, action, purpose)
    header = body.get("header") if isinstance(body, dict) else None
    sender = header.get("sender_id") if isinstance(header, dict) else None
    if principal.kind != "client" or (sender is not None and sender != principal.name):
        access.record(action, purpose, [], outcome="denied", detail={"reason": "header.sender_id is not the caller"})
        raise _Refusal(DciRequestError("err.sender_id.invalid", "header.sender_id is not this token's client"), 403)
    return scope


async def _run(request: Request, access: Access, action: str, stated: str | None,
               call: Callable[[DciRegistry, Any], Any], background: BackgroundTasks | None = None,
               audit_sync: bool = False, audit_callback: bool = False) -> JSONResponse:
    service = service_of(request)
    try:
        body = await _envelope(request)
        scope = _caller_scope(access, action, stated, body)
        if background is not None:
            service.check_sender_uri(body)
        registry = service.registry_for(scope)
        result = await run_in_threadpool(call, registry, body)
    except _Refusal as refusal:
        return _refused(refusal.error, refusal.status)
    except DciRequestError as error:
        return _refused(error)
    purpose = scope.purpose
    if background is None:
        if audit_sync:
            access.record(action, purpose, records_of(result), detail={"dci": request.url.path[-40:]})
        return JSONResponse(result)
    ack, work = result
    correlation = str(ack.get("message", {}).get("correlation_id", ""))[:40]
    access.record(action, purpose, [], detail={"dci": request.url.path[-40:], "correlation_id": correlation,
                                               "records": "in the entry of its callback"})

    def finish() -> None:
        callback: Callback = work()
        if audit_callback:
            access.record(action, purpose, records_of(callback.envelope),
                          detail={"dci": "callback", "correlation_id": correlation})
        service.deliver(callback)

    background.add_task(finish)
    return JSONResponse(ack)


@router.post("/sync/search", responses=RESPONSES, openapi_extra=ENVELOPE_BODY)
async def sync_search(request: Request, access: AccessDep, purpose: DciPurpose = None) -> JSONResponse:
    """Search (idtype-value, expression, predicate); the answer in the response."""
    return await _run(request, access, "dci.search", purpose, lambda r, b: r.sync_search(b), audit_sync=True)


@router.post("/search", responses=RESPONSES, openapi_extra=ENVELOPE_BODY)
async def search(request: Request, access: AccessDep, background: BackgroundTasks,
                 purpose: DciPurpose = None) -> JSONResponse:
    """Search; ACK now, the on-search callback to header.sender_uri."""
    return await _run(request, access, "dci.search", purpose, lambda r, b: r.search(b), background,
                      audit_callback=True)


@router.post("/sync/txn/status", responses=RESPONSES, openapi_extra=ENVELOPE_BODY)
async def sync_txn_status(request: Request, access: AccessDep, purpose: DciPurpose = None) -> JSONResponse:
    """The status of the caller's own earlier transactions (statuses and counts only)."""
    return await _run(request, access, "dci.search", purpose, lambda r, b: r.sync_txn_status(b))


@router.post("/txn/status", responses=RESPONSES, openapi_extra=ENVELOPE_BODY)
async def txn_status(request: Request, access: AccessDep, background: BackgroundTasks,
                     purpose: DciPurpose = None) -> JSONResponse:
    """Transaction status; ACK now, the txn-on-status callback to header.sender_uri."""
    return await _run(request, access, "dci.search", purpose, lambda r, b: r.txn_status(b), background)


@router.post("/subscribe", responses=RESPONSES, openapi_extra=ENVELOPE_BODY)
async def subscribe(request: Request, access: AccessDep, background: BackgroundTasks,
                    purpose: DciPurpose = None) -> JSONResponse:
    """Subscribe to register, update, delete, link and unlink events; ACK now, on-subscribe to
    header.sender_uri, then a notify message to its notify endpoint at each new release."""
    return await _run(request, access, "dci.subscribe", purpose, lambda r, b: r.subscribe(b), background)


@router.post("/unsubscribe", responses=RESPONSES, openapi_extra=ENVELOPE_BODY)
async def unsubscribe(request: Request, access: AccessDep, background: BackgroundTasks,
                      purpose: DciPurpose = None) -> JSONResponse:
    """End subscriptions (the subscriber's own); ACK now, on-unsubscribe to header.sender_uri."""
    return await _run(request, access, "dci.subscribe", purpose, lambda r, b: r.unsubscribe(b), background)
