"""The application factory. Nothing is built at import time: `create_app(settings)` opens the
store, refuses an un-migrated one, loads and checks the policy, and assembles the app.

    app = create_app(load_settings("proyek"))      # what `dtsen serve` runs
    app.include_router(...)                         # data endpoints add their routers
    allow_larger_bodies(app, "/api/match", 50 * 2**20)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dtsen import __version__
from dtsen.api import auth, cases, errors, health
from dtsen.api.middleware import BodyLimit, Envelope, RateLimit
from dtsen.api.ratelimit import TokenBuckets
from dtsen.config import Settings
from dtsen.security.context import Security
from dtsen.security.masking import MaskingFilter
from dtsen.store.migrate import check_migrated
from dtsen.workflow.service import Workflow

LOGGERS = ("dtsen.api", "dtsen.api.access", "dtsen.api.errors")

DESCRIPTION = """\
DTSEN, the single socio-economic registry, as a service. Every request for personal data states a
**purpose** (`?purpose=`) from the caller's allowed list and is answered with only the fields that
purpose needs, within the caller's region; every such read is written to a tamper-evident audit
chain. Machine clients get a token with `POST /auth/token` (OAuth2 client credentials); people log
in with `POST /auth/login` (password and TOTP code). Errors share one JSON shape (`ErrorBody`).
"""


def create_app(settings: Settings, *, security: Security | None = None) -> FastAPI:
    """The service for `settings`' project (or for an already opened `security`)."""
    owned = security is None
    sec = security if security is not None else Security.open(settings)
    try:
        check_migrated(sec.store)
        sec.check_assignments()
        workflow = Workflow.open(sec)  # the state machine, checked against the policy
    except Exception:
        if owned:
            sec.close()
        raise
    api = settings.api

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            sec.close()

    app = FastAPI(
        title="DTSEN", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        docs_url="/docs" if api.docs else None, openapi_url="/openapi.json" if api.docs else None, redoc_url=None,
        responses={500: {"model": errors.ErrorBody, "description": "Internal error (no details are given)"}},
    )
    app.state.security = sec
    app.state.body_limits = {}
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(health.router)
    cases.install(app, workflow)

    # add_middleware puts each new one outside the previous: innermost first.
    app.add_middleware(BodyLimit, default=api.max_body_bytes, limits=app.state.body_limits)
    app.add_middleware(RateLimit, buckets=TokenBuckets(api.rate_per_minute, api.rate_burst),
                       signer=sec.tokens.signer)
    if api.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(api.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False, max_age=600)
    app.add_middleware(Envelope, docs_paths=("/docs",) if api.docs else ())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())
    return app


def allow_larger_bodies(app: FastAPI, prefix: str, max_bytes: int) -> None:
    """Let requests under `prefix` (e.g. uploads for bulk matching) carry up to `max_bytes`."""
    app.state.body_limits[prefix] = max_bytes
