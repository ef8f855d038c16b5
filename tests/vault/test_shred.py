"""Crypto-shredding: a release's data key destroyed, its vault unreadable for ever, its manifest
and aggregates intact, the event recorded; never the current release."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.config import Settings
from dtsen.release.manifest import table_entries, verify_release, write_manifest
from dtsen.vault.errors import KeyShreddedError, VaultError
from dtsen.vault.keyring import Keyring
from dtsen.vault.lifecycle import key_status, rotate_master, shred_release
from dtsen.vault.vault import ReleaseVault

PEOPLE = pa.table({"person_id": pa.array([1, 2], pa.int64()), "nik": ["3204051507800003", "3204054203850002"]})


def _release(keyring: Keyring, release_id: str) -> Path:
    root = keyring.store_root / release_id
    (root / "quality.parquet").mkdir(parents=True)
    pq.write_table(pa.table({"region": ["32.04"], "indicator": ["valid_nik"], "value": [0.97]}),
                   root / "quality.parquet" / "part-0.parquet")
    with ReleaseVault.create(keyring, release_id) as vault:
        vault.write(root / "vault" / "persons.parquet", "persons", PEOPLE, "person_id", ["nik"])
    write_manifest(root, {"release_id": release_id, "tables": table_entries(root, ["quality", "vault/persons"]),
                          "accounting": {"sources": {"dukcapil": {"rows_read": 2, "accepted": 2, "quarantined": 0}}}})
    return root


def test_a_shredded_release_keeps_manifest_and_aggregates_but_its_vault_is_gone(settings: Settings,
                                                                                keyring: Keyring) -> None:
    old, new = _release(keyring, "R0001"), _release(keyring, "R0002")
    (keyring.store_root / "CURRENT").write_text("R0002\n")
    with ReleaseVault.open(keyring, "R0001") as vault:
        assert vault.lookup(old / "vault" / "persons.parquet", [1]) == {1: {"nik": "3204051507800003"}}

    event = shred_release(settings, "R0001", reason="retensi 5 tahun", actor="operator-1")

    assert not keyring.data_key_file("R0001").exists()
    with pytest.raises(KeyShreddedError, match=r"R0001's data key was destroyed on .*retensi 5 tahun.*SHRED\.jsonl"):
        ReleaseVault.open(keyring, "R0001")
    assert verify_release(old) == []  # every file the manifest lists is still there, unchanged
    assert pq.read_table(old / "quality.parquet").column("value").to_pylist() == [0.97]
    lines = [json.loads(x) for x in (keyring.store_root / "SHRED.jsonl").read_text().splitlines()]
    assert [(e["event"], e["release_id"], e["reason"], e["actor"]) for e in lines] == \
        [("shred", "R0001", "retensi 5 tahun", "operator-1")]
    assert event.at == lines[0]["at"] and len(lines[0]["wrapped_key_sha256"]) == 64
    with ReleaseVault.open(keyring, "R0002") as vault:  # the other release is untouched
        assert vault.lookup(new / "vault" / "persons.parquet", [2]) == {2: {"nik": "3204054203850002"}}
    # a later rotation leaves it shredded, and status names the event
    rotate_master(settings)
    with pytest.raises(KeyShreddedError):
        Keyring.from_settings(settings).data_key("R0001")
    status = key_status(settings)
    assert [e["release_id"] for e in status.shredded] == ["R0001"]
    assert [k.name for k in status.keys if k.kind == "release"] == ["R0002"]
    with pytest.raises(KeyShreddedError, match="already destroyed"):
        shred_release(settings, "R0001", reason="again")


def test_the_current_release_is_never_shredded(settings: Settings, keyring: Keyring) -> None:
    _release(keyring, "R0001")
    (keyring.store_root / "CURRENT").write_text("R0001\n")
    with pytest.raises(VaultError, match="R0001 is the current release"):
        shred_release(settings, "R0001", reason="test")
    assert keyring.data_key_file("R0001").exists()
    assert not (keyring.store_root / "SHRED.jsonl").exists()
