"""Alembic environment: always given a connection by `dtsen.store.migrate`, never a URL."""

from __future__ import annotations

from alembic import context

from dtsen.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI by hand
    raise SystemExit("run migrations with `dtsen store upgrade`, not with the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
