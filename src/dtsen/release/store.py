"""The release store: immutable releases, switched in atomically, one build at a time.

    RELEASES/
        CURRENT                 the id of the current release (one line), replaced atomically
        .build.lock             held (flock) by the running build; the OS frees it if it dies
        .building-<id>-<rand>/  a build in progress; removed by the next build if it died
        <id>/                   a published release: tables, manifest.json; never changed again

A release is written whole into a `.building-*` directory, its files flushed to disk, then the
directory is renamed to its id and `CURRENT` is replaced by a renamed temporary file. Both
renames are atomic on one file system, so at every instant `CURRENT` names a complete release
(or none yet): a crash or Ctrl-C at any moment leaves the previous release current and whole,
and leftovers are cleared by the next build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dtsen.errors import DtsenError

CURRENT = "CURRENT"
LOCK = ".build.lock"
BUILDING = ".building-"
MANIFEST = "manifest.json"
_ID = re.compile(r"^R\d{4}$")


CRASH_ENV = "DTSEN_CRASH_AT"


def checkpoint(name: str) -> None:
    """Fault injection for the crash tests: with DTSEN_CRASH_AT=<name> the process dies here,
    at once, as a power cut would (no cleanup, no exception handlers)."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)


class ReleaseError(DtsenError):
    """A release is missing, damaged, or cannot be published."""


class BuildLockedError(ReleaseError):
    """Another build of the same release store is running."""


@dataclass(frozen=True)
class ReleaseInfo:
    release_id: str
    path: Path
    manifest: dict[str, Any]
    current: bool


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    for d in sorted({p.parent for p in root.rglob("*")} | {root}, key=lambda p: -len(p.parts)):
        _fsync_dir(d)


class ReleaseStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ----------------------------------------------------------------------------
    def current(self) -> str | None:
        path = self.root / CURRENT
        if not path.exists():
            return None
        release = path.read_text(encoding="utf-8").strip()
        return release or None

    def path(self, release_id: str) -> Path:
        return self.root / release_id

    def manifest(self, release_id: str) -> dict[str, Any]:
        path = self.path(release_id) / MANIFEST
        if not path.exists():
            known = ", ".join(r.release_id for r in self.releases()) or "none"
            raise ReleaseError(f"no release {release_id!r} in {self.root}; known: {known}")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def releases(self) -> list[ReleaseInfo]:
        """Published releases, oldest first."""
        if not self.root.exists():
            return []
        current = self.current()
        out = []
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and _ID.match(d.name) and (d / MANIFEST).exists():
                out.append(ReleaseInfo(d.name, d, json.loads((d / MANIFEST).read_text(encoding="utf-8")),
                                       d.name == current))
        return out

    def next_id(self) -> str:
        """R0001, R0002, ...: one more than the highest id ever published or begun here."""
        seen = [0]
        if self.root.exists():
            for d in self.root.iterdir():
                name = d.name[len(BUILDING):].split("-")[0] if d.name.startswith(BUILDING) else d.name
                if _ID.match(name):
                    seen.append(int(name[1:]))
        return f"R{max(seen) + 1:04d}"

    # -- building ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's build lock, or refuse at once when another build holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK
        fh = path.open("a+", encoding="utf-8")
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise BuildLockedError(
                    f"another build is running on {self.root} ({holder}); wait for it to finish, "
                    "or stop it — a release is never left half-written"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}, started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC\n")
            fh.flush()
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def clear_leftovers(self) -> list[Path]:
        """Remove what builds that died left (call while holding the lock): their `.building-*`
        directories, and a release renamed into place whose switch to CURRENT never happened
        (releases become current in id order, so one above CURRENT was never current)."""
        removed = []
        for d in self.root.glob(BUILDING + "*"):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        current = self.current()
        for d in self.root.iterdir():
            if d.is_dir() and _ID.match(d.name) and (current is None or d.name > current):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
        tmp = self.root / (CURRENT + ".tmp")
        if tmp.exists():
            tmp.unlink()
        return removed

    def begin(self, release_id: str) -> Path:
        """A fresh directory to write the release into (call while holding the lock)."""
        return Path(tempfile.mkdtemp(prefix=f"{BUILDING}{release_id}-", dir=self.root))

    def publish(self, staging: Path, release_id: str) -> Path:
        """Flush `staging` to disk, rename it to its id, and make it current (atomically)."""
        final = self.path(release_id)
        if final.exists():
            raise ReleaseError(f"release {release_id} already exists in {self.root}; releases are never overwritten")
        _fsync_tree(staging)
        checkpoint("publish:flushed")
        os.replace(staging, final)
        _fsync_dir(self.root)
        checkpoint("publish:renamed")
        tmp = self.root / (CURRENT + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(release_id + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        checkpoint("publish:current-written")
        os.replace(tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        return final
