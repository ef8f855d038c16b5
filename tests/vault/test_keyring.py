"""The keyring: token keys by version, a data key per release, master-key rotation that
re-wraps without re-encrypting, and what the old key can no longer open."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from dtsen.config import Settings
from dtsen.vault.errors import (
    DataKeyMissingError,
    KeyFileExistsError,
    TokenError,
    WrappedKeyDamagedError,
    WrongMasterKeyError,
)
from dtsen.vault.keyring import Keyring
from dtsen.vault.lifecycle import init_keys, key_status, rotate_master
from dtsen.vault.master import LocalMasterKeys
from dtsen.vault.providers import env_provider, key_file_path, read_key_file
from dtsen.vault.vault import ReleaseVault

PEOPLE = pa.table({"person_id": [1, 2, 3], "nik": ["3204051507800003", "3204054203850002", "3204051010100001"],
                   "full_name": ["BUDI SANTOSO", "SITI NUR AISYAH", "AHMAD"]})


def test_token_keys_are_made_once_then_versioned_and_retired(settings: Settings, keyring: Keyring) -> None:
    with pytest.raises(KeyFileExistsError, match="already exists"):
        keyring.init_token_key()
    with pytest.raises(KeyFileExistsError, match="keys are set up"):
        init_keys(settings)
    v1 = keyring.token_keys()
    assert v1.active == 1 and len(v1.key()) == 32
    assert keyring.add_token_version() == 2
    both = keyring.token_keys()
    assert both.active == 2 and both.key(1) == v1.key(1) and both.key(2) != v1.key(1)
    with pytest.raises(TokenError, match="active one"):
        keyring.retire_token_version(2)
    keyring.retire_token_version(1)
    with pytest.raises(TokenError, match=r"no token key version 1; the keyring holds versions \[2\]"):
        keyring.token_keys().key(1)


def test_a_release_data_key_is_made_once_and_bound_to_its_release(keyring: Keyring) -> None:
    key = keyring.create_data_key("R0001")
    assert keyring.data_key("R0001") == key and len(key) == 32
    assert keyring.create_data_key("R0002") != key
    with pytest.raises(KeyFileExistsError, match="never replaced"):
        keyring.create_data_key("R0001")
    assert keyring.data_key("R0001") == key
    assert keyring.release_ids() == ["R0001", "R0002"]
    # a wrapped key copied over another release's does not open there
    data = json.loads(keyring.data_key_file("R0001").read_text())
    data["release_id"] = "R0002"
    keyring.data_key_file("R0002").write_text(json.dumps(data))
    with pytest.raises(WrappedKeyDamagedError, match=r"R0002\.json.*does not open"):
        keyring.data_key("R0002")
    with pytest.raises(DataKeyMissingError, match="R0009"):
        keyring.data_key("R0009")


def test_a_damaged_wrapped_key_file_names_the_file(keyring: Keyring) -> None:
    keyring.create_data_key("R0001")
    path = keyring.data_key_file("R0001")
    data = json.loads(path.read_text())
    blob = bytearray(base64.b64decode(data["wrapped"]["blob"]))
    blob[15] ^= 0xFF
    data["wrapped"]["blob"] = base64.b64encode(bytes(blob)).decode()
    path.write_text(json.dumps(data))
    with pytest.raises(WrappedKeyDamagedError, match=rf"{path}.*tag check failed"):
        keyring.data_key("R0001")
    path.write_text("{broken")
    with pytest.raises(WrappedKeyDamagedError, match=rf"{path}: unreadable"):
        keyring.data_key("R0001")


def _vault_file(keyring: Keyring, root: Path) -> tuple[Path, str]:
    with ReleaseVault.create(keyring, "R0001") as vault:
        path = vault.write(root / "R0001" / "vault" / "persons.parquet", "persons", PEOPLE, "person_id",
                           ["nik", "full_name"]).path
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_master_rotation_rewraps_every_key_and_the_old_key_no_longer_opens_them(settings: Settings,
                                                                               keyring: Keyring,
                                                                               tmp_path: Path) -> None:
    path, sha = _vault_file(keyring, keyring.store_root)
    tokens_before = keyring.token_keys()
    old_copy = tmp_path / "stolen-old.key"
    shutil.copy2(key_file_path(settings), old_copy)

    result = rotate_master(settings, retired_to=tmp_path / "retired.key")

    assert [str(v.version) for v in result.before] == ["1"] and result.active.version == 2
    assert {p.name for p in result.report.rewrapped} == {"token.json", "R0001.json"}
    assert [v.version for v in read_key_file(key_file_path(settings)).versions()] == [2]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha  # data never re-encrypted
    fresh = Keyring.from_settings(settings)
    with ReleaseVault.open(fresh, "R0001") as vault:
        assert vault.read(path).column("value").to_pylist() == ["BUDI SANTOSO", "3204051507800003", "SITI NUR AISYAH",
                                                                 "3204054203850002", "AHMAD", "3204051010100001"]
    assert fresh.token_keys() == tokens_before  # tokens stay the same across a master rotation
    for stale in (old_copy, tmp_path / "retired.key"):
        with pytest.raises(WrongMasterKeyError, match=r"R0001\.json.*v1.*retired"):
            Keyring(read_key_file(stale), keyring.store_root).data_key("R0001")
    assert oct(os.stat(tmp_path / "retired.key").st_mode & 0o777) == "0o600"


def test_an_interrupted_rotation_is_finished_by_running_it_again(settings: Settings, keyring: Keyring,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.create_data_key("R0001")
    keyring.create_data_key("R0002")
    real_write = Keyring._write
    calls = {"n": 0}

    def crash_after_one(self: Keyring, path: Path, data: dict[str, object], exclusive: bool = False) -> None:
        if calls["n"] == 1:
            raise OSError("power cut")
        calls["n"] += 1
        real_write(self, path, data, exclusive)

    monkeypatch.setattr(Keyring, "_write", crash_after_one)
    with pytest.raises(OSError, match="power cut"):
        rotate_master(settings)
    monkeypatch.setattr(Keyring, "_write", real_write)
    midway = read_key_file(key_file_path(settings))
    assert [v.version for v in midway.versions()] == [1, 2]
    masters = {s.name: s.master.version for s in Keyring(midway, keyring.store_root).status() if s.master}
    assert sorted(masters.values()) == [1, 1, 2]  # one file re-wrapped, two not yet
    assert all(s.opens for s in key_status(settings).keys)  # both versions held: everything still opens

    result = rotate_master(settings)
    assert result.active.version == 2  # no third version: the interrupted rotation was finished
    assert len(result.report.rewrapped) == 2 and len(result.report.current) == 1
    assert [v.version for v in read_key_file(key_file_path(settings)).versions()] == [2]
    assert {s.master.version for s in key_status(settings).keys if s.master} == {2}


def test_env_provider_rotation_rewraps_to_the_new_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dtsen.config import load_settings
    from tests.vault.conftest import write_project

    old, new = os.urandom(32), os.urandom(32)
    line = lambda v, k: f"prod:{v}:{base64.b64encode(k).decode()}"  # noqa: E731
    monkeypatch.setenv("DTSEN_MASTER_KEY", line(1, old))
    settings = load_settings(write_project(tmp_path, '[vault]\nprovider = "env"\n'))
    init_keys(settings)
    key = Keyring.from_settings(settings).create_data_key("R0001")
    monkeypatch.setenv("DTSEN_MASTER_KEY", line(2, new))
    monkeypatch.setenv("DTSEN_MASTER_KEY_PREVIOUS", line(1, old))
    result = rotate_master(settings)
    assert len(result.report.rewrapped) == 2
    monkeypatch.delenv("DTSEN_MASTER_KEY_PREVIOUS")
    assert Keyring.from_settings(settings).data_key("R0001") == key
    only_old = LocalMasterKeys("env", "prod", {1: old}, 1)
    with pytest.raises(WrongMasterKeyError):
        Keyring(only_old, settings.path("releases")).data_key("R0001")
    assert env_provider({"DTSEN_MASTER_KEY": line(2, new)}).active().version == 2


def test_status_names_each_key_and_whether_it_opens(settings: Settings, keyring: Keyring) -> None:
    keyring.create_data_key("R0001")
    keyring.data_key_file("R0001").write_text("{}")
    report = key_status(settings)
    assert report.key_file_mode == "0600" and report.active is not None
    rows = {s.name: s for s in report.keys}
    assert rows["token v1 (active)"].opens and rows["token v1 (active)"].master == report.active
    assert not rows["R0001"].opens and "not a dtsen-data-key/1 file" in rows["R0001"].problem
    key_file_path(settings).unlink()
    lost = key_status(settings)
    assert lost.active is None and "not found" in lost.problem


def test_keys_do_not_change_while_another_command_holds_the_project(settings: Settings, keyring: Keyring) -> None:
    from dtsen.release.store import BuildLockedError, ReleaseStore

    before = key_file_path(settings).read_bytes()
    with ReleaseStore(keyring.store_root).lock(), pytest.raises(BuildLockedError):
        rotate_master(settings)
    assert key_file_path(settings).read_bytes() == before
    assert rotate_master(settings).active.version == 2
