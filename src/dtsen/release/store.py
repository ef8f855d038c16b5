"""The release store: immutable releases, switched in atomically, one writer at a time.

    RELEASES/
        CURRENT                 the id of the current release (one line), replaced atomically
        HISTORY.jsonl           every change of CURRENT: who, when, from, to, why (`history`)
        .build.lock             the project lock (flock), held by the command writing to the
                                project; the OS frees it if that process dies
        .building-<id>-<rand>/  a build in progress; removed by the next build if it died
        <id>/                   a published release: tables, manifest.json; never changed again

A release is written whole into a `.building-*` directory, its files made owner-only and
flushed to disk, then the directory is renamed to its id and `CURRENT` is replaced by a renamed
temporary file. Both renames are atomic on one file system, so at every instant `CURRENT` names
a complete release (or none yet): a crash or Ctrl-C at any moment leaves the previous release
current and whole.

dtsen never deletes or reuses a published release. The next build clears only what dead builds
left (`.building-*` directories and `CURRENT.tmp`), and takes the id after the highest one
present, begun, or named in the history. A release that a crash left renamed into place but
never made current stays, shown as "never current" by `dtsen releases list`; an operator may
make it current with `dtsen releases use ID`, like any other release (a rollback or a
roll-forward, recorded in the history).

When the store holds releases, `CURRENT` must name one of them: missing, empty or unknown, it is
an error (`CurrentReleaseError`) that lists the releases found and says how to choose one,
never a reason to start afresh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtsen.release.errors import (
    BuildLockedError,
    CurrentReleaseError,
    ManifestError,
    ReleaseError,
    ReleaseIdError,
    ReleasePathError,
)
from dtsen.release.history import HistoryEvent, append_event, check_writable, new_event, read_history
from dtsen.release.ids import check_release_id, format_release_id, is_release_id

if TYPE_CHECKING:
    from dtsen.config import Settings
    from dtsen.errors import Problem

__all__ = [
    "BuildLockedError", "CurrentReleaseError", "ManifestError", "ReleaseError", "ReleaseIdError",
    "ReleaseInfo", "ReleasePathError", "ReleaseStore", "checkpoint", "copy_private", "project_lock",
    "read_manifest",
]  # fmt: skip

CURRENT = "CURRENT"
LOCK = ".build.lock"
BUILDING = ".building-"
MANIFEST = "manifest.json"

# what `ReleaseInfo.status` says
STATUS_CURRENT = "current"
STATUS_EARLIER = "earlier"  # was current once, another is now
STATUS_NEVER = "never current"  # renamed into place, CURRENT never switched to it
STATUS_DAMAGED = "damaged"  # its manifest cannot be read

CRASH_ENV = "DTSEN_CRASH_AT"


def checkpoint(name: str) -> None:
    """Fault injection for the crash tests: with DTSEN_CRASH_AT=<name> the process dies here,
    at once, as a power cut would (no cleanup, no exception handlers)."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)


@dataclass(frozen=True)
class ReleaseInfo:
    release_id: str
    path: Path
    manifest: dict[str, Any]
    current: bool
    status: str = STATUS_EARLIER
    problem: str | None = None  # why the release is damaged (its manifest cannot be read)


@dataclass(frozen=True)
class CurrentState:
    """What `CURRENT` says: the id (None when none), and what is wrong with it (None when fine)."""

    release_id: str | None
    problem: str | None = None
    present: list[str] = field(default_factory=list)


_REMEDY = "restore it from a backup, or make another release current with `dtsen releases use ID`"


def read_manifest(release_dir: Path) -> dict[str, Any]:
    """A release's manifest.json as a dict, or `ManifestError` saying what is wrong with it."""
    path = release_dir / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{path} is missing: release {release_dir.name} is damaged; {_REMEDY}")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ManifestError(f"{path} cannot be read ({exc.strerror}); check its owner and permissions") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path} is not UTF-8 text: release {release_dir.name} is damaged; {_REMEDY}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
            f"release {release_dir.name} is damaged; {_REMEDY}"
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path} is not a JSON object: release {release_dir.name} is damaged; {_REMEDY}")
    if data.get("release_id") != release_dir.name:
        raise ManifestError(
            f"{path} names release {str(data.get('release_id'))[:40]!r}, not {release_dir.name}: "
            f"it was copied or edited; {_REMEDY}"
        )
    previous = data.get("previous")
    if previous is not None and not is_release_id(previous):
        raise ManifestError(f"{path}: previous {str(previous)[:40]!r} is not a release id; {_REMEDY}")
    return data


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seal_tree(root: Path) -> None:
    """Make every folder 0700 and every file 0600, and flush all to disk. A release holds no
    symbolic links: one found is refused (dtsen never writes one)."""
    dirs = [root]
    for top, subdirs, files in os.walk(root, followlinks=False):
        for name in sorted(subdirs + files):
            path = Path(top) / name
            if path.is_symlink():
                raise ReleasePathError(f"{path} is a symbolic link: a release holds only files and folders")
        for name in sorted(files):
            path = Path(top) / name
            os.chmod(path, 0o600)
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        dirs += [Path(top) / d for d in subdirs]
    for d in sorted(dirs, key=lambda p: -len(p.parts)):
        os.chmod(d, 0o700)
        _fsync_dir(d)


