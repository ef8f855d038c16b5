"""Keyed tokens: HMAC-SHA-256 (RFC 4231 answers), the documented format, normalisation,
stability across releases, rotation with a migration table, and the engine-side UDF."""

from __future__ import annotations

import base64
import datetime as dt
import hmac

import hypothesis.strategies as st
import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given

from dtsen.vault.encoding import decode, encode
from dtsen.vault.errors import TokenError
from dtsen.vault.keyring import Keyring, TokenKeys
from dtsen.vault.tokens import (
    hmac_states,
    normalise,
    token_map,
    token_udf,
    token_versions,
    tokens,
    tokens_per_row,
    tokens_with_key,
)

KEY = bytes(range(32))
KEYS = TokenKeys(1, {1: KEY})


def _mac(key: bytes, prefix: bytes, message: bytes) -> str:
    inner, outer = hmac_states(key, prefix)
    i = inner.copy()
    i.update(message)
    o = outer.copy()
    o.update(i.digest())
    return str(o.hexdigest())


@pytest.mark.parametrize(("key", "data", "expected"), [
    # RFC 4231 test cases 1, 2 and 6 (a key longer than the block size is hashed first)
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
])
def test_hmac_construction_gives_the_rfc_4231_answers(key: bytes, data: bytes, expected: str) -> None:
    assert _mac(key, b"", data) == expected == hmac.new(key, data, "sha256").hexdigest()
    # the prefixed form tokens use is HMAC over kind 0x00 value
    assert _mac(key, b"nik\x00", data) == hmac.new(key, b"nik\x00" + data, "sha256").hexdigest()


def test_token_known_answer_and_documented_formula() -> None:
    out = tokens(KEYS, "nik", pa.array(["3204051507800003"]))
    mac = hmac.new(KEY, b"nik\x003204051507800003", "sha256").digest()[:16]
    assert out[0].as_py() == "1." + base64.b32encode(mac).decode().lower().rstrip("=")
    assert out[0].as_py() == "1.cajbja4yjt3rl2dxupazotfa5i"
    assert tokens(KEYS, "kk", pa.array(["3204051507800003"]))[0].as_py() == "1.dpk42rcmpms7q6t272qw52lq34"
    assert tokens(KEYS, "name", pa.array(["  siti nur   aisyah"]))[0].as_py() == "1.o6f2ajajd6qtnufek6bsrftata"


def test_normalisation_per_kind() -> None:
    assert normalise("nik", pa.array(["3204 0515-0780.0003", "abc", None])).to_pylist() == ["3204051507800003", None, None]
    assert normalise("name", pa.array(["  siti\u00a0 nur\taisyah ", "ﬁTRI", "   "])).to_pylist() == \
        ["SITI NUR AISYAH", "FITRI", None]
    assert normalise("date", pa.array([dt.date(1980, 7, 15)], pa.date32())).to_pylist() == ["1980-07-15"]
    with pytest.raises(TokenError, match="unknown token kind 'email'"):
        normalise("email", pa.array(["x"]))


def test_tokens_are_stable_join_across_tables_and_differ_by_kind_and_key() -> None:
    release_1 = tokens(KEYS, "kk", pa.array(["3204050811180001", "3204050811180002", None]))
    release_2 = tokens(KEYS, "kk", pa.array(["3204 0508 1118 0001"]))
    assert release_1[0] == release_2[0] and release_1[0] != release_1[1] and release_1[2].as_py() is None
    assert tokens(KEYS, "nik", pa.array(["3204050811180001"]))[0] != release_1[0]
    other = TokenKeys(1, {1: bytes(32)})
    assert tokens(other, "kk", pa.array(["3204050811180001"]))[0] != release_1[0]
    assert len(set(tokens(KEYS, "nik", pa.array([f"{3204051507800000 + i}" for i in range(1000)])).to_pylist())) == 1000


def test_token_rotation_versions_and_migration_table(keyring: Keyring) -> None:
    niks = pa.array(["3204051507800003", "3204054203850002", "3204054203850002", None])
    old = tokens(keyring.token_keys(), "nik", niks)
    keyring.add_token_version()
    keys = keyring.token_keys()
    new = tokens(keys, "nik", niks)
    assert token_versions(old.drop_null()).to_pylist() == [1, 1, 1]
    assert token_versions(new.drop_null()).to_pylist() == [2, 2, 2]
    assert set(old.drop_null().to_pylist()).isdisjoint(new.drop_null().to_pylist())
    assert tokens(keys, "nik", niks, version=1).equals(old)  # old tokens can still be made while v1 lives
    table = token_map(keys, "nik", niks, old=1)
    mapping = dict(zip(table.column("old_token").to_pylist(), table.column("new_token").to_pylist(), strict=True))
    assert len(mapping) == 2
    assert [mapping[t] for t in old.drop_null().to_pylist()] == new.drop_null().to_pylist()
    keyring.retire_token_version(1)
    with pytest.raises(TokenError, match="no token key version 1"):
        tokens(keyring.token_keys(), "nik", niks, version=1)


