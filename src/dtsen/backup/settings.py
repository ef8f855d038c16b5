"""The `[backup]` section of the project file: what a backup holds besides the releases."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BackupSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    include: list[str] = Field(
        default_factory=lambda: ["store"],
        description="Paths (files or directories, relative to the project) backed up besides the project file, its "
                    "inputs and the release store; SQLite databases in them are copied with SQLite's online backup.",
    )
    dumps: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Name -> command (no shell) whose output is backed up as dumps/NAME, e.g. "
                    "store = ['pg_dump', '--format=custom', 'postgresql://...'] for a PostgreSQL store.",
    )
