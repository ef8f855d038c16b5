"""What a backup of a project holds, and how each item is read.

    project file          dtsen.toml (or the file given)
    inputs                the source files of every [sources.NAME] and the files the settings
                          name (region list, coefficient table, poverty lines, officers, decisions)
    release store         every release, CURRENT, the wrapped keys (`keys/`), SHRED.jsonl
    service keys          the service's key files (`security.key_dir`), when the settings have it
    backup.include        more paths (default `store/`, the embedded operational store); a SQLite
                          database there is copied with SQLite's online backup, so a running
                          service leaves a consistent copy (its -wal and -shm files are skipped)
    backup.dumps          the output of each command (e.g. pg_dump for a PostgreSQL store)

Never: the master key file (wherever it lies), the work directory (scratch, rebuilt by the next
build), build locks and half-written builds. Files outside the project directory are listed as
skipped (absolute paths in dtsen.toml keep pointing at them after a restore on the same machine).
"""

from __future__ import annotations

import glob
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dtsen.backup.errors import BackupError
from dtsen.backup.repository import CHUNK, file_chunks

if TYPE_CHECKING:
    from dtsen.config import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
_SKIP_NAMES = (".build.lock", ".lock", "CURRENT.tmp")


@dataclass(frozen=True)
class Item:
    """One file of the backup: its path in the backup (POSIX, relative), role, and its source."""

    path: str
    role: str  # project, input, release, store, dump
    source: Path | None = None  # a file read as it is
    reader: Callable[[], Iterator[bytes]] | None = None  # a snapshot or a dump, produced when read
    size: int = -1
    mtime_ns: int = -1

    def chunks(self) -> Iterator[bytes]:
        if self.reader is not None:
            return self.reader()
        assert self.source is not None
        return file_chunks(self.source)


@dataclass(frozen=True)
class Skipped:
    path: str
    why: str


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def sqlite_snapshot(path: Path) -> Callable[[], Iterator[bytes]]:
    """A reader giving a consistent copy of a live SQLite database (online backup, in memory)."""

    def read() -> Iterator[bytes]:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        mem = sqlite3.connect(":memory:")
        try:
            src.backup(mem)
            data = mem.serialize()
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite database {path} cannot be copied: {exc}") from None
        finally:
            src.close()
            mem.close()
        for i in range(0, len(data), CHUNK):
            yield bytes(data[i:i + CHUNK])
        if not data:
            yield b""

    return read


def dump_reader(name: str, argv: list[str]) -> Callable[[], Iterator[bytes]]:
    """A reader streaming a dump command's output; its failure fails the backup, named."""

    def read() -> Iterator[bytes]:
        if not argv:
            raise BackupError(f"backup.dumps.{name} is an empty command")
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise BackupError(f"backup.dumps.{name} ({argv[0]}) cannot run: {exc}") from None
        assert proc.stdout is not None and proc.stderr is not None
        while block := proc.stdout.read(CHUNK):
            yield block
        err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
        if proc.wait() != 0:
            raise BackupError(f"backup.dumps.{name} ({argv[0]}) exited with status {proc.returncode}"
                              + (f": {err[-1]}" if err else ""))

    return read


class Collector:
    def __init__(self, settings: Settings, project_file: Path, key_file: Path | None) -> None:
        self.root = settings.project.root.resolve()
        self.settings = settings
        self.project_file = project_file.resolve()
        self.key_file = key_file.resolve() if key_file is not None else None
        self.items: dict[str, Item] = {}
        self.skipped: list[Skipped] = []

    def _rel(self, path: Path) -> str | None:
        p = path.resolve()
        return p.relative_to(self.root).as_posix() if p.is_relative_to(self.root) else None

    def add_file(self, path: Path, role: str, name: str | None = None) -> None:
        p = path.resolve()
        if self.key_file is not None and p == self.key_file:
            self.skipped.append(Skipped(name or str(path), "the master key file is never backed up"))
            return
        rel = name or self._rel(p)
        if rel is None:
            self.skipped.append(Skipped(str(p), "outside the project directory"))
            return
        if rel in self.items or not p.is_file():
            return
        if role == "store" and _is_sqlite(p):
            self.items[rel] = Item(rel, role, reader=sqlite_snapshot(p))
            return
        st = p.stat()
        self.items[rel] = Item(rel, role, source=p, size=st.st_size, mtime_ns=st.st_mtime_ns)

    def add_tree(self, directory: Path, role: str, name: str | None = None) -> None:
        """Every file under `directory` (sorted), minus locks, temporaries and SQLite side files."""
        base = directory.resolve()
        sqlite_dbs = {p for p in base.rglob("*") if role == "store" and p.is_file() and _is_sqlite(p)}
        for p in sorted(base.rglob("*")):
            if not p.is_file() or p.name in _SKIP_NAMES or p.name.startswith(".building-") \
                    or any(part.startswith(".building-") for part in p.relative_to(base).parts) \
                    or (p.name.startswith(".") and p.name.endswith(".tmp")):
                continue
            if any(p.name == db.name + suffix for db in sqlite_dbs for suffix in ("-wal", "-shm", "-journal")):
                continue
            rel = None if name is None else f"{name}/{p.relative_to(base).as_posix()}"
            self.add_file(p, role, rel)

    def collect(self) -> tuple[list[Item], list[Skipped]]:
        s = self.settings
        self.add_file(self.project_file, "project")
        for source in s.sources.values():
            for pattern in source.files:
                for match in sorted(glob.glob(str(s.path(pattern)), recursive=True)):
                    self.add_file(Path(match), "input")
        named: list[str | Path | None] = [s.reference.regions, s.welfare.coefficients, s.welfare.poverty_lines,
                                          s.verify.officers, *s.link.decisions]
        for value in named:
            if value:
                self.add_file(s.path(value), "input")
        releases = s.path(s.release.dir)
        if releases.exists():
            inside = self._rel(releases)
            self.add_tree(releases, "release", None if inside is not None else "releases")
            if inside is None:
                self.skipped.append(Skipped(str(releases), "release store outside the project: backed up as "
                                                           "releases/ (set release.dir = 'releases' after a restore)"))
        security = getattr(s, "security", None)  # the service's key files, when the settings have them
        if security is not None and s.path(security.key_dir).is_dir():
            self.add_tree(s.path(security.key_dir), "keys")
        for extra in s.backup.include:
            path = s.path(extra)
            if path.is_dir():
                self.add_tree(path, "store")
            elif path.exists():
                self.add_file(path, "store")
        for name, argv in s.backup.dumps.items():
            rel = f"dumps/{name}"
            self.items[rel] = Item(rel, "dump", reader=dump_reader(name, argv))
        return list(self.items.values()), self.skipped
