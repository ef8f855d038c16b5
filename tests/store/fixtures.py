"""Fixtures of the operational store (a pytest plugin, loaded by tests/conftest.py).

Every store test runs on SQLite and on PostgreSQL: `store_url` is parametrised over both and gives
each test its own freshly migrated database (a copy of a template migrated once per session, so
that a test costs a file copy on SQLite and a `CREATE DATABASE ... TEMPLATE` on PostgreSQL).

PostgreSQL is a throwaway cluster started once per test session (once per xdist worker) with
`initdb` and `pg_ctl` from `/usr/lib/postgresql/<version>/bin` on a temporary directory and a free
loopback port, with fsync off. initdb refuses to run as root, so as root the cluster runs as the
`postgres` user when it exists and as `nobody` otherwise. When the server binaries are absent the
PostgreSQL half of each test is skipped with the reason; `.ci/run` installs them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dtsen.config import Settings, load_settings
from dtsen.security.context import Security
from dtsen.store.connection import Store
from dtsen.store.migrate import upgrade

PG_BIN_ENV = "DTSEN_TEST_PG_BIN"


# Starlette's TestClient warns that it will move from httpx to httpx2 (not installed here); the
# warning comes at import, before pytest's own filters apply.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
_TOOLS = ("initdb", "pg_ctl", "postgres")


def find_pg_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: $DTSEN_TEST_PG_BIN, the newest
    /usr/lib/postgresql/<version>/bin, or the directory of `pg_ctl` on the PATH."""
    candidates: list[Path] = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(Path(os.environ[PG_BIN_ENV]))
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = [p for p in root.iterdir() if p.name.replace(".", "").isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: float(p.name), reverse=True)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for c in candidates:
        if all((c / tool).is_file() for tool in _TOOLS):
            return c
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unprivileged() -> pwd.struct_passwd | None:
    """The account the cluster runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists for initdb")


def _base_dir(owner: pwd.struct_passwd | None) -> Path:
    """A temporary directory that `owner` can reach (every parent searchable by others)."""
    base = Path(tempfile.gettempdir())
    if owner is not None and not all(p.stat().st_mode & stat.S_IXOTH for p in (base, *base.parents)):
        base = Path("/tmp")
    return base


@dataclass
class PgCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1."""

    bin: Path
    directory: Path
    port: int = 0
    owner: pwd.struct_passwd | None = None
    _admin: sa.Engine | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.owner is not None:
            kwargs.update(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.directory)}
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.directory, env=env,
                                capture_output=True, text=True, timeout=120, check=False, **kwargs)
        if check and result.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}\n{tail}")
        return result

    def start(self) -> None:
        if self.owner is not None:
            os.chown(self.directory, self.owner.pw_uid, self.owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "dtsen", "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        last: Exception | None = None
        for _ in range(5):  # the free port can be taken between choosing and binding it
            self.port = _free_port()
            options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w",
                          "-t", "60", "-o", options, "start")
                return
            except RuntimeError as exc:
                last = exc
        raise RuntimeError(f"PostgreSQL did not start: {last}")

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://dtsen@127.0.0.1:{self.port}/{database}"

    def admin(self) -> sa.Engine:
        if self._admin is None:
            self._admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        return self._admin

    def create_database(self, name: str, template: str | None = None) -> str:
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        with self.admin().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL cluster for the test session (per xdist worker); skipped when absent."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under "
                    f"/usr/lib/postgresql/*/bin, on the PATH or in ${PG_BIN_ENV}; install the Debian package "
                    "`postgresql` (.ci/run does) to run the PostgreSQL half of the store tests")
    owner = _unprivileged()
    cluster = PgCluster(bin_dir, Path(tempfile.mkdtemp(prefix="dtsen-pg-", dir=_base_dir(owner))), owner=owner)
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@dataclass
class _Templates:
    """Databases migrated once per session, copied for each test."""

    sqlite: Path | None = None
    postgresql: str | None = None


@pytest.fixture(scope="session")
def _store_templates() -> _Templates:
    return _Templates()


def _sqlite_template(templates: _Templates, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if templates.sqlite is None:
        path = tmp_path_factory.mktemp("store-template") / "template.sqlite3"
        store = Store.open(f"sqlite:///{path}")
        upgrade(store)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.dispose()
        templates.sqlite = path
    return templates.sqlite


def _pg_template(templates: _Templates, cluster: PgCluster) -> str:
    if templates.postgresql is None:
        name = "dtsen_template"
        store = Store.open(cluster.create_database(name))
        upgrade(store)
        store.dispose()
        templates.postgresql = name
    return templates.postgresql


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, _store_templates: _Templates,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a freshly migrated store of its own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "store" / "dtsen.sqlite3"
        target.parent.mkdir()
        shutil.copyfile(_sqlite_template(_store_templates, tmp_path_factory), target)
        yield f"sqlite:///{target}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = cluster.create_database(name, template=_pg_template(_store_templates, cluster))
    yield url
    cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, never migrated store of its own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty-store' / 'dtsen.sqlite3'}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"e_{uuid.uuid4().hex[:16]}"
    url = cluster.create_database(name)
    yield url
    cluster.drop_database(name)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A freshly migrated store of its own, on SQLite and on PostgreSQL."""
    s = Store.open(store_url)
    yield s
    s.dispose()


# -- the service's project: settings and the security bundle on each store ---------------------

FAST_ARGON2 = "argon2_time_cost = 1\nargon2_memory_kib = 1024\n"


def service_project(root: Path, store_url: str, security: str = "", api: str = "") -> Settings:
    """A project directory with a `dtsen.toml` naming `store_url`, its keys under `root/keys`,
    and cheap argon2 parameters (tests hash many passwords)."""
    text = (f'[project]\nname = "uji"\n\n[store]\nurl = "{store_url}"\n\n'
            f"[security]\n{FAST_ARGON2}{security}\n\n[api]\n{api}\n")
    root.mkdir(parents=True, exist_ok=True)
    (root / "dtsen.toml").write_text(text, encoding="utf-8")
    return load_settings(root)


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return service_project(tmp_path / "project", store_url)


@pytest.fixture
def security(settings: Settings) -> Iterator[Security]:
    """Everything of the security package on a fresh store (SQLite and PostgreSQL)."""
    sec = Security.open(settings)
    yield sec
    sec.close()
