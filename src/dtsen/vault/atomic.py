"""Atomic, durable file writes for key material: a reader sees the old file or the new one.

The new content goes to a temporary file in the same directory (created with the final mode,
never world-readable even for an instant), is flushed to disk, and is renamed over the target;
the directory is flushed too. `exclusive=True` refuses to replace an existing file, also against
a concurrent writer (the final step is a hard link, which fails when the name exists).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600, exclusive: bool = False) -> None:
    """Write `data` to `path` atomically with permissions `mode`; see the module docstring."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it; never widened beyond `mode`
        if exclusive:
            os.link(tmp, path)  # FileExistsError when the name is taken
            tmp.unlink()
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def destroy_file(path: Path) -> None:
    """Overwrite a small key file with random bytes, flush, and remove it.

    On copy-on-write file systems and SSDs the old blocks may survive an overwrite; what makes
    the destruction final is that the key inside was wrapped by the master key (see the README on
    crypto-shredding and master-key rotation)."""
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.write(secrets.token_bytes(max(size, 1)))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    fsync_dir(path.parent)
