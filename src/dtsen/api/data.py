"""The data endpoints, put on the app by `create_app`: the registry API (`/api`), bulk matching
(`/api/match`), DCI (`/dci/registry/...`) and the citizen data tracker (`/warga/pelacak`), over
the releases the service serves (`dtsen.api.serving`)."""

from __future__ import annotations

from fastapi import FastAPI

from dtsen.api import citizens_tracker, dci_routes, matching, registry
from dtsen.api.dci_service import DciService
from dtsen.api.dci_state import FileDciStore
from dtsen.api.match_jobs import MatchJobs
from dtsen.api.serving import on_close, open_serving
from dtsen.config import Settings
from dtsen.serve.index import serving_dir
from dtsen.serve.matching import MatchOptions

SERVICE_DIR = "service"  # under serving.dir: the service's own files (jobs, DCI state)
NOTIFY_EVERY = 5.0  # seconds between two looks for DCI notifications to send


def install_data_endpoints(app: FastAPI, settings: Settings) -> None:
    from dtsen.api.app import allow_larger_bodies

    releases = open_serving(app, settings)
    state = serving_dir(settings) / SERVICE_DIR
    jobs = MatchJobs(state / "padan", releases,
                     MatchOptions(settings.serving.match_threshold, settings.serving.ambiguity_margin),
                     memory_limit=settings.engine.memory_limit,
                     on_done=matching.audit_completion(app.state.security))
    app.state.match_jobs = jobs
    on_close(app, jobs.close)
    dci = DciService(settings, app.state.security, releases, FileDciStore(state / "dci"))
    app.state.dci = dci
    dci.start(NOTIFY_EVERY)
    on_close(app, dci.close)
    app.include_router(registry.router)
    app.include_router(matching.router)
    app.include_router(dci_routes.router)
    app.include_router(citizens_tracker.router)
    allow_larger_bodies(app, "/api/match", settings.api.max_upload_bytes)
