"""Backups that restore: encrypted, incremental, checked file by file.

    repository  a backup destination: content-addressed encrypted objects, sealed manifests
    collect     what a backup of a project holds (project file, inputs, releases, store, dumps)
    create      `create_backup`: one incremental backup into a destination
    restore     `restore_backup`: a backup into an empty directory, every checksum verified
"""

from dtsen.backup.create import BackupResult, create_backup
from dtsen.backup.errors import BackupDamagedError, BackupError, RestoreTargetError
from dtsen.backup.repository import Repository
from dtsen.backup.restore import RestoreResult, restore_backup

__all__ = [
    "BackupDamagedError",
    "BackupError",
    "BackupResult",
    "Repository",
    "RestoreResult",
    "RestoreTargetError",
    "create_backup",
    "restore_backup",
]
