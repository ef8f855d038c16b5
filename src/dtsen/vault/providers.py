"""The master-key providers dtsen ships, and how the settings choose one.

file     the embedded default: a JSON key file written by `dtsen keys init` (mode 0600), which
         holds the key id and one or more versions (two only while `dtsen keys rotate` runs)
env      production without a KMS: `DTSEN_MASTER_KEY=key_id:version:base64key`, and while
         rotating, the versions being retired in `DTSEN_MASTER_KEY_PREVIOUS` (comma-separated)
command  the same lines printed by a command (a secrets manager's CLI), active version first
plugin   `vault.plugin = "package.module:factory"`: an HSM or KMS provider (see `master`)

Key values never appear in a message: errors name the file, variable or command, not the key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import importlib
import json
import os
import re
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtsen.vault.atomic import write_atomic
from dtsen.vault.errors import KeyFileError, KeyFileExistsError, KeyFileMissingError, KeyProviderError
from dtsen.vault.master import KEY_BYTES, KeyProvider, LocalMasterKeys, MasterKeyRef, new_key, new_key_id

if TYPE_CHECKING:
    from dtsen.config import Settings

KEY_FILE_FORMAT = "dtsen-master-key/1"
ENV_KEY = "DTSEN_MASTER_KEY"
ENV_PREVIOUS = "DTSEN_MASTER_KEY_PREVIOUS"
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NOTE = ("dtsen master key. Keep it secret, and keep a copy offline apart from the data and the backups: "
         "without it no vault, token key or backup of this project can be opened.")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# -- the key file --------------------------------------------------------------------------------
def _key_file_data(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise KeyFileMissingError(
            f"master key file {path} not found. If it was lost, restore it from its offline copy: without it the "
            "vault, token keys and backups of this project cannot be opened. For a new project run `dtsen keys init`."
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"master key file {path} is readable by other users (mode {mode:04o}); run `chmod 600 {path}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"master key file {path} cannot be read ({type(exc).__name__}); restore it from its copy") from None
    if not isinstance(data, dict) or data.get("format") != KEY_FILE_FORMAT:
        raise KeyFileError(f"{path} is not a dtsen master key file (format {KEY_FILE_FORMAT!r} expected)")
    return data


def _keys_of(path: Path, data: dict[str, Any]) -> tuple[str, dict[int, bytes], int]:
    try:
        key_id = str(data["key_id"])
        keys = {int(v): base64.b64decode(entry["key"], validate=True) for v, entry in data["keys"].items()}
        active = int(data["active"])
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
        raise KeyFileError(f"master key file {path} is damaged (key_id, keys or active unreadable); "
                           "restore it from its copy") from None
    return key_id, keys, active


def read_key_file(path: Path) -> LocalMasterKeys:
    """The master key versions in a key file; a clear error when it is missing or damaged."""
    key_id, keys, active = _keys_of(path, _key_file_data(path))
    try:
        return LocalMasterKeys("file", key_id, keys, active)
    except KeyProviderError as exc:
        raise KeyFileError(f"master key file {path} is damaged: {exc}") from None


def _write_key_file(path: Path, key_id: str, keys: dict[int, tuple[bytes, str]], active: int,
                    exclusive: bool = False) -> None:
    data = {
        "format": KEY_FILE_FORMAT,
        "note": _NOTE,
        "key_id": key_id,
        "active": active,
        "keys": {str(v): {"key": base64.b64encode(k).decode("ascii"), "created": created}
                 for v, (k, created) in sorted(keys.items())},
    }
    try:
        write_atomic(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"), mode=0o600, exclusive=exclusive)
    except FileExistsError:
        raise KeyFileExistsError(f"master key file {path} already exists; dtsen never overwrites a key file") from None


def create_key_file(path: Path) -> MasterKeyRef:
    """A new master key (version 1) in a new file, mode 0600; refuses to overwrite."""
    if path.exists():
        raise KeyFileExistsError(f"master key file {path} already exists; dtsen never overwrites a key file")
    key_id = new_key_id()
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    _write_key_file(path, key_id, {1: (new_key(), _now())}, 1, exclusive=True)
    return MasterKeyRef(key_id, 1)


def add_key_version(path: Path) -> MasterKeyRef:
    """Rotation, step 1: a new version becomes active; the old ones stay until everything is re-wrapped."""
    data = _key_file_data(path)
    key_id, keys, _ = _keys_of(path, data)
    created = {int(v): str(e.get("created", "")) for v, e in data["keys"].items()}
    version = max(keys) + 1
    entries = {v: (k, created[v]) for v, k in keys.items()} | {version: (new_key(), _now())}
    _write_key_file(path, key_id, entries, version)
    return MasterKeyRef(key_id, version)


def drop_key_versions(path: Path, retired_to: Path | None = None) -> list[MasterKeyRef]:
    """Rotation, last step: remove every version but the active one; with `retired_to`, first
    write them to that file (0600, never overwritten) for restoring backups made under them."""
    data = _key_file_data(path)
    key_id, keys, active = _keys_of(path, data)
    created = {int(v): str(e.get("created", "")) for v, e in data["keys"].items()}
    old = {v: (k, created[v]) for v, k in keys.items() if v != active}
    if not old:
        return []
    if retired_to is not None:
        newest_old = max(old)
        _write_key_file(retired_to, key_id, old, newest_old, exclusive=True)
    _write_key_file(path, key_id, {active: (keys[active], created[active])}, active)
    return [MasterKeyRef(key_id, v) for v in sorted(old)]


# -- environment and command ---------------------------------------------------------------------
def parse_key_line(text: str, where: str) -> tuple[str, int, bytes]:
    """'key_id:version:base64key' -> parts; the error names `where`, never the value."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        raise KeyProviderError(f"{where} must be 'key_id:version:base64key' (three parts separated by ':')")
    key_id, version, b64 = parts
    if not _KEY_ID.match(key_id):
        raise KeyProviderError(f"{where}: the key id must be letters, digits, '.', '_' or '-' (at most 64)")
    if not version.isdigit() or int(version) < 1:
        raise KeyProviderError(f"{where}: the version must be a whole number from 1")
    try:
        key = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise KeyProviderError(f"{where}: the key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyProviderError(f"{where}: the key has {len(key)} bytes; a master key has {KEY_BYTES} (AES-256)")
    return key_id, int(version), key


def keys_from_lines(name: str, lines: list[tuple[str, str]]) -> LocalMasterKeys:
    """Master keys from (text, where) lines, the first one active; all of one key id."""
    if not lines:
        raise KeyProviderError(f"the {name} key provider found no key")
    parsed = [parse_key_line(text, where) for text, where in lines]
    key_id = parsed[0][0]
    keys: dict[int, bytes] = {}
    for (kid, version, key), (_, where) in zip(parsed, lines, strict=True):
        if kid != key_id:
            raise KeyProviderError(f"{where}: key id {kid!r} differs from the active key's {key_id!r}; "
                                   "versions of one master key share its id")
        if version in keys:
            raise KeyProviderError(f"{where}: version {version} is given twice")
        keys[version] = key
    return LocalMasterKeys(name, key_id, keys, parsed[0][1])


def env_provider(environ: Mapping[str, str] | None = None) -> LocalMasterKeys:
    env = os.environ if environ is None else environ
    active = env.get(ENV_KEY, "").strip()
    if not active:
        raise KeyProviderError(f"vault.provider is 'env' but {ENV_KEY} is not set (format 'key_id:version:base64key')")
    lines = [(active, ENV_KEY)]
    previous = [p for p in env.get(ENV_PREVIOUS, "").split(",") if p.strip()]
    lines += [(p, f"{ENV_PREVIOUS} item {i}") for i, p in enumerate(previous, start=1)]
    return keys_from_lines("env", lines)


def command_provider(argv: list[str], timeout: float = 30.0) -> LocalMasterKeys:
    if not argv:
        raise KeyProviderError("vault.provider is 'command' but vault.key_command is empty")
    label = f"vault.key_command ({argv[0]})"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KeyProviderError(f"{label} could not run: {type(exc).__name__}") from None
    if out.returncode != 0:
        raise KeyProviderError(f"{label} exited with status {out.returncode}")
    lines = [(line, f"{label} line {i}") for i, line in enumerate(out.stdout.splitlines(), start=1) if line.strip()]
    return keys_from_lines("command", lines)


def plugin_provider(spec: str, settings: Settings) -> KeyProvider:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise KeyProviderError(f"vault.plugin must be 'package.module:factory', not {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise KeyProviderError(f"vault.plugin {spec!r} cannot be loaded: {exc}") from None
    provider = factory(settings)
    if not isinstance(provider, KeyProvider):
        raise KeyProviderError(f"vault.plugin {spec!r} returned {type(provider).__name__}, which lacks "
                               "name, active(), versions(), wrap() or unwrap()")
    return provider


def key_file_path(settings: Settings) -> Path:
    """The file provider's key file, refused when it lies inside the release store."""
    path = settings.path(settings.vault.key_file).resolve()
    releases = settings.path(settings.release.dir).resolve()
    if path.is_relative_to(releases):
        raise KeyFileError(f"vault.key_file {path} lies inside the release store {releases}; a master key must be "
                           f"kept apart from the data it protects ({settings.where('vault', 'key_file')})")
    return path


def provider_for(settings: Settings) -> KeyProvider:
    """The master-key provider the settings name."""
    kind = settings.vault.provider
    if kind == "file":
        return read_key_file(key_file_path(settings))
    if kind == "env":
        return env_provider()
    if kind == "command":
        return command_provider(settings.vault.key_command)
    return plugin_provider(settings.vault.plugin, settings)
