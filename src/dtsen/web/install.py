"""Putting the dashboard on the service: `install_web(app, settings)`, called by `create_app`.

It reads the releases through the app's `ServingReleases` (`app.state.releases`, when the data
endpoints have put one there) or opens its own, mounts the static files (htmx, the style sheet)
under /web/static with a day of caching, adds the page routers, answers every other /web path
with the friendly 404 page, sends / to /web/, and closes what it opened when the app stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtsen.config import Settings
from dtsen.serve.releases import ServingReleases
from dtsen.web.pages import PAGE_HEADERS, NotFound, Pages, WebRoute
from dtsen.web.routes import approval, audit, cases, citizen, family, login, region, visits
from dtsen.web.state import WebState

STATIC_PATH = "/web/static"
STATIC_MAX_AGE = 86400


class CachedStatic:
    """Static files with a cache lifetime (the service's default is `no-store`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers.append((b"cache-control", f"public, max-age={STATIC_MAX_AGE}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_cached)


fallback = APIRouter(route_class=WebRoute, include_in_schema=False)


@fallback.get("/")
def root() -> Response:
    return RedirectResponse("/web/", status_code=303, headers=PAGE_HEADERS)


@fallback.api_route("/web/{rest:path}", methods=["GET", "POST"])
def not_found(rest: str, request: Request) -> Response:
    raise NotFound("halaman tidak ada / no such page")


def install_web(app: FastAPI, settings: Settings) -> WebState:
    """Add the dashboard to `app` (see the module docstring)."""
    releases: ServingReleases | None = getattr(app.state, "releases", None)
    owns = releases is None
    state = WebState(settings=settings, security=app.state.security,
                     releases=releases if releases is not None else ServingReleases.from_settings(settings),
                     pages=Pages(), owns_releases=owns)
    state.wf = getattr(app.state, "workflow", None)
    app.state.web = state
    if state.wf is not None and hasattr(app.state, "body_limits"):  # evidence uploads from the case pages
        app.state.body_limits["/web/kasus"] = state.wf.settings.workflow.max_evidence_bytes + 2**16
        app.state.body_limits["/web/warga/kasus"] = state.wf.settings.workflow.max_evidence_bytes + 2**16
    app.mount(STATIC_PATH, CachedStatic(StaticFiles(packages=[("dtsen.web", "static")])), name="web-static")
    for module in (login, citizen, region, family, audit, cases, approval, visits):
        app.include_router(module.router)
    app.include_router(fallback)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as value:
            yield value
        state.close()

    app.router.lifespan_context = lifespan
    return state
