"""AES-256-GCM per value: a known answer, round trips, every kind of tampering fails loudly,
vault files hold no plaintext and are read by record id."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import dtsen.vault.cipher as cipher
from dtsen.vault.cipher import ColumnCipher, decrypt_batch, encrypt_batch, place
from dtsen.vault.errors import DecryptionError, VaultError
from dtsen.vault.keyring import Keyring
from dtsen.vault.vault import ReleaseVault

KEY = bytes(range(32))
NIK = "3204051507800003"


def test_encryption_known_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cipher.os, "urandom", lambda n: b"\x01" * n)
    out = encrypt_batch(KEY, place("R0001", "persons", "nik"), pa.array([42]), pa.array([NIK]))
    # the documented construction, spelled out with cryptography's primitives
    sub = HKDF(hashes.SHA256(), 32, b"dtsen-vault/1 column subkey", b"dtsen-vault/1\x00R0001\x00persons\x00nik").derive(KEY)
    expected = b"\x01" * 12 + AESGCM(sub).encrypt(b"\x01" * 12, NIK.encode(), b"i" + (42).to_bytes(8, "big"))
    assert out[0].as_py() == expected
    assert expected.hex() == ("01010101010101010101010137679cf3e0e57be546212aae4989d6a11f6e99cf433fb464a88cc88fda1e"
                              "5032")
    assert len(expected) == 12 + len(NIK) + 16


def test_each_value_gets_its_own_nonce() -> None:
    out = encrypt_batch(KEY, place("R0001", "persons", "nik"), pa.array([1, 2]), pa.array([NIK, NIK]))
    a, b = out.to_pylist()
    assert a[:12] != b[:12] and a[12:] != b[12:]


def test_round_trip_keeps_nulls_unicode_dates_and_text_ids() -> None:
    where = place("R0001", "quarantine", "raw")
    ids = pa.array(["dtks:1:5", "dtks:1:6", "pkh:0:2", "x"])
    values = pa.array(["SITI NUR 'AISYAH", None, "Çiçek — 🙂", ""])
    cts = encrypt_batch(KEY, where, ids, values)
    assert cts.null_count == 1 and cts.type == pa.binary()
    assert decrypt_batch(KEY, where, ids, cts).to_pylist() == ["SITI NUR 'AISYAH", None, "Çiçek — 🙂", ""]
    dates = pa.array([dt.date(1980, 7, 15), None], pa.date32())
    assert decrypt_batch(KEY, where, ids[:2], encrypt_batch(KEY, where, ids[:2], dates)).to_pylist() == \
        ["1980-07-15", None]


def _sealed(n: int = 3) -> tuple[str, pa.Array, pa.Array]:
    where = place("R0001", "persons", "nik")
    ids = pa.array(list(range(1, n + 1)), pa.int64())
    return where, ids, encrypt_batch(KEY, where, ids, pa.array([f"32040515078000{i:02d}" for i in range(n)]))


@pytest.mark.parametrize(("what", "byte"), [("nonce", 0), ("ciphertext", 14), ("tag", -1)])
def test_a_changed_byte_fails_its_tag_and_names_the_record(what: str, byte: int) -> None:
    where, ids, cts = _sealed()
    values = cts.to_pylist()
    damaged = bytearray(values[1])
    damaged[byte] ^= 0x01
    values[1] = bytes(damaged)
    with pytest.raises(DecryptionError, match=r"record 2, field 'nik'.*tag check"):
        decrypt_batch(KEY, where, ids, pa.array(values, pa.binary()))


def test_a_truncated_value_fails() -> None:
    where, ids, cts = _sealed()
    values = cts.to_pylist()
    values[2] = values[2][:20]
    with pytest.raises(DecryptionError, match="record 3: the ciphertext is truncated"):
        decrypt_batch(KEY, where, ids, pa.array(values, pa.binary()))


def test_a_value_cannot_move_to_another_record_field_table_release_or_key() -> None:
    where, ids, cts = _sealed()
    swapped = pa.array([cts[1].as_py(), cts[0].as_py(), cts[2].as_py()], pa.binary())
    with pytest.raises(DecryptionError, match="record 1"):
        decrypt_batch(KEY, where, ids, swapped)
    for other in (place("R0001", "persons", "kk"), place("R0001", "families", "nik"), place("R0002", "persons", "nik")):
        with pytest.raises(DecryptionError):
            decrypt_batch(KEY, other, ids, cts)
    with pytest.raises(DecryptionError):
        decrypt_batch(os.urandom(32), where, ids, cts)
    assert decrypt_batch(KEY, where, ids, cts).to_pylist()[0] == "3204051507800000"


def test_ids_must_match_the_values() -> None:
    with pytest.raises(VaultError, match="2 record ids for 1 values"):
        encrypt_batch(KEY, "w", pa.array([1, 2]), pa.array(["a"]))
    with pytest.raises(VaultError, match="1 record ids are empty"):
        encrypt_batch(KEY, "w", pa.array([1, None]), pa.array(["a", "b"]))


def test_worker_processes_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cipher, "PARALLEL_MIN", 10)
    ids = pa.array(range(5000), pa.int64())
    values = pa.array([f"NAMA {i}" if i % 7 else None for i in range(5000)])
    with ColumnCipher(workers=2, batch=1000) as parallel:
        cts = parallel.encrypt(KEY, "w", ids, values)
        assert len(cts) == 5000 and cts.null_count == values.null_count
        assert parallel.decrypt(KEY, "w", ids, cts).equals(values)
    assert decrypt_batch(KEY, "w", ids, cts).equals(values)


PEOPLE = pa.table({
    "person_id": pa.array([30, 10, 20], pa.int64()),
    "nik": ["3204051507800003", "3204054203850002", None],
    "full_name": ["BUDI SANTOSO", "SITI NUR AISYAH", "AHMAD FAUZI"],
    "birth_date": pa.array([dt.date(1980, 7, 15), dt.date(1985, 3, 2), None], pa.date32()),
    "decile": [3, 1, 7],
})


def test_a_vault_file_is_read_back_by_record_id_and_holds_no_plaintext(keyring: Keyring, tmp_path: Path) -> None:
    path = tmp_path / "vault" / "persons.parquet"
    with ReleaseVault.create(keyring, "R0001") as vault:
        written = vault.write(path, "persons", PEOPLE, "person_id", ["nik", "full_name", "birth_date"])
    assert (written.records, written.values) == (3, 7)
    raw = path.read_bytes()
    for value in ("3204051507800003", "3204054203850002", "BUDI", "SITI NUR AISYAH", "AHMAD FAUZI", "1980-07-15"):
        assert value.encode() not in raw
    stored = pq.read_table(path)
    assert stored.column_names == ["record_id", "field", "ciphertext"]
    assert stored.column("record_id").to_pylist() == [10, 10, 10, 20, 30, 30, 30]
    with ReleaseVault.open(keyring, "R0001") as vault:
        assert vault.lookup(path, [30, 20], ["nik", "full_name"]) == {
            30: {"nik": "3204051507800003", "full_name": "BUDI SANTOSO"}, 20: {"full_name": "AHMAD FAUZI"}}
        everything = vault.read(path)
        assert everything.num_rows == 7
        assert everything.filter(pa.compute.equal(everything.column("record_id"), 10)).column("value").to_pylist() == \
            ["1985-03-02", "SITI NUR AISYAH", "3204054203850002"]
        with pytest.raises(VaultError, match="holds no field"):
            vault.read(path, fields=["address"])


def test_a_vault_file_of_another_release_or_an_altered_one_is_refused(keyring: Keyring, tmp_path: Path) -> None:
    path = tmp_path / "persons.parquet"
    with ReleaseVault.create(keyring, "R0001") as vault:
        vault.write(path, "persons", PEOPLE, "person_id", ["nik"])
    with ReleaseVault.create(keyring, "R0002") as other, pytest.raises(VaultError, match="belongs to release R0001"):
        other.read(path)
    table = pq.read_table(path)
    cts = table.column("ciphertext").to_pylist()
    cts[0], cts[1] = cts[1], cts[0]
    pq.write_table(table.set_column(2, "ciphertext", pa.array(cts, pa.binary())).replace_schema_metadata(
        table.schema.metadata), path)
    with ReleaseVault.open(keyring, "R0001") as vault, pytest.raises(DecryptionError, match=rf"{path}: record 10"):
        vault.read(path)


def test_a_vault_is_written_from_a_stream_of_batches_in_id_order(keyring: Keyring, tmp_path: Path) -> None:
    ordered = PEOPLE.sort_by("person_id")
    with ReleaseVault.create(keyring, "R0001") as vault:
        streamed = vault.write(tmp_path / "a.parquet", "persons", iter(ordered.to_batches(max_chunksize=1)), "person_id",
                               ["nik", "full_name"])
        whole = vault.write(tmp_path / "b.parquet", "persons", PEOPLE, "person_id", ["nik", "full_name"])
        assert (streamed.records, streamed.values) == (whole.records, whole.values) == (3, 5)
        assert vault.read(tmp_path / "a.parquet").equals(vault.read(tmp_path / "b.parquet"))
        with pytest.raises(VaultError, match="not in person_id order"):
            vault.write(tmp_path / "c.parquet", "persons", iter(PEOPLE.to_batches(max_chunksize=1)), "person_id", ["nik"])
        with pytest.raises(VaultError, match="no column"):
            vault.write(tmp_path / "d.parquet", "persons", PEOPLE, "person_id", ["mother_name"])


def test_empty_tables_and_empty_fields_give_an_empty_vault_that_names_its_release(keyring: Keyring,
                                                                                 tmp_path: Path) -> None:
    nobody = pa.table({"record_key": pa.array([], pa.string()), "raw": pa.array([], pa.string())})
    with ReleaseVault.create(keyring, "R0001") as vault:
        assert vault.write(tmp_path / "q.parquet", "quarantine", nobody, "record_key", ["raw"]).values == 0
        assert vault.read(tmp_path / "q.parquet").num_rows == 0
        assert vault.metadata(tmp_path / "q.parquet")["fields"] == ["raw"]
        assert pq.read_schema(tmp_path / "q.parquet").field("record_id").type == pa.string()
        blank = pa.table({"person_id": [1, 2], "nik": pa.array([None, None], pa.string())})
        assert vault.write(tmp_path / "p.parquet", "persons", blank, "person_id", ["nik"]).values == 0
