"""One release opened for serving: its index, read-only, with a pool of SQLite connections.

A handle is shared by the requests that run while its release is current. It counts the
requests that hold it (`ServingReleases.acquire`), and once it is retired (another release became
current) it closes its connections when the last of them lets go.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dtsen.serve.index import FEATURES_FILE, FORMAT, INDEX_FILE, LINK_MODEL_FILE, MATCH_FILE, ServingIndexError


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an index file that never changes (no locking at all)."""
    uri = f"file:{path.resolve().as_posix()}?mode=ro&immutable=1"
    con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    con.execute("PRAGMA query_only = ON")
    return con


class ReleaseHandle:
    """An opened serving index (see the module docstring)."""

    def __init__(self, index_dir: Path, release_dir: Path | None = None) -> None:
        self.index_dir = Path(index_dir)
        path = self.index_dir / INDEX_FILE
        if not path.exists():
            raise ServingIndexError(f"no serving index at {path}: run `dtsen index build`")
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._users = 0
        self.retired = False
        self.closed = False
        with self.connection() as con:
            rows = con.execute("SELECT key, value FROM meta").fetchall()
        self.meta: dict[str, Any] = {k: json.loads(v) for k, v in rows}
        if self.meta.get("format") != FORMAT:
            raise ServingIndexError(f"{path}: index format {self.meta.get('format')!r} is not {FORMAT}; rebuild it "
                                    "with `dtsen index build`")
        self.release_id: str = self.meta["release_id"]
        self.release_dir = Path(release_dir) if release_dir is not None else None
        self.manifest: dict[str, Any] = self.meta.get("manifest") or {}

    # -- files -----------------------------------------------------------------------------------
    @property
    def match_path(self) -> Path:
        return self.index_dir / MATCH_FILE

    @property
    def features_path(self) -> Path:
        return self.index_dir / FEATURES_FILE

    @property
    def link_model_path(self) -> Path | None:
        path = self.index_dir / LINK_MODEL_FILE
        return path if path.exists() else None

    # -- connections -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of this handle's pool, for one thread at a time."""
        if self.closed:
            raise ServingIndexError(f"release {self.meta.get('release_id', '?')} is closed")
        try:
            con = self._pool.get_nowait()
        except queue.Empty:
            con = open_readonly(self.index_dir / INDEX_FILE)
            with self._lock:
                self._all.append(con)
        try:
            yield con
        finally:
            self._pool.put(con)

    def rows(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query; rows as dictionaries."""
        with self.connection() as con:
            cur = con.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        with self.connection() as con:
            row = con.execute(sql, params).fetchone()
        return row[0] if row else None

    def has_table(self, name: str) -> bool:
        return bool(self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    # -- life --------------------------------------------------------------------------------------
    def enter(self) -> None:
        with self._lock:
            if self.closed:
                raise ServingIndexError(f"release {self.release_id} is closed")
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            close = self.retired and self._users == 0
        if close:
            self.close()

    @property
    def users(self) -> int:
        return self._users

    def retire(self) -> None:
        """No new request will take this handle; close it once the last one lets go."""
        with self._lock:
            self.retired = True
            close = self._users == 0
        if close:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            conns, self._all = self._all, []
        for con in conns:
            con.close()
