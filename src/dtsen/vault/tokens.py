"""Keyed tokens: HMAC-SHA-256 under a secret token key, never a bare hash.

A NIK has about 10^9 plausible values: a plain SHA-256 of it is reversed by trying them all in
minutes. A token is instead

    token = version "." base32( HMAC-SHA-256(token key v, kind 0x00 normalised value)[:16] )

128 bits, written as in `encoding`. Tokens of one kind join across tables (the `kk` of a person
and of a family give the same token) and are stable across releases for as long as the token
key is; the kind keeps a NIK and a KK with the same digits apart. Normalisation, per kind:

    nik, kk, phone    digits only
    name, text        Unicode NFKC, upper case, runs of white space as one space, trimmed
    date              ISO 8601 (YYYY-MM-DD) of a date or timestamp; text is trimmed as given

Empty values (nothing left after normalising) have no token (null).

**Rotation.** `dtsen keys rotate --token` adds a token key version; new tokens carry it. Tokens
made under the old version stay readable as such (their version says which key made them), and
`token_map` gives the migration table from old to new tokens, computed from the plain values
(which the registry holds in its vault). `dtsen keys retire-token V` destroys the old version once
every holder of old tokens has migrated.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.vault.encoding import BYTES, decode, encode
from dtsen.vault.errors import TokenError
from dtsen.vault.keyring import TokenKeys

Kind = Literal["nik", "kk", "phone", "name", "text", "date"]
KINDS: tuple[str, ...] = ("nik", "kk", "phone", "name", "text", "date")
_BLOCK = 64  # SHA-256 block size, for the HMAC pads (RFC 2104)


def normalise(kind: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The value a token is made of (see the module docstring); null where nothing is left."""
    if kind not in KINDS:
        raise TokenError(f"unknown token kind {kind!r}; known: {', '.join(KINDS)}")
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if kind == "date" and (pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type)):
        arr = pc.cast(pc.cast(arr, pa.date32()), pa.string())
    elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    if kind in ("nik", "kk", "phone"):
        arr = pc.replace_substring_regex(arr, r"[^0-9]", "")
    elif kind in ("name", "text"):
        arr = pc.utf8_upper(pc.utf8_normalize(arr, "NFKC"))
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
    else:
        arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.scalar(None, arr.type), arr)


def hmac_states(key: bytes, prefix: bytes = b"") -> tuple[Any, Any]:
    """HMAC-SHA-256 (RFC 2104) split into its inner and outer hash states, the inner one already
    holding `prefix`: each value then costs two state copies and two short updates."""
    k = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    k = k.ljust(_BLOCK, b"\x00")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    inner.update(prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))
    return inner, outer


def digests(key: bytes, kind: str, values: pa.Array) -> np.ndarray:
    """(n, 16) HMAC-SHA-256 prefixes of normalised, non-null string values."""
    inner, outer = hmac_states(key, kind.encode("ascii") + b"\x00")
    icopy, ocopy = inner.copy, outer.copy

    def one(v: bytes) -> bytes:
        i = icopy()
        i.update(v)
        o = ocopy()
        o.update(i.digest())
        return o.digest()[:BYTES]

    large = pa.types.is_large_string(values.type)
    offs = np.frombuffer(values.buffers()[1], dtype=np.int64 if large else np.int32)[
        values.offset:values.offset + len(values) + 1].tolist()
    data = values.buffers()[2].to_pybytes() if values.buffers()[2] is not None else b""
    raw = b"".join([one(data[s:e]) for s, e in itertools.pairwise(offs)])
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), BYTES)