@pytest.mark.parametrize("bad", ["cajbja4yjt3rl2dxupazotfa5i", "1.CAJBJA4YJT3RL2DXUPAZOTFA5I", "1.cajbja4yjt3rl2dxupazotfa5",
                                 "0.cajbja4yjt3rl2dxupazotfa5i", "1.cajbja4yjt3rl2dxupazotfa58", "1.cajbja4yjt3rl2dxupazotfa5j"])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(TokenError, match="#2"):
        token_versions(pa.array(["1.cajbja4yjt3rl2dxupazotfa5i", bad]))


@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=50), st.integers(1, 10**6))
def test_encoding_round_trips(raws: list[bytes], version: int) -> None:
    raw = np.frombuffer(b"".join(raws), dtype=np.uint8).reshape(-1, 16)
    encoded = encode(raw, version)
    assert all(len(s) == len(str(version)) + 27 for s in encoded.to_pylist())
    assert encoded.to_pylist() == [f"{version}." + base64.b32encode(r).decode().lower().rstrip("=") for r in raws]
    versions, back = decode(encoded)
    assert (versions == version).all() and (back == raw).all()


def test_the_engine_udf_gives_the_same_tokens() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"nik": ["3204051507800003", None, "3204 0542 0385 0002", ""]})
    udf = token_udf(KEY, 1, "nik")
    on_engine = con.to_pyarrow(t.mutate(token=udf(t.nik)).select("token")).column("token").combine_chunks()
    assert on_engine.equals(tokens_with_key(KEY, 1, "nik", pa.array(["3204051507800003", None, "3204054203850002", ""])))
    assert on_engine[0].as_py() == "1.cajbja4yjt3rl2dxupazotfa5i"


def test_tokenize_replaces_identifying_columns_on_every_engine(engine, tmp_path) -> None:
    import functools

    from dtsen.vault.tokens import tokenize, tokenized_schema

    people = pa.table({"person_id": pa.array([1, 2, 3], pa.int64()),
                       "nik": ["3204051507800003", None, "3204054203850002"],
                       "full_name": ["Siti  Nur Aisyah", "BUDI", None], "decile": [1, 5, 9]})
    columns = {"nik": "nik", "full_name": "name"}
    schema = tokenized_schema(people.schema, columns)
    assert schema.names == ["person_id", "nik_token", "full_name_token", "decile"]
    out = engine.map_batches(engine.from_arrow(people), functools.partial(tokenize, keys=KEYS, columns=columns),
                             schema, tmp_path / "tokens")
    got = engine.con.to_pyarrow(out.order_by("person_id"))
    assert got.column("nik_token").to_pylist() == ["1.cajbja4yjt3rl2dxupazotfa5i", None,
                                                   tokens(KEYS, "nik", pa.array(["3204054203850002"]))[0].as_py()]
    assert got.column("full_name_token").to_pylist()[0] == "1.o6f2ajajd6qtnufek6bsrftata"
    assert got.column("decile").to_pylist() == [1, 5, 9]


def test_tokens_per_row_take_each_rows_kind() -> None:
    kinds = pa.array(["nik", None, "text", "nik", "date", "name"])
    values = pa.array(["3204051507800003", "SD", "Dusun  Banjar", None, "1980-09-28", "3204051507800003"])
    got = tokens_per_row(KEYS, kinds, values).to_pylist()
    want = [tokens(KEYS, k, pa.array([v])).to_pylist()[0] if k else None
            for k, v in zip(kinds.to_pylist(), values.to_pylist(), strict=True)]
    assert got == want
    assert got[0] == "1.cajbja4yjt3rl2dxupazotfa5i" and got[1] is None and got[3] is None
    assert got[5] != got[0]  # the same digits as a name: another kind, another token
    assert got[2] == tokens(KEYS, "text", pa.array(["DUSUN BANJAR"])).to_pylist()[0]
    with pytest.raises(TokenError, match="kinds for"):
        tokens_per_row(KEYS, kinds.slice(1), values)
    with pytest.raises(TokenError, match="unknown token kind"):
        tokens_per_row(KEYS, pa.array(["nikk"]), pa.array(["1"]))
