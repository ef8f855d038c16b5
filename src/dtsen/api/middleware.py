"""The service's ASGI middleware, outermost first:

    Envelope   a request id; security headers on every response; one access-log line per request
               naming the route's template (never the path or query, which may hold a NIK), the
               status, the time and the caller; any unexpected exception becomes the JSON 500
    CORS       only when `api.cors_origins` names origins (closed by default)
    RateLimit  a token bucket per caller (429 with Retry-After)
    BodyLimit  request bodies above `api.max_body_bytes` (or a larger limit registered for a path
               prefix, e.g. uploads) are refused with 413, by Content-Length or while streaming
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtsen.api.errors import error_response, request_id_of
from dtsen.api.ratelimit import TokenBuckets
from dtsen.security.masking import has_identifier
from dtsen.security.tokens import TokenSigner

access_log = logging.getLogger("dtsen.api.access")
error_log = logging.getLogger("dtsen.api.errors")

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cache-Control": "no-store",
}
# The interactive docs load Swagger UI from its CDN and run an inline script.
DOCS_CSP = ("default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "connect-src 'self'; frame-ancestors 'none'")


def new_request_id() -> str:
    """32 hex digits that never look like a NIK (about one uuid in a thousand has a run of 16
    decimal digits, which the audit chain would refuse and the log would mask)."""
    while True:
        rid = uuid.uuid4().hex
        if not has_identifier(rid):
            return rid


def _state(scope: Scope) -> dict[str, Any]:
    state = scope.get("state")
    if not isinstance(state, dict):
        state = {} if state is None else dict(state)
        scope["state"] = state
    return state


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/persons/{nik}`), or '-' when none matched."""
    route = scope.get("route")
    return str(getattr(route, "path", "-")) if route is not None else "-"


class Envelope:
    def __init__(self, app: ASGIApp, docs_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        _state(scope)["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        docs = scope.get("path") in self.docs_paths

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = int(message["status"]), True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if docs:
                    headers["Content-Security-Policy"] = DOCS_CSP
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # Only the type and the route: an exception's text may hold personal data.
            error_log.error("unhandled %s on %s %s (request %s)", type(exc).__name__, scope.get("method"),
                            route_template(scope), request_id)
            if not status["sent"]:
                await error_response("internal_error", request_id=request_id)(scope, receive, send_with_headers)
        finally:
            state = _state(scope)
            access_log.info("%s %s %s %.1fms %s rid=%s", scope.get("method"), route_template(scope), status["code"],
                            (time.perf_counter() - started) * 1000, state.get("principal_ref", "-"), request_id)


class RateLimit:
    def __init__(self, app: ASGIApp, buckets: TokenBuckets, signer: TokenSigner,
                 exempt: tuple[str, ...] = ("/health",)) -> None:
        self.app = app
        self.buckets = buckets
        self.signer = signer
        self.exempt = exempt

    def key(self, scope: Scope) -> str:
        auth = Headers(scope=scope).get("authorization", "")
        if auth[:7].lower() == "bearer ":
            subject = self.signer.subject(auth[7:].strip())
            if subject:
                return subject
        client = scope.get("client")
        return f"addr:{client[0] if client else '-'}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(self.key(scope))
        if wait > 0:
            seconds = TokenBuckets.retry_after(wait)
            response = error_response("rate_limited", f"too many requests; try again in {seconds} seconds",
                                      request_id=request_id_of(scope), headers={"Retry-After": str(seconds)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimit:
    """`limits` maps path prefixes to larger limits (the longest matching prefix wins); it is the
    app's `state.body_limits`, so routers added later can register theirs."""

    def __init__(self, app: ASGIApp, default: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.limits = limits

    def limit_for(self, path: str) -> int:
        best = ""
        for prefix in self.limits:
            if path.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.limits[best] if best else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response = (error_response("payload_too_large", f"the request body exceeds {limit:,} bytes",
                                       request_id=request_id_of(scope)) if length.isdigit()
                        else error_response("bad_request", "Content-Length is not a number",
                                            request_id=request_id_of(scope)))
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)
