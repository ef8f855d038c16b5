"""Master key providers: the key file (0600, never overwritten, clear errors), env, command, plugin."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import dtsen.vault.master as master
from dtsen.config import load_settings
from dtsen.vault.errors import (
    KeyFileError,
    KeyFileExistsError,
    KeyFileMissingError,
    KeyProviderError,
    WrappedKeyDamagedError,
    WrongMasterKeyError,
)
from dtsen.vault.lifecycle import init_keys
from dtsen.vault.master import LocalMasterKeys, WrappedKey
from dtsen.vault.providers import (
    command_provider,
    create_key_file,
    env_provider,
    provider_for,
    read_key_file,
)
from tests.vault.conftest import write_project

MASTER = bytes(range(32, 64))
DATA_KEY = bytes(range(32))


def test_key_file_is_0600_with_an_id_and_a_version_and_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    ref = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ref.version == 1 and ref.key_id.startswith("mk-") and len(ref.key_id) == 19
    data = json.loads(path.read_text())
    assert data["key_id"] == ref.key_id and data["active"] == 1
    assert len(base64.b64decode(data["keys"]["1"]["key"])) == 32
    before = path.read_bytes()
    with pytest.raises(KeyFileExistsError, match="never overwrites"):
        create_key_file(path)
    assert path.read_bytes() == before
    assert read_key_file(path).active() == ref


def test_two_key_files_hold_different_keys(tmp_path: Path) -> None:
    a, b = tmp_path / "a.key", tmp_path / "b.key"
    create_key_file(a)
    create_key_file(b)
    wrapped = read_key_file(a).wrap(DATA_KEY, "release:R0001")
    with pytest.raises(WrongMasterKeyError, match="not the key these files were made with"):
        read_key_file(b).unwrap(wrapped, "release:R0001")


def test_a_lost_key_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(KeyFileMissingError, match=r"master\.key not found.*restore it from its offline copy"):
        read_key_file(tmp_path / "master.key")


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match=r"mode 0644.*chmod 600"):
        read_key_file(path)


@pytest.mark.parametrize("damage", ["not json", '{"format": "other"}',
                                    '{"format": "dtsen-master-key/1", "key_id": "mk-1", "active": 1, "keys": {"1": {"key": "!!"}}}',
                                    '{"format": "dtsen-master-key/1", "key_id": "mk-1", "active": 1, "keys": {"1": {"key": "AAAA"}}}'])
def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "master.key"
    path.write_text(damage)
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match=str(path)):
        read_key_file(path)


def test_the_key_file_may_not_live_inside_the_release_store(tmp_path: Path) -> None:
    settings = load_settings(write_project(tmp_path, '[vault]\nkey_file = "releases/master.key"\n'))
    with pytest.raises(KeyFileError, match="inside the release store"):
        init_keys(settings)
    assert not (tmp_path / "releases" / "master.key").exists()


def test_wrap_known_answer_and_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(master.os, "urandom", lambda n: b"\x02" * n)
    keys = LocalMasterKeys("file", "mk-test", {1: MASTER}, 1)
    wrapped = keys.wrap(DATA_KEY, "release:R0001")
    aad = b"dtsen-wrap/1\x00mk-test\x001\x00release:R0001"
    assert wrapped.blob == b"\x02" * 12 + AESGCM(MASTER).encrypt(b"\x02" * 12, DATA_KEY, aad)
    assert wrapped.blob.hex() == (
        "0202020202020202020202026d0f37b82809ed99ec46a80076ca438bfb4569beb70de1fe608ea3c81ff08db33a475a4cea65314d"
        "732a29ce5120a057"
    )
    assert (wrapped.key_id, wrapped.version) == ("mk-test", 1)
    assert keys.unwrap(WrappedKey.from_json(wrapped.to_json()), "release:R0001") == DATA_KEY


@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
def test_a_tampered_wrapped_key_fails_loudly(where: str) -> None:
    keys = LocalMasterKeys("file", "mk-test", {1: MASTER}, 1)
    blob = bytearray(keys.wrap(DATA_KEY, "release:R0001").blob)
    blob[{"nonce": 3, "ciphertext": 20, "tag": len(blob) - 2}[where]] ^= 0x01
    with pytest.raises(WrappedKeyDamagedError, match="AES-GCM tag check failed"):
        keys.unwrap(WrappedKey("mk-test", 1, bytes(blob)), "release:R0001")


def test_a_wrapped_key_does_not_open_in_another_place_or_under_another_version() -> None:
    keys = LocalMasterKeys("file", "mk-test", {1: MASTER}, 1)
    wrapped = keys.wrap(DATA_KEY, "release:R0001")
    with pytest.raises(WrappedKeyDamagedError):
        keys.unwrap(wrapped, "release:R0002")
    with pytest.raises(WrappedKeyDamagedError, match="truncated"):
        keys.unwrap(WrappedKey("mk-test", 1, wrapped.blob[:20]), "release:R0001")
    newer = LocalMasterKeys("file", "mk-test", {2: os.urandom(32)}, 2)
    with pytest.raises(WrongMasterKeyError, match=r"mk-test v1.*retired"):
        newer.unwrap(wrapped, "release:R0001")


def _line(key_id: str, version: int, key: bytes) -> str:
    return f"{key_id}:{version}:{base64.b64encode(key).decode()}"


def test_env_provider_reads_the_active_and_previous_versions() -> None:
    old, new = os.urandom(32), os.urandom(32)
    env = {"DTSEN_MASTER_KEY": _line("prod", 2, new), "DTSEN_MASTER_KEY_PREVIOUS": _line("prod", 1, old)}
    keys = env_provider(env)
    assert str(keys.active()) == "prod v2"
    assert [str(v) for v in keys.versions()] == ["prod v1", "prod v2"]
    wrapped_old = LocalMasterKeys("x", "prod", {1: old}, 1).wrap(DATA_KEY, "token:1")
    assert keys.unwrap(wrapped_old, "token:1") == DATA_KEY
    assert keys.wrap(DATA_KEY, "token:1").version == 2


@pytest.mark.parametrize(("value", "message"), [
    ("", "is not set"),
    ("prod:1", "three parts"),
    ("prod:one:AAAA", "whole number"),
    ("prod:1:not*base64", "not valid base64"),
    ("prod:1:" + base64.b64encode(b"short").decode(), "has 5 bytes"),
    ("bad id!:1:" + base64.b64encode(bytes(32)).decode(), "key id"),
])
def test_env_provider_errors_name_the_variable_never_the_key(value: str, message: str) -> None:
    with pytest.raises(KeyProviderError, match=message) as info:
        env_provider({"DTSEN_MASTER_KEY": value})
    assert "DTSEN_MASTER_KEY" in str(info.value)
    secret = value.rsplit(":", 1)[-1]
    assert len(secret) < 8 or secret not in str(info.value)


def test_env_provider_refuses_versions_of_another_key() -> None:
    env = {"DTSEN_MASTER_KEY": _line("prod", 2, os.urandom(32)),
           "DTSEN_MASTER_KEY_PREVIOUS": _line("other", 1, os.urandom(32))}
    with pytest.raises(KeyProviderError, match="differs from the active key"):
        env_provider(env)


def test_the_settings_choose_env_without_key_material_in_the_settings(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTSEN_MASTER_KEY", _line("prod", 1, MASTER))
    settings = load_settings(write_project(tmp_path, '[vault]\nprovider = "env"\n'))
    assert "MASTER_KEY" not in settings.model_dump_json()
    assert str(provider_for(settings).active()) == "prod v1"


def test_command_provider_runs_the_command(tmp_path: Path) -> None:
    script = f"print({_line('cmd', 3, MASTER)!r}); print({_line('cmd', 2, DATA_KEY)!r})"
    keys = command_provider([sys.executable, "-c", script])
    assert str(keys.active()) == "cmd v3" and len(keys.versions()) == 2
    with pytest.raises(KeyProviderError, match="exited with status 3"):
        command_provider([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(KeyProviderError, match="could not run"):
        command_provider([str(tmp_path / "no-such-command")])


def test_a_plugin_provider_serves_the_keyring(tmp_path: Path) -> None:
    from dtsen.vault.keyring import Keyring

    settings = load_settings(write_project(tmp_path, '[vault]\nprovider = "plugin"\n'
                                                     'plugin = "tests.vault.kms_plugin:provider"\n'))
    result = init_keys(settings)
    assert str(result.master) == "kms-test v1" and result.key_file is None
    keyring = Keyring.from_settings(settings)
    key = keyring.create_data_key("R0001")
    assert keyring.data_key("R0001") == key
    assert keyring.provider.calls == 2  # type: ignore[attr-defined]


def test_a_plugin_that_is_not_a_provider_is_refused(tmp_path: Path) -> None:
    for spec, message in (("tests.vault.kms_plugin:not_a_provider", "lacks"),
                          ("tests.vault.no_such_module:x", "cannot be loaded"), ("nocolon", "package.module:factory")):
        settings = load_settings(write_project(tmp_path, f'[vault]\nprovider = "plugin"\nplugin = "{spec}"\n'))
        with pytest.raises(KeyProviderError, match=message):
            provider_for(settings)
