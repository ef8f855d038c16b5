"""The backup's errors: each names the backup, the file and what to do."""

from __future__ import annotations

from dtsen.errors import DtsenError


class BackupError(DtsenError):
    """A backup cannot be made or read (destination, keys, a dump command)."""


class BackupDamagedError(BackupError):
    """A backup's file fails its check (checksum, AES-GCM tag, truncation): nothing is restored."""


class RestoreTargetError(BackupError):
    """The restore directory is not empty, or a path in the backup would leave it."""
