"""Rendering: the Jinja2 environment, the page response (with the dashboard's content security
policy), and the friendly error page every failure of a dashboard route becomes.

Every dashboard route is a `WebRoute`: whatever it raises is answered with an HTML page in Bahasa
Indonesia (English below it) with the status, what to do, and the request id; never a
traceback. A missing or expired session sends the browser to the login page (htmx requests get
`HX-Redirect`). Unexpected exceptions are logged by type and route only, as the API does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dtsen.api.errors import ERRORS
from dtsen.api.middleware import route_template
from dtsen.errors import DtsenError
from dtsen.quality.suppress import format_count, format_decimal
from dtsen.security.errors import AccessDenied, AuthenticationError, LockedOutError
from dtsen.serve.releases import NoReleaseError
from dtsen.store.connection import StoreError
from dtsen.web.messages import Translator, language_of
from dtsen.web.session import CsrfError

log = logging.getLogger("dtsen.api.errors")

# No inline script or style anywhere: scripts and styles come from /web/static; charts are SVG
# pictures (data: URIs); forms post only to this service.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}
LOGIN_PATH = "/web/masuk"
CITIZEN_LOGIN_PATH = "/web/warga/masuk"


class LoginRequired(DtsenError):
    """No valid session: the browser goes to the login page."""

    login_path = LOGIN_PATH


class CitizenLoginRequired(LoginRequired):
    """No valid citizen session: the browser goes to the citizen's proof page."""

    login_path = CITIZEN_LOGIN_PATH


class NotFound(DtsenError):
    """Nothing here, or nothing this person may see here (answered alike)."""


def _angka(value: Any) -> str:
    if value is None:
        return "–"
    return format_count(int(value)) if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _rupiah(value: Any) -> str:
    if value is None:
        return "–"
    return "Rp " + format_count(round(float(value)))


def _desimal(value: Any, digits: int = 2) -> str:
    return "–" if value is None else format_decimal(float(value), digits)


def _yatidak(value: Any) -> str:
    return "–" if value is None else ("ya" if value else "tidak")


class Pages:
    """The templates of the dashboard and how a page is answered."""

    def __init__(self) -> None:
        self.env = Environment(loader=PackageLoader("dtsen.web", "templates"), autoescape=select_autoescape(default=True),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(angka=_angka, rupiah=_rupiah, desimal=_desimal, yatidak=_yatidak)

    def render(self, request: Request, template: str, context: Mapping[str, Any], *, status: int = 200,
               headers: Mapping[str, str] | None = None) -> HTMLResponse:
        lang = language_of(request)
        base = {"t": Translator(lang), "lang": lang, "request_id": str(getattr(request.state, "request_id", "")),
                "path": request.url.path, "htmx": is_htmx(request), "viewer": None, "csrf": "", "nav": []}
        html = self.env.get_template(template).render({**base, **context})
        return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# -- errors ------------------------------------------------------------------------------------------------

_BY_EXCEPTION: tuple[tuple[type[Exception], int, str], ...] = (
    (CsrfError, 403, "error.csrf"),
    (LockedOutError, 429, "error.locked"),
    (AuthenticationError, 401, "error.session"),
    (AccessDenied, 403, "error.forbidden"),
    (NotFound, 404, "error.not_found"),
    (NoReleaseError, 503, "error.no_release"),
    (StoreError, 503, "error.store"),
    (RequestValidationError, 400, "error.bad_request"),
    (DtsenError, 400, "error.bad_request"),
)


def error_status(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, StarletteHTTPException):
        key = {404: "error.not_found", 405: "error.method", 403: "error.forbidden"}.get(exc.status_code,
                                                                                         "error.bad_request")
        return exc.status_code, key
    for cls, status, key in _BY_EXCEPTION:
        if isinstance(exc, cls):
            return status, key
    return 500, "error.internal"


def error_page(pages: Pages, request: Request, exc: Exception, context: Mapping[str, Any] | None = None) -> Response:
    status, key = error_status(exc)
    if status >= 500:
        log.error("unhandled %s on %s %s (request %s)", type(exc).__name__, request.method,
                  route_template(request.scope), getattr(request.state, "request_id", ""))
    # A DtsenError's own message says what is wrong (never personal data); others only their status.
    detail = str(exc) if isinstance(exc, DtsenError) and status < 500 and not isinstance(exc, NotFound) else ""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LockedOutError) else {}
    code = {v.status: v for v in ERRORS.values()}.get(status)
    body = {"status": status, "message_key": key, "detail": detail,
            "pesan": code.pesan if code is not None else "", **(context or {})}
    template = "_error_part.html" if is_htmx(request) else "error.html"
    return pages.render(request, template, body, status=status, headers=headers)


def login_redirect(request: Request, login_path: str = LOGIN_PATH) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = f"{login_path}?lanjut={quote(target, safe='')}" if request.method == "GET" else login_path
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location, **PAGE_HEADERS})
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


class WebRoute(APIRoute):
    """A dashboard route: every failure becomes a page (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except LoginRequired as exc:
                return login_redirect(request, exc.login_path)
            except Exception as exc:
                pages: Pages = request.app.state.web.pages
                viewer = getattr(request.state, "web_viewer", None)
                return error_page(pages, request, exc, viewer.page_context() if viewer is not None else None)

        return handler