def tokens_with_key(key: bytes, version: int, kind: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Tokens of `values` under one token key version; null where the value is empty."""
    norm = normalise(kind, values)
    valid = norm.is_valid()
    present = norm.filter(valid) if norm.null_count else norm
    out = encode(digests(key, kind, present), version)
    if not norm.null_count:
        return out
    positions = pc.subtract(pc.cumulative_sum(pc.cast(valid, pa.int64())), 1)
    return pc.take(out, pc.if_else(valid, positions, pa.scalar(None, pa.int64())))


def tokens(keys: TokenKeys, kind: str, values: pa.Array | pa.ChunkedArray, version: int | None = None) -> pa.Array:
    """Tokens of `values` under the active token key (or the version given)."""
    v = keys.active if version is None else version
    return tokens_with_key(keys.key(v), v, kind, values)


def tokens_per_row(keys: TokenKeys, kinds: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Tokens of `values` where each row names its own kind (`kinds`, null: no token), under the
    active token key: one `tokens` call per kind present, the results put back in row order."""
    kind_arr = kinds.combine_chunks() if isinstance(kinds, pa.ChunkedArray) else kinds
    value_arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if len(kind_arr) != len(value_arr):
        raise TokenError(f"{len(kind_arr)} kinds for {len(value_arr)} values")
    positions: list[np.ndarray] = []
    parts: list[pa.Array] = []
    for kind in pc.unique(kind_arr.drop_null()).to_pylist():
        rows = np.flatnonzero(pc.fill_null(pc.equal(kind_arr, kind), False).to_numpy(zero_copy_only=False))
        positions.append(rows)
        parts.append(tokens(keys, kind, value_arr.take(pa.array(rows))).cast(pa.string()))
    rest = np.flatnonzero(kind_arr.is_null().to_numpy(zero_copy_only=False))
    positions.append(rest)
    parts.append(pa.nulls(len(rest), pa.string()))
    order = np.argsort(np.concatenate(positions), kind="stable")
    return pa.concat_arrays(parts).take(pa.array(order))


def tokenized_schema(schema: pa.Schema, columns: Mapping[str, str], suffix: str = "_token") -> pa.Schema:
    """The schema `tokenize` gives: each named column replaced, in place, by `<name><suffix>` text."""
    fields = [pa.field(f"{f.name}{suffix}", pa.string()) if f.name in columns else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def tokenize(batch: pa.RecordBatch, keys: TokenKeys, columns: Mapping[str, str],
             suffix: str = "_token") -> pa.RecordBatch:
    """Replace each identifying column by its token (`{"nik": "nik", "full_name": "name"}`:
    column -> kind; `nik` becomes `nik_token`). Picklable with `functools.partial`, for
    `Engine.map_batches`, which runs it on DuckDB's stream or on Spark's executors."""
    missing = [c for c in columns if c not in batch.schema.names]
    if missing:
        raise TokenError(f"no column(s) {', '.join(missing)} to tokenize")
    arrays = [tokens(keys, columns[name], batch.column(i)) if name in columns else batch.column(i)
              for i, name in enumerate(batch.schema.names)]
    return pa.RecordBatch.from_arrays(arrays, schema=tokenized_schema(batch.schema, columns, suffix))


def token_versions(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The key version each token was made with (checks the format)."""
    versions, _ = decode(values)
    return pa.array(versions, pa.int64())


def token_map(keys: TokenKeys, kind: str, values: pa.Array | pa.ChunkedArray, old: int, new: int | None = None) -> pa.Table:
    """The migration table of a token key rotation: old token -> new token, one row per
    distinct non-empty value (computed from the plain values, which only the registry holds)."""
    distinct = pc.unique(normalise(kind, values)).drop_null()
    return pa.table({"old_token": tokens(keys, kind, distinct, version=old),
                     "new_token": tokens(keys, kind, distinct, version=new)})


def token_udf(key: bytes, version: int, kind: str) -> Callable[[Any], Any]:
    """An Ibis scalar UDF computing `tokens_with_key` on the engine (DuckDB runs it in process,
    Spark >= 3.5 in its Python workers, which then receive the token key with the UDF)."""
    import ibis

    if kind not in KINDS:
        raise TokenError(f"unknown token kind {kind!r}; known: {', '.join(KINDS)}")

    def fn(values: str) -> str:  # pyarrow UDF: receives and returns Arrow arrays
        # engines expect no nulls back from a non-null input: empty -> "", made null again below
        return pc.fill_null(tokens_with_key(key, version, kind, values), "")

    fn.__name__ = f"dtsen_token_{kind}_v{version}"
    udf = ibis.udf.scalar.pyarrow(fn)
    return lambda column: udf(column).nullif("")
