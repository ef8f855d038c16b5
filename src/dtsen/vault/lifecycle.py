"""The life of a project's keys: set up, inspect, rotate, retire, destroy (`dtsen keys ...`).

init      a master key (file provider: a new key file, 0600, never overwritten) and token key
          version 1, wrapped into the keyring; refused when the keyring already has keys, since
          a new master key could not open them
rotate    master key: a new version becomes active, every wrapped key is re-wrapped under it
          (data untouched, one atomic rename per file), then the old versions are dropped from
          the key file (kept in a separate retired-key file only when asked, for old backups).
          An interrupted rotation is finished by running it again.
          token key (`--token`): a new token key version becomes active (see `tokens`)
shred     destroy a release's data key (never the current release's), logged in SHRED.jsonl
"""

from __future__ import annotations

import contextlib
import getpass
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dtsen.vault.errors import KeyFileExistsError, VaultError
from dtsen.vault.keyring import Keyring, KeyStatus, RewrapReport, ShredEvent
from dtsen.vault.master import MasterKeyRef
from dtsen.vault.providers import (
    add_key_version,
    create_key_file,
    drop_key_versions,
    key_file_path,
    provider_for,
    read_key_file,
)

if TYPE_CHECKING:
    from dtsen.config import Settings


def store_root(settings: Settings) -> Path:
    return settings.path(settings.release.dir)


def _project_lock(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """The project's lock: no build or backup runs while keys change."""
    from dtsen.release.store import ReleaseStore

    return ReleaseStore(store_root(settings)).lock()


@dataclass(frozen=True)
class InitResult:
    master: MasterKeyRef
    key_file: Path | None
    token_version: int
    keyring: Path


def init_keys(settings: Settings) -> InitResult:
    """Create the master key (file provider) and token key version 1."""
    with _project_lock(settings):
        return _init_keys(settings)


def _init_keys(settings: Settings) -> InitResult:
    root = store_root(settings)
    probe = Keyring(None, root)
    if probe.has_token_keys():
        raise KeyFileExistsError(
            f"{probe.token_file} already exists: this project's keys are set up. If the master key was lost, "
            "restore it from its offline copy; a new one cannot open the existing keys (`dtsen keys status`)."
        )
    key_file = None
    if settings.vault.provider == "file":
        key_file = key_file_path(settings)
        create_key_file(key_file)
    keyring = Keyring(provider_for(settings), root)
    version = keyring.init_token_key()
    return InitResult(keyring.provider.active(), key_file, version, keyring.dir)


@dataclass(frozen=True)
class StatusReport:
    provider: str
    active: MasterKeyRef | None
    versions: list[MasterKeyRef]
    key_file: Path | None
    key_file_mode: str
    keys: list[KeyStatus]
    shredded: list[dict[str, str]]
    problem: str = ""


def key_status(settings: Settings) -> StatusReport:
    """What the provider holds, and whether every wrapped key opens with it."""
    root = store_root(settings)
    key_file = key_file_path(settings) if settings.vault.provider == "file" else None
    mode = f"{stat.S_IMODE(key_file.stat().st_mode):04o}" if key_file is not None and key_file.exists() else ""
    try:
        provider = provider_for(settings)
    except VaultError as exc:
        probe = Keyring(None, root)
        return StatusReport(settings.vault.provider, None, [], key_file, mode, [], probe.shred_events(), str(exc))
    keyring = Keyring(provider, root)
    return StatusReport(provider.name, provider.active(), provider.versions(), key_file, mode, keyring.status(),
                        keyring.shred_events())


@dataclass(frozen=True)
class RotateResult:
    before: list[MasterKeyRef]
    active: MasterKeyRef
    report: RewrapReport
    dropped: list[MasterKeyRef] = field(default_factory=list)
    retired_to: Path | None = None


def rotate_master(settings: Settings, retired_to: Path | None = None) -> RotateResult:
    """Re-wrap every key under a new master key version (see the module docstring)."""
    with _project_lock(settings):
        return _rotate_master(settings, retired_to)


def _rotate_master(settings: Settings, retired_to: Path | None) -> RotateResult:
    if settings.vault.provider != "file":
        provider = provider_for(settings)
        report = Keyring(provider, store_root(settings)).rewrap_all()
        return RotateResult(provider.versions(), provider.active(), report)
    if retired_to is not None and retired_to.exists():
        raise KeyFileExistsError(f"{retired_to} already exists; dtsen never overwrites a key file")
    path = key_file_path(settings)
    before = read_key_file(path).versions()
    if len(before) == 1:  # otherwise an interrupted rotation is being finished
        add_key_version(path)
    report = Keyring(read_key_file(path), store_root(settings)).rewrap_all()
    dropped = drop_key_versions(path, retired_to)
    return RotateResult(before, report.active, report, dropped, retired_to if dropped else None)


def rotate_token(settings: Settings) -> int:
    with _project_lock(settings):
        return Keyring.from_settings(settings).add_token_version()


def retire_token(settings: Settings, version: int) -> None:
    with _project_lock(settings):
        Keyring.from_settings(settings).retire_token_version(version)


def shred_release(settings: Settings, release_id: str, reason: str, actor: str | None = None) -> ShredEvent:
    """Crypto-shred a release that is not the current one."""
    from dtsen.release.store import ReleaseStore

    store = ReleaseStore(store_root(settings))
    if store.current() == release_id:
        raise VaultError(f"{release_id} is the current release; publish a newer one before destroying its key")
    with store.lock():
        keyring = Keyring(provider_for(settings), store.root)
        return keyring.shred(release_id, reason, actor or getpass.getuser())
