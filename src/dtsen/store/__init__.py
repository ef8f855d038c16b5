"""The operational store: users, clients, role assignments, tokens, login attempts and the audit
chain (later also cases, approvals, subscriptions, jobs and the outbox), in SQLAlchemy 2 Core
tables migrated by Alembic. SQLite in WAL mode is the embedded default; PostgreSQL is the
production store.

    dtsen.store.settings    the `[store]` section of the project file
    dtsen.store.connection  `Store`: one engine, read and write transactions, dialect differences
    dtsen.store.tables      the tables (SQLAlchemy Core metadata)
    dtsen.store.migrate     `upgrade`, `check_migrated`: Alembic, run from the package
    dtsen.store.migrations  the migration scripts (one per schema step; never edited once released)
"""
