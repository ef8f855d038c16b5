"""The `[store]` section of the project file: where the operational store lives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_URL = "sqlite:///store/dtsen.sqlite3"


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    url: str = Field(
        DEFAULT_URL,
        description="SQLAlchemy URL of the operational store: SQLite (a path relative to the project) or "
        "PostgreSQL, e.g. postgresql+psycopg://dtsen@db.example/dtsen (DTSEN_STORE__URL).",
    )
    pool_size: int = Field(5, ge=1, le=200, description="Connections kept open to PostgreSQL by one process.")
    busy_timeout_ms: int = Field(
        10_000, ge=0, description="SQLite: how long a writer waits for another writer's transaction to finish."
    )
