"""`dtsen backup create DEST`: an encrypted, incremental backup of a project (see `collect`)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtsen import __version__
from dtsen.backup.collect import Collector, Item
from dtsen.backup.errors import BackupError
from dtsen.backup.repository import Repository, file_sha256
from dtsen.release.store import ReleaseStore
from dtsen.vault.master import KeyProvider

if TYPE_CHECKING:
    from dtsen.config import Settings

OnFile = Callable[[str, int, int], None]  # path, files done, files in all


@dataclass
class BackupResult:
    dest: Path
    snapshot_id: str
    previous: str | None
    files: int
    bytes_total: int
    files_written: int
    bytes_written: int
    files_unread: int  # unchanged since the previous backup: referenced without reading
    seconds: float
    skipped: list[dict[str, str]] = field(default_factory=list)


def _previous(repo: Repository) -> tuple[str | None, dict[str, dict[str, Any]]]:
    ids = repo.snapshot_ids()
    if not ids:
        return None, {}
    snap = repo.read_snapshot(ids[-1])
    return ids[-1], {f["path"]: f for f in snap["files"]}


def _next_number(repo: Repository) -> int:
    numbers = [int(s.split("-")[0]) for s in repo.snapshot_ids() if s.split("-")[0].isdigit()]
    return max(numbers, default=0) + 1


def create_backup(settings: Settings, project_file: Path, dest: Path, provider: KeyProvider,
                  key_file: Path | None = None, passphrase: str | None = None,
                  on_file: OnFile | None = None) -> BackupResult:
    """Back the project up into `dest` (created on first use, with `passphrase` as a second way in)."""
    t0 = time.perf_counter()
    dest = Path(dest)
    if dest.resolve().is_relative_to(settings.project.root.resolve()):
        raise BackupError(f"the backup destination {dest} lies inside the project; choose a directory elsewhere "
                          "(another disk or machine)")
    if Repository.exists(dest):
        repo = Repository.open(dest, provider=provider)
    else:
        repo = Repository.create(dest, provider, passphrase)
    # the project lock: no build, rotation or shred changes the project while it is copied
    with ReleaseStore(settings.path(settings.release.dir)).lock(), repo.lock():
        items, skipped = Collector(settings, project_file, key_file).collect()
        previous_id, previous = _previous(repo)
        entries = []
        written = unread = 0
        bytes_total = bytes_written = 0
        for n, item in enumerate(items, start=1):
            entry = _store(repo, item, previous.get(item.path))
            unread += entry.pop("_unread")
            if entry.pop("_written"):
                written += 1
                bytes_written += entry["size"]
            bytes_total += entry["size"]
            entries.append(entry)
            if on_file:
                on_file(item.path, n, len(items))
        # numbered, so that the order of backups never depends on the clock
        sid = f"{_next_number(repo):05d}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
        skipped_rows = [{"path": s.path, "why": s.why} for s in skipped]
        snapshot: dict[str, Any] = {
            "format": "dtsen-backup-snapshot/1", "snapshot_id": sid, "previous": previous_id,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "dtsen": __version__,
            "project": settings.project.name,
            "project_file": project_file.resolve().relative_to(settings.project.root.resolve()).as_posix(),
            "master_key": str(provider.active()),
            "files": entries, "skipped": skipped_rows,
        }
        repo.flush()
        repo.write_snapshot(snapshot)
    return BackupResult(dest, sid, previous_id, len(entries), bytes_total, written, bytes_written, unread,
                        time.perf_counter() - t0, skipped_rows)


def _store(repo: Repository, item: Item, before: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": item.path, "role": item.role}
    if item.source is not None:
        entry["mode"] = item.source.stat().st_mode & 0o777
    if before is not None and item.source is not None and before["size"] == item.size and repo.has_object(before["object"]):
        if before.get("mtime_ns") == item.mtime_ns:
            return entry | {k: before[k] for k in ("size", "sha256", "object")} | {
                "mtime_ns": item.mtime_ns, "_unread": 1, "_written": False}
        sha = file_sha256(item.source)
        if sha == before["sha256"]:
            return entry | {"size": item.size, "sha256": sha, "object": before["object"], "mtime_ns": item.mtime_ns,
                            "_unread": 0, "_written": False}
    put = repo.put_stream(item.chunks())
    return entry | {"size": put.size, "sha256": put.sha256, "object": put.object_id, "mtime_ns": item.mtime_ns,
                    "_unread": 0, "_written": put.written}
