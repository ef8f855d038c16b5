"""Per-agency pseudonyms: different per agency, stable, translated back only with the right
agency, entity and key version; anything else is refused, never a wrong id."""

from __future__ import annotations

import base64

import numpy as np
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dtsen.vault.errors import TokenError
from dtsen.vault.keyring import Keyring, TokenKeys
from dtsen.vault.pseudonyms import pseudonyms, translate

KEYS = TokenKeys(1, {1: bytes(range(32))})
IDS = pa.array([1, 2, 3, 1_000_000, 2**40], pa.int64())


def test_pseudonym_known_answer_and_documented_construction() -> None:
    out = pseudonyms(KEYS, "kemensos", pa.array([1], pa.int64()))[0].as_py()
    agency = HKDF(hashes.SHA256(), 32, b"dtsen-pseudonym/1", b"agency\x00kemensos").derive(bytes(range(32)))
    enc = Cipher(algorithms.AES(agency), modes.ECB()).encryptor()
    block = enc.update((1).to_bytes(8, "big") + b"dtsenPSN") + enc.finalize()
    assert out == "1." + base64.b32encode(block).decode().lower().rstrip("=") == "1.mnfqmw6hhlfdy4e37ptto7gjki"


def test_two_agencies_cannot_join_and_each_translates_back() -> None:
    kemensos = pseudonyms(KEYS, "kemensos", IDS)
    bpjs = pseudonyms(KEYS, "bpjs-kesehatan", IDS)
    assert set(kemensos.to_pylist()).isdisjoint(bpjs.to_pylist())
    assert len(set(kemensos.to_pylist())) == len(IDS)
    assert translate(KEYS, "kemensos", kemensos).equals(IDS)
    assert translate(KEYS, "bpjs-kesehatan", bpjs).equals(IDS)
    with pytest.raises(TokenError, match=r"#1 is not a person pseudonym of agency 'kemensos' \(5 such\)"):
        translate(KEYS, "kemensos", bpjs)


def test_pseudonyms_are_stable_and_keep_nulls() -> None:
    again = pseudonyms(KEYS, "kemensos", pa.array([None, 2, 1], pa.int64()))
    first = pseudonyms(KEYS, "kemensos", IDS)
    assert again.to_pylist() == [None, first[1].as_py(), first[0].as_py()]


def test_persons_and_families_are_kept_apart() -> None:
    families = pseudonyms(KEYS, "kemensos", IDS, entity="family")
    assert set(families.to_pylist()).isdisjoint(pseudonyms(KEYS, "kemensos", IDS).to_pylist())
    assert translate(KEYS, "kemensos", families, entity="family").equals(IDS)
    with pytest.raises(TokenError, match="not a person pseudonym"):
        translate(KEYS, "kemensos", families)
    with pytest.raises(TokenError, match="entity must be"):
        pseudonyms(KEYS, "kemensos", IDS, entity="village")


def test_an_altered_pseudonym_is_refused_never_translated_to_another_person() -> None:
    good = pseudonyms(KEYS, "kemensos", IDS).to_pylist()
    rng = np.random.default_rng(7)
    for _ in range(50):
        s = list(good[0])
        pos = int(rng.integers(2, len(s) - 1))
        s[pos] = "a" if s[pos] != "a" else "b"
        with pytest.raises(TokenError, match="#2"):
            translate(KEYS, "kemensos", pa.array([good[1], "".join(s)]))


def test_after_a_token_key_rotation_old_pseudonyms_still_translate(keyring: Keyring) -> None:
    old = pseudonyms(keyring.token_keys(), "kemensos", IDS)
    keyring.add_token_version()
    keys = keyring.token_keys()
    new = pseudonyms(keys, "kemensos", IDS)
    assert new[0].as_py().startswith("2.") and old[0].as_py().startswith("1.")
    mixed = pa.concat_arrays([old.slice(0, 2), new.slice(2)])
    assert translate(keys, "kemensos", mixed).equals(IDS)


def test_bad_agency_ids_and_ids_are_refused() -> None:
    with pytest.raises(TokenError, match="agency id"):
        pseudonyms(KEYS, "kemen sos", IDS)
    with pytest.raises(TokenError, match="must be integers"):
        pseudonyms(KEYS, "kemensos", pa.array(["1"]))
