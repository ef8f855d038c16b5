"""Migrations: the schema they build equals `dtsen.store.tables`, on SQLite and PostgreSQL; an
un-migrated store is refused with the command that fixes it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dtsen.store.connection import Store, StoreNotMigratedError
from dtsen.store.migrate import check_migrated, current_revision, head_revision, upgrade
from dtsen.store.tables import GENESIS_HASH, audit_head, metadata


def test_upgrade_builds_the_schema_of_tables_py(empty_store_url: str) -> None:
    store = Store.open(empty_store_url)
    try:
        assert current_revision(store) is None
        with pytest.raises(StoreNotMigratedError, match="dtsen store upgrade"):
            check_migrated(store)
        result = upgrade(store)
        assert (result.before, result.after) == (None, head_revision())
        assert check_migrated(store) == head_revision()
        with store.reading() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            assert diff == []
            assert conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).all() == [(0, GENESIS_HASH)]
        again = upgrade(store)  # a second upgrade changes nothing
        assert again.before == again.after == head_revision()
    finally:
        store.dispose()
