"""`Store`: the one engine of the operational store, and its two kinds of transaction.

    with store.reading() as conn: ...   a transaction that only reads
    with store.writing() as conn: ...   a transaction that writes; on SQLite it takes the write
                                        lock at BEGIN (BEGIN IMMEDIATE), so that a read-then-write
                                        never fails half-way with "database is locked"

What differs between SQLite and PostgreSQL is kept as data here (`_DIALECTS`), not as branches
scattered through the code: SQLite runs in WAL mode (readers never block the writer) with foreign
keys on and a busy timeout; PostgreSQL serialises the audit chain with `SELECT ... FOR UPDATE`
on its head row, which SQLite does not need since its writers are already serialised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from dtsen.errors import DtsenError
from dtsen.store.settings import StoreSettings

WRITE_OPTION = "dtsen_write"


class StoreError(DtsenError):
    """The operational store cannot be opened, reached or used."""


class StoreNotMigratedError(StoreError):
    """The store's schema is older than this code: `dtsen store upgrade` brings it up to date."""


@dataclass(frozen=True)
class Dialect:
    """What one database needs that the other does not."""

    name: str
    begin_read: str | None  # statement that opens a read transaction (None: the driver's own)
    begin_write: str | None  # statement that opens a write transaction
    lock_rows: bool  # SELECT ... FOR UPDATE serialises writers of one row
    engine_options: dict[str, Any]


_DIALECTS: dict[str, Dialect] = {
    "sqlite": Dialect("sqlite", "BEGIN", "BEGIN IMMEDIATE", lock_rows=False, engine_options={}),
    "postgresql": Dialect("postgresql", None, None, lock_rows=True,
                          engine_options={"pool_pre_ping": True, "max_overflow": 10}),
}


def resolve_url(settings: StoreSettings, root: Path) -> URL:
    """The store URL with a relative SQLite path made absolute against the project root."""
    try:
        url = make_url(settings.url)
    except Exception:
        raise StoreError(f"store.url is not a database URL: {_masked(settings.url)}; "
                         "use sqlite:///store/dtsen.sqlite3 or postgresql+psycopg://USER@HOST/DB") from None
    if url.get_backend_name() not in _DIALECTS:
        raise StoreError(f"store.url names {url.get_backend_name()!r}; the store runs on sqlite or postgresql")
    if url.get_backend_name() == "sqlite":
        db = url.database or ""
        if db in ("", ":memory:") or db.startswith("file:"):
            raise StoreError("store.url must name a SQLite file (an in-memory database is not shared between "
                             "connections); e.g. sqlite:///store/dtsen.sqlite3")
        path = Path(db)
        if not path.is_absolute():
            url = url.set(database=str(root / path))
    return url


def _masked(text: str) -> str:
    try:
        return make_url(text).render_as_string(hide_password=True)
    except Exception:
        return "(unreadable URL)"


class Store:
    """The operational store: one SQLAlchemy engine and its dialect's differences."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = _DIALECTS[engine.dialect.name]

    @classmethod
    def open(cls, url: str | URL, *, pool_size: int = 5, busy_timeout_ms: int = 10_000) -> Store:
        url = make_url(url)
        dialect = _DIALECTS.get(url.get_backend_name())
        if dialect is None:
            raise StoreError(f"unsupported store database {url.get_backend_name()!r}; use sqlite or postgresql")
        options: dict[str, Any] = dict(dialect.engine_options)
        if dialect.name == "sqlite":
            assert url.database
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        else:
            options["pool_size"] = pool_size
        engine = sa.create_engine(url, **options)
        if dialect.name == "sqlite":
            _sqlite_events(engine, busy_timeout_ms)
        return cls(engine)

    @classmethod
    def from_settings(cls, settings: StoreSettings, root: Path) -> Store:
        return cls.open(resolve_url(settings, root), pool_size=settings.pool_size,
                        busy_timeout_ms=settings.busy_timeout_ms)

    @property
    def url(self) -> str:
        """The URL without its password, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A transaction for reads (committed at the end; nothing should be written in it)."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A write transaction: committed at the end, rolled back on any exception. On SQLite it
        holds the database's write lock from its first statement; on PostgreSQL rows are locked
        as they are selected `FOR UPDATE`."""
        with self._connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    def _connect(self) -> sa.Connection:
        try:
            return self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot reach the store at {self.url}: {_first_line(exc)}") from None

    def ping(self) -> bool:
        try:
            with self.reading() as conn:
                conn.execute(sa.text("SELECT 1"))
        except (StoreError, sa.exc.SQLAlchemyError):
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def is_writing(conn: sa.Connection) -> bool:
    """Whether `conn` came from `Store.writing()`."""
    return bool(conn.get_execution_options().get(WRITE_OPTION))


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _sqlite_events(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, a busy timeout, and transactions that dtsen begins itself (the driver's
    own implicit BEGIN would take the write lock only at the first write)."""
    dialect = _DIALECTS["sqlite"]

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        statement = dialect.begin_write if is_writing(conn) else dialect.begin_read
        assert statement is not None
        conn.exec_driver_sql(statement)
