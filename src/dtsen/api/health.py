"""`GET /health`: whether the service can serve, and the state of its store (no token needed;
it names no personal data). 200 when the store is reachable and migrated, 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dtsen import __version__
from dtsen.api.deps import SecurityDep
from dtsen.store.connection import StoreError
from dtsen.store.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


class StoreHealth(BaseModel):
    dialect: str = Field(description="sqlite or postgresql.")
    reachable: bool
    revision: str | None = Field(description="The schema revision the store is at.")
    expected_revision: str = Field(description="The revision this version of dtsen needs.")


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable.")
    version: str
    store: StoreHealth


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(security: SecurityDep) -> JSONResponse:
    """Whether the service is up and its operational store reachable and migrated."""
    store = security.store
    reachable = store.ping()
    revision = None
    if reachable:
        try:
            revision = current_revision(store)
        except StoreError:
            reachable = False
    expected = head_revision()
    ok = reachable and revision == expected
    body = Health(status="ok" if ok else "unavailable", version=__version__,
                  store=StoreHealth(dialect=store.dialect.name, reachable=reachable, revision=revision,
                                    expected_revision=expected))
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
