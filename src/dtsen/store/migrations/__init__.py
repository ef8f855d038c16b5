"""Alembic migrations of the operational store, run from the package by `dtsen.store.migrate`.

To add a schema step: describe the new tables in `dtsen/store/tables.py`, then add
`versions/vNNNN_<what>.py` with `revision = "NNNN"` and `down_revision` the previous one, creating
them with `op.create_table` (written out, not taken from `tables.py`, so that old steps never
change). `tests/store/test_migrations.py` checks on SQLite and PostgreSQL that the migrated
schema equals `tables.py`.
"""