def copy_private(source: Path, target: Path, only: set[str] | None = None) -> None:
    """Copy the files of folder `source` (recursively; only the names in `only` at its top,
    when given) into `target`, owner-only: contents are copied, never the source's modes."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if only is not None and entry.name not in only:
            continue
        if entry.is_symlink():
            raise ReleasePathError(f"{entry} is a symbolic link: it is not copied into a release")
        if entry.is_dir():
            copy_private(entry, target / entry.name)
        else:
            shutil.copyfile(entry, target / entry.name)
            os.chmod(target / entry.name, 0o600)


class ReleaseStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._held = False

    # -- reading ----------------------------------------------------------------------------
    def present(self) -> list[str]:
        """The ids of the release folders present (damaged ones too), in id order."""
        if not self.root.is_dir():
            return []
        ids = [d.name for d in self.root.iterdir() if is_release_id(d.name) and d.is_dir()]
        return sorted(ids, key=lambda r: int(r[1:]))

    def current_state(self) -> CurrentState:
        """What `CURRENT` says, never raising (see `current`)."""
        present = self.present()
        path = self.root / CURRENT
        if not path.exists():
            return CurrentState(None, "is missing" if present else None, present)
        try:
            text = path.read_bytes().decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            return CurrentState(None, f"cannot be read ({getattr(exc, 'strerror', None) or exc})", present)
        if not text:
            return CurrentState(None, "is empty", present)
        if not is_release_id(text):
            return CurrentState(None, f"holds {text[:40]!r}, which is not a release id", present)
        if text not in present:
            return CurrentState(None, f"names {text}, which is not in the store", present)
        return CurrentState(text, None, present)

    def current(self) -> str | None:
        """The id of the current release; None when the store holds no release yet.

        Raises `CurrentReleaseError` when releases are present but `CURRENT` is missing, empty,
        unreadable or names none of them: which release is current is then for a person to say
        (`dtsen releases use ID`), never for dtsen to guess."""
        state = self.current_state()
        if state.problem is None:
            return state.release_id
        listed = "; ".join(f"{r.release_id} ({r.status}, created {r.manifest.get('created', '?')})"
                           for r in self.releases()) or "none"
        raise CurrentReleaseError(
            f"rilis saat ini tidak jelas / the current release is unknown: {self.root / CURRENT} {state.problem}. "
            f"Releases found: {listed}. Choose the one to continue from with `dtsen releases use ID` "
            "(see `dtsen releases list` and `dtsen releases history`); dtsen never guesses it"
            + ("" if state.present else ", and with no release in the store, remove CURRENT to start afresh")
        )

    def path(self, release_id: str) -> Path:
        """The folder of a release: the id checked, and the folder inside the store."""
        path = self.root / check_release_id(release_id)
        if path.exists() and not path.resolve().is_relative_to(self.root.resolve()):
            raise ReleasePathError(f"{path} leads outside {self.root} (a symbolic link)")
        return path

    def manifest(self, release_id: str) -> dict[str, Any]:
        path = self.path(release_id)
        if not path.is_dir():
            known = ", ".join(self.present()) or "none"
            raise ReleaseError(f"no release {release_id!r} in {self.root}; known: {known}")
        return read_manifest(path)

    def history(self) -> tuple[list[HistoryEvent], list[Problem]]:
        return read_history(self.root)

    def releases(self) -> list[ReleaseInfo]:
        """Every release folder present, in id order, each with its status; a release whose
        manifest cannot be read is listed as damaged (never an exception)."""
        state = self.current_state()
        events, _ = self.history()
        read: dict[str, tuple[dict[str, Any], str | None]] = {}
        for rid in state.present:
            try:
                read[rid] = (read_manifest(self.root / rid), None)
            except ReleaseError as exc:
                read[rid] = ({}, str(exc))
        was_current = {e.to_release for e in events} | {m.get("previous") for m, _ in read.values()}
        out = []
        for rid, (manifest, problem) in read.items():
            if problem is not None:
                status = STATUS_DAMAGED
            elif rid == state.release_id:
                status = STATUS_CURRENT
            elif rid in was_current:
                status = STATUS_EARLIER
            else:
                status = STATUS_NEVER
            out.append(ReleaseInfo(rid, self.root / rid, manifest, rid == state.release_id, status, problem))
        return out

    def next_id(self) -> str:
        """One more than the highest id present, begun, or named in CURRENT or the history:
        an id once used is never handed out again."""
        seen = [0]
        if self.root.is_dir():
            for d in self.root.iterdir():
                name = d.name[len(BUILDING):].split("-")[0] if d.name.startswith(BUILDING) else d.name
                if is_release_id(name):
                    seen.append(int(name[1:]))
        events, _ = self.history()
        seen += [int(r[1:]) for e in events for r in (e.from_release, e.to_release) if r]
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = (self.root / CURRENT).read_bytes().decode("utf-8").strip()
            if is_release_id(text):
                seen.append(int(text[1:]))
        return format_release_id(max(seen) + 1)

    # -- writing (each under the lock) --------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, command: str = "dtsen build") -> Iterator[None]:
        """Hold the project lock, or refuse at once when another command holds it."""
        path = self.root / LOCK
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # never through a symbolic link: the pid line would be written wherever it points
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise ReleaseError(f"cannot open the project lock {path} ({exc.strerror}); check that the folder "
                               "exists, is writable by you, and that the lock is a plain file") from None
        fh = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise BuildLockedError(
                    f"proyek sedang dipakai / another dtsen command is writing to this project ({holder}; "
                    f"lock {path}): wait for it to finish, or stop it — a release is never left half-written"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}, {command}, started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC\n")
            fh.flush()
            self._held = True
            yield
        finally:
            self._held = False
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def _require_lock(self, what: str) -> None:
        if not self._held:
            raise ReleaseError(f"{what} needs the project lock: call it inside `with store.lock(...)`")

    def clear_leftovers(self) -> list[Path]:
        """Remove what commands that died left: `.building-*` directories and `CURRENT.tmp`.
        Nothing else: a published release is never removed, current or not. Called first by a
        build, it also refuses a history that could not be appended to (before hours of work)."""
        self._require_lock("clear_leftovers")
        check_writable(self.root)
        removed = []
        for d in sorted(self.root.glob(BUILDING + "*")):
            if d.is_dir() and not d.is_symlink():
                shutil.rmtree(d)
            else:
                d.unlink()
            removed.append(d)
        tmp = self.root / (CURRENT + ".tmp")
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
            removed.append(tmp)
        return removed

    def begin(self, release_id: str) -> Path:
        """A fresh directory (0700) to write the release into."""
        self._require_lock("begin")
        return Path(tempfile.mkdtemp(prefix=f"{BUILDING}{check_release_id(release_id)}-", dir=self.root))

    def _switch(self, release_id: str, crash_point: str | None = None) -> None:
        """Replace CURRENT by a renamed, flushed temporary file naming `release_id`."""
        tmp = self.root / (CURRENT + ".tmp")
        if tmp.is_symlink():
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, (release_id + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if crash_point:
            checkpoint(crash_point)
        os.replace(tmp, self.root / CURRENT)
        _fsync_dir(self.root)

    def publish(self, staging: Path, release_id: str) -> Path:
        """Seal `staging` (owner-only, flushed), rename it to its id, make it current
        (atomically), and record the switch in the history."""
        self._require_lock("publish")
        final = self.path(release_id)
        if final.exists():
            raise ReleaseError(f"release {release_id} already exists in {self.root}; releases are never overwritten")
        if staging.resolve().parent != self.root.resolve() or not staging.name.startswith(BUILDING):
            raise ReleasePathError(f"{staging} is not a build folder of {self.root}")
        check_writable(self.root)
        previous = self.current_state().release_id
        _seal_tree(staging)
        checkpoint("publish:flushed")
        os.replace(staging, final)
        _fsync_dir(self.root)
        checkpoint("publish:renamed")
        self._switch(release_id, "publish:current-written")
        append_event(self.root, new_event("publish", previous, release_id))
        return final

    def use(self, release_id: str, reason: str | None = None) -> HistoryEvent | None:
        """Make an existing, intact release current (a rollback or roll-forward), and record it.
        None when it already is current (nothing changes, nothing is recorded)."""
        from dtsen.release.manifest import require_intact

        self._require_lock("use")
        check_writable(self.root)
        self.manifest(release_id)  # known, and its manifest readable
        require_intact(self.path(release_id))
        state = self.current_state()
        if state.release_id == release_id:
            return None
        self._switch(release_id)
        event = new_event("use", state.release_id, release_id, reason,
                          note=f"CURRENT {state.problem}" if state.problem else None)
        append_event(self.root, event)
        return event


@contextlib.contextmanager
def project_lock(settings: Settings, command: str) -> Iterator[None]:
    """The project's one lock (in its release store), held by every command that writes to the
    work directory or the release store; a second such command is refused at once."""
    with ReleaseStore(settings.path(settings.release.dir)).lock(command):
        yield
