"""`dtsen backup restore SRC DIR`: a backup back into an empty directory, every file checked.

Every file is decrypted into a hidden directory inside DIR, each chunk's AES-GCM tag checked,
its sha256 compared with the backup's manifest and the object's name. Only when every file
passes are they moved into place; otherwise nothing is left behind, and the error lists every
damaged file, with its object. The master key file is never in a backup: put its offline copy
where `vault.key_file` says before using the restored vault.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dtsen.backup.errors import BackupDamagedError, BackupError, RestoreTargetError
from dtsen.backup.repository import Repository
from dtsen.errors import Problem
from dtsen.vault.master import KeyProvider

STAGING = ".dtsen-restoring"


@dataclass
class RestoreResult:
    target: Path
    snapshot_id: str
    files: int
    bytes_total: int
    seconds: float
    project_file: str
    master_key: str


def _safe(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise RestoreTargetError(f"the backup names a path outside the restore directory ({rel!r}); refused")
    return p


def restore_backup(src: Path, target: Path, provider: KeyProvider | None = None, passphrase: str | None = None,
                   snapshot_id: str | None = None) -> RestoreResult:
    t0 = time.perf_counter()
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise RestoreTargetError(f"{target} is not empty; a backup is restored into an empty or new directory")
    repo = Repository.open(src, provider=provider, passphrase=passphrase)
    ids = repo.snapshot_ids()
    if not ids:
        raise BackupError(f"{src} holds no backup yet")
    sid = snapshot_id or ids[-1]
    snap = repo.read_snapshot(sid)
    target.mkdir(parents=True, exist_ok=True)
    staging = target / STAGING
    staging.mkdir()
    problems: list[Problem] = []
    total = 0
    try:
        for entry in snap["files"]:
            rel = _safe(entry["path"])
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            try:
                with out.open("wb") as fh:
                    for block in repo.get_stream(entry["object"], entry["path"]):
                        digest.update(block)
                        fh.write(block)
            except BackupDamagedError as exc:
                problems.append(Problem(str(exc)))
                continue
            sha = digest.hexdigest()
            if sha != entry["sha256"] or repo.object_id(sha) != entry["object"]:
                problems.append(Problem(f"{entry['path']}: restored content does not match its checksum "
                                        f"(object {repo.object_path(entry['object'])})"))
                continue
            if "mode" in entry:
                os.chmod(out, int(entry["mode"]))
            total += int(entry["size"])
        if problems:
            raise BackupDamagedError(f"backup {sid} in {src} is damaged: nothing was restored", problems)
        os.sync()
        for child in staging.iterdir():
            os.replace(child, target / child.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if problems and target.exists() and not any(target.iterdir()):
            target.rmdir()
    return RestoreResult(target, sid, len(snap["files"]), total, time.perf_counter() - t0, snap["project_file"],
                         snap.get("master_key", ""))
