"""The keyring: every wrapped key of a project, kept beside the releases, never the master key.

    RELEASES/keys/
        token.json      the token keys, one per version, each wrapped by the master key
        R0001.json      release R0001's data key, wrapped by the master key
        .lock           held (flock) while keys are created, re-wrapped or destroyed
    RELEASES/SHRED.jsonl  one line per destroyed data key (append-only)

Wrapped keys live outside the release directories because a release is immutable while its
wrapped key is not: `dtsen keys rotate` re-wraps it under a new master key (one atomic rename
per file; the data is never re-encrypted) and crypto-shredding destroys it. Each wrap is bound
to its place ("release:R0001", "token:2"), so a wrapped key copied to another file does not open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtsen.vault.atomic import destroy_file, fsync_dir, write_atomic
from dtsen.vault.errors import (
    DataKeyMissingError,
    KeyFileExistsError,
    KeyProviderError,
    KeyShreddedError,
    TokenError,
    VaultError,
    WrappedKeyDamagedError,
)
from dtsen.vault.master import KeyProvider, MasterKeyRef, WrappedKey, new_key

if TYPE_CHECKING:
    from dtsen.config import Settings

KEYS_DIR = "keys"
TOKEN_FILE = "token.json"
SHRED_LOG = "SHRED.jsonl"
TOKEN_FORMAT = "dtsen-token-keys/1"
DATA_KEY_FORMAT = "dtsen-data-key/1"
_RELEASE_FILE = re.compile(r"^(R\d{4})\.json$")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TokenKeys:
    """The unwrapped token keys: version -> 32-byte secret, and the version new tokens use."""

    active: int
    keys: dict[int, bytes]

    def key(self, version: int | None = None) -> bytes:
        v = self.active if version is None else version
        if v not in self.keys:
            raise TokenError(f"no token key version {v}; the keyring holds versions {sorted(self.keys)}")
        return self.keys[v]


@dataclass(frozen=True)
class KeyStatus:
    """One wrapped key: what it is, its file, the master key it is under, and whether it opens."""

    kind: str  # "token" or "release"
    name: str  # "token v2", "R0003"
    file: Path
    master: MasterKeyRef | None
    opens: bool
    problem: str = ""


@dataclass(frozen=True)
class RewrapReport:
    rewrapped: list[Path]
    current: list[Path]
    active: MasterKeyRef


@dataclass(frozen=True)
class ShredEvent:
    release_id: str
    at: str
    reason: str
    actor: str
    log: Path


class Keyring:
    """Wrapped keys under `<release store>/keys`, opened with a master-key provider."""

    def __init__(self, provider: KeyProvider | None, store_root: Path) -> None:
        """`provider` None: a keyring that can only be inspected (files, the shred log)."""
        self._provider = provider
        self.store_root = Path(store_root)
        self.dir = self.store_root / KEYS_DIR

    @property
    def provider(self) -> KeyProvider:
        if self._provider is None:
            raise KeyProviderError("this keyring was opened without a master key provider")
        return self._provider

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        from dtsen.vault.providers import provider_for

        return cls(provider_for(settings), settings.path(settings.release.dir))

    # -- plumbing ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise changes to the keyring (a blocking flock, freed by the OS if the holder dies)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / ".lock").open("a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _read(self, path: Path, fmt: str) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WrappedKeyDamagedError(f"{path}: unreadable ({type(exc).__name__}); restore it from a backup") from None
        if not isinstance(data, dict) or data.get("format") != fmt:
            raise WrappedKeyDamagedError(f"{path}: not a {fmt} file; restore it from a backup")
        return data

    def _write(self, path: Path, data: dict[str, Any], exclusive: bool = False) -> None:
        write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"), exclusive=exclusive)

    def _unwrap(self, path: Path, entry: Any, context: str) -> bytes:
        try:
            return self.provider.unwrap(WrappedKey.from_json(entry), context)
        except VaultError as exc:
            raise type(exc)(f"{path}: {exc}") from None

    # -- token keys ----------------------------------------------------------------------------
    @property
    def token_file(self) -> Path:
        return self.dir / TOKEN_FILE

    def has_token_keys(self) -> bool:
        return self.token_file.exists()

    def init_token_key(self) -> int:
        """Token key version 1; refuses when the keyring already has token keys."""
        with self.lock():
            if self.token_file.exists():
                raise KeyFileExistsError(
                    f"{self.token_file} already exists: this release store has token keys, wrapped under the master "
                    "key it was set up with; a new master key cannot open them (restore the original key instead)"
                )
            data = {"format": TOKEN_FORMAT, "active": 1,
                    "keys": {"1": {"created": _now(), "wrapped": self.provider.wrap(new_key(), "token:1").to_json()}}}
            self._write(self.token_file, data, exclusive=True)
        return 1

    def token_keys(self) -> TokenKeys:
        """Every token key version, unwrapped."""
        if not self.token_file.exists():
            raise DataKeyMissingError(f"no token keys at {self.token_file}: run `dtsen keys init`")
        data = self._read(self.token_file, TOKEN_FORMAT)
        keys = {int(v): self._unwrap(self.token_file, e["wrapped"], f"token:{int(v)}") for v, e in data["keys"].items()}
        return TokenKeys(int(data["active"]), keys)

    def add_token_version(self) -> int:
        """Token key rotation: a new version becomes active; the old ones stay for the migration."""
        with self.lock():
            data = self._read(self.token_file, TOKEN_FORMAT)
            version = max(int(v) for v in data["keys"]) + 1
            data["keys"][str(version)] = {"created": _now(),
                                          "wrapped": self.provider.wrap(new_key(), f"token:{version}").to_json()}
            data["active"] = version
            self._write(self.token_file, data)
        return version

    def retire_token_version(self, version: int) -> None:
        """Destroy an old token key version (after the migration): its tokens can no longer be made."""
        with self.lock():
            data = self._read(self.token_file, TOKEN_FORMAT)
            if int(data["active"]) == version:
                raise TokenError(f"token key version {version} is the active one; rotate first (`dtsen keys rotate --token`)")
            if str(version) not in data["keys"]:
                raise TokenError(f"no token key version {version} in {self.token_file}")
            del data["keys"][str(version)]
            self._write(self.token_file, data)

    # -- release data keys ---------------------------------------------------------------------
    def data_key_file(self, release_id: str) -> Path:
        return self.dir / f"{release_id}.json"

    def create_data_key(self, release_id: str, replace: bool = False) -> bytes:
        """A new random data key for a release, wrapped; `replace` only for a release never published."""
        key = new_key()
        data = {"format": DATA_KEY_FORMAT, "release_id": release_id, "created": _now(),
                "wrapped": self.provider.wrap(key, f"release:{release_id}").to_json()}
        with self.lock():
            try:
                self._write(self.data_key_file(release_id), data, exclusive=not replace)
            except FileExistsError:
                raise KeyFileExistsError(f"{self.data_key_file(release_id)} already exists; a release's data key is "
                                         "never replaced") from None
        return key

    def data_key(self, release_id: str) -> bytes:
        """A release's data key, unwrapped; a clear error when it was shredded, lost or damaged."""
        path = self.data_key_file(release_id)
        if not path.exists():
            event = self.shred_event(release_id)
            if event is not None:
                raise KeyShreddedError(
                    f"release {release_id}'s data key was destroyed on {event['at']} ({event.get('reason') or 'no reason given'}; "
                    f"{self.store_root / SHRED_LOG}): its personal data cannot be read; its manifest and aggregates remain"
                )
            raise DataKeyMissingError(f"no data key for release {release_id} at {path}; restore it from a backup")
        data = self._read(path, DATA_KEY_FORMAT)
        if data.get("release_id") != release_id:
            raise WrappedKeyDamagedError(f"{path}: holds the key of release {data.get('release_id')!r}, not {release_id}")
        return self._unwrap(path, data["wrapped"], f"release:{release_id}")

    def release_ids(self) -> list[str]:
        if not self.dir.exists():
            return []
        return sorted(m.group(1) for p in self.dir.iterdir() if (m := _RELEASE_FILE.match(p.name)))

    # -- rotation ------------------------------------------------------------------------------
    def rewrap_all(self) -> RewrapReport:
        """Re-wrap every key not under the provider's active master version (data untouched).

        One atomic rename per file: a crash leaves each file under the old version or the new,
        both of which the provider still holds until the rotation is finished, and running it
        again completes the job."""
        active = self.provider.active()
        rewrapped: list[Path] = []
        current: list[Path] = []
        with self.lock():
            files = [self.token_file] if self.token_file.exists() else []
            files += [self.data_key_file(r) for r in self.release_ids()]
            for path in files:
                if path == self.token_file:
                    data = self._read(path, TOKEN_FORMAT)
                    entries = [(e, f"token:{int(v)}") for v, e in data["keys"].items()]
                else:
                    data = self._read(path, DATA_KEY_FORMAT)
                    entries = [(data, f"release:{data['release_id']}")]
                if all(WrappedKey.from_json(e["wrapped"]).master == active for e, _ in entries):
                    current.append(path)
                    continue
                for entry, context in entries:
                    key = self._unwrap(path, entry["wrapped"], context)
                    entry["wrapped"] = self.provider.wrap(key, context).to_json()
                self._write(path, data)
                rewrapped.append(path)
        return RewrapReport(rewrapped, current, active)

    # -- status --------------------------------------------------------------------------------
    def status(self) -> list[KeyStatus]:
        out: list[KeyStatus] = []
        if self.token_file.exists():
            try:
                data = self._read(self.token_file, TOKEN_FORMAT)
                items = [(f"token v{v}" + (" (active)" if int(v) == int(data["active"]) else ""), e["wrapped"],
                          f"token:{int(v)}") for v, e in sorted(data["keys"].items(), key=lambda kv: int(kv[0]))]
            except VaultError as exc:
                out.append(KeyStatus("token", "token keys", self.token_file, None, False, str(exc)))
                items = []
            for name, entry, context in items:
                out.append(self._probe("token", name, self.token_file, entry, context))
        for release_id in self.release_ids():
            path = self.data_key_file(release_id)
            try:
                data = self._read(path, DATA_KEY_FORMAT)
            except VaultError as exc:
                out.append(KeyStatus("release", release_id, path, None, False, str(exc)))
                continue
            out.append(self._probe("release", release_id, path, data["wrapped"], f"release:{release_id}"))
        return out

    def _probe(self, kind: str, name: str, path: Path, entry: Any, context: str) -> KeyStatus:
        try:
            master: MasterKeyRef | None = WrappedKey.from_json(entry).master
            self._unwrap(path, entry, context)
            return KeyStatus(kind, name, path, master, True)
        except VaultError as exc:
            master = None if "malformed" in str(exc) else WrappedKey.from_json(entry).master
            return KeyStatus(kind, name, path, master, False, str(exc))

    # -- crypto-shredding ----------------------------------------------------------------------
    @property
    def shred_log(self) -> Path:
        return self.store_root / SHRED_LOG

    def shred_events(self) -> list[dict[str, Any]]:
        if not self.shred_log.exists():
            return []
        out = []
        for n, line in enumerate(self.shred_log.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    raise VaultError(f"{self.shred_log} line {n} is not valid JSON; the log was altered") from None
        return out

    def shred_event(self, release_id: str) -> dict[str, Any] | None:
        return next((e for e in self.shred_events() if e.get("release_id") == release_id), None)

    def shred(self, release_id: str, reason: str, actor: str) -> ShredEvent:
        """Destroy a release's data key: its vault can never be read again (crypto-shredding).

        The event is appended to SHRED.jsonl first (flushed), then the key file is overwritten
        and removed: a crash in between leaves a logged shred whose key still exists, which
        running the shred again completes."""
        path = self.data_key_file(release_id)
        with self.lock():
            if not path.exists():
                if self.shred_event(release_id) is not None:
                    raise KeyShreddedError(f"release {release_id}'s data key was already destroyed "
                                           f"(see {self.shred_log})")
                raise DataKeyMissingError(f"no data key for release {release_id} at {path}")
            data = self._read(path, DATA_KEY_FORMAT)
            at = _now()
            event = {"event": "shred", "release_id": release_id, "at": at, "reason": reason, "actor": actor,
                     "wrapped_key_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "master": str(WrappedKey.from_json(data["wrapped"]).master)}
            self._append_event(event)
            destroy_file(path)
        return ShredEvent(release_id, at, reason, actor, self.shred_log)

    def _append_event(self, event: dict[str, Any]) -> None:
        self.store_root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.shred_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.store_root)
