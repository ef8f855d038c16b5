"""Migrations of the operational store, run from inside the package (no alembic.ini needed).

`upgrade(store)` brings the schema to the newest revision; `check_migrated(store)` refuses, with
the command that fixes it, a store whose schema is older (or newer) than this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dtsen.store.connection import Store, StoreError, StoreNotMigratedError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """The revision the store is at (None: never migrated)."""
    try:
        with store.reading() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read the schema revision of {store.url}: {type(exc).__name__}") from None


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str


def upgrade(store: Store, revision: str = "head") -> Upgrade:
    """Apply every migration up to `revision`, in one transaction where the database allows."""
    before = current_revision(store)
    config = _config()
    with store.writing() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    after = current_revision(store)
    assert after is not None
    return Upgrade(before, after)


def check_migrated(store: Store) -> str:
    """The store's revision, if it is the newest; otherwise a clear error saying what to run."""
    current = current_revision(store)
    head = head_revision()
    if current == head:
        return current
    if current is None:
        raise StoreNotMigratedError(
            f"penyimpanan operasional belum disiapkan / the operational store at {store.url} has no schema yet; "
            "run `dtsen store upgrade --project DIR` first")
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current not in known:
        raise StoreNotMigratedError(
            f"the store at {store.url} is at revision {current}, which this version of dtsen does not know "
            f"(newest known: {head}); run a newer dtsen")
    raise StoreNotMigratedError(
        f"penyimpanan operasional perlu diperbarui / the store at {store.url} is at revision {current}, "
        f"this code needs {head}; run `dtsen store upgrade --project DIR`")
