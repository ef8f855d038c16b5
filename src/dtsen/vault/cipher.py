"""AES-256-GCM over Arrow columns: one value, one ciphertext, bound to its record.

Each value is encrypted on its own with a random 96-bit nonce and stored as
`nonce (12 bytes) || ciphertext || tag (16 bytes)`. The key is not the release's data key itself
but a subkey derived from it per place with HKDF-SHA-256, so that no single AES key ever sees
more than one column's values (a national release has ~289 million values per column, far below
the 2^32 random-nonce limit per key). The subkey binds a value to its place, the additional
data binds it to its record:

    subkey = HKDF-SHA-256(data key, salt "dtsen-vault/1 column subkey",
                          info "dtsen-vault/1" 0x00 release 0x00 table 0x00 field)
    aad    = "i" + record id as 8-byte big-endian integer, or "s" + record id as UTF-8 text

A value moved to another record, field, table or release, a changed byte of nonce, ciphertext
or tag, or the wrong key all fail the tag check with `DecryptionError`, never garbage.

The per-value work is one call into OpenSSL (through `cryptography`); everything around it is
done on whole Arrow buffers with numpy. Large columns are split across `workers` processes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dtsen.vault.errors import DecryptionError, VaultError
from dtsen.vault.master import NONCE_BYTES

TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES
FORMAT = "dtsen-vault/1"
SUBKEY_SALT = b"dtsen-vault/1 column subkey"
PARALLEL_MIN = 200_000  # below this many values one process is quicker than shipping them to others


def hkdf(key: bytes, info: str, salt: bytes) -> bytes:
    """HKDF-SHA-256 (RFC 5869): a 32-byte key for one purpose from a master secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info.encode("utf-8")).derive(key)


def place(release_id: str, table: str, field: str) -> str:
    """Where a value lives: the HKDF info of its column's subkey."""
    return "\x00".join((FORMAT, release_id, table, field))


def subkey(data_key: bytes, where: str) -> bytes:
    return hkdf(data_key, where, SUBKEY_SALT)


def _as_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _buffers(arr: pa.Array) -> tuple[bytes, list[int]]:
    """A string or binary array's data bytes and its n+1 offsets (the array's own slice)."""
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if large else np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return (data.to_pybytes() if data is not None else b""), offsets.tolist()


def _slices(data: bytes, starts: list[int], ends: list[int]) -> list[bytes]:
    return [data[s:e] for s, e in zip(starts, ends, strict=True)]


def _fixed(data: bytes, width: int) -> list[bytes]:
    return [data[i:i + width] for i in range(0, len(data), width)]


def _id_bytes(ids: pa.Array) -> list[bytes]:
    """Each record id as bytes for the additional data ('i' + int64 big-endian, or 's' + UTF-8)."""
    if pa.types.is_integer(ids.type):
        tagged = np.empty((len(ids), 9), dtype=np.uint8)
        tagged[:, 0] = ord("i")
        tagged[:, 1:] = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=">i8").view(np.uint8).reshape(-1, 8)
        return _fixed(tagged.tobytes(), 9)
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        data, off = _buffers(ids)
        return [b"s" + s for s in _slices(data, off[:-1], off[1:])]
    raise VaultError(f"record ids must be integers or text, not {ids.type}")


def _binary_array(parts: Iterator[bytes], lengths: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = b"".join(parts)
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(pa.binary(), len(lengths), [None, pa.py_buffer(offsets.astype(np.int32)),
                                                                    pa.py_buffer(data)])
    return pa.Array.from_buffers(pa.large_binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _check_ids(ids: pa.Array, n: int) -> None:
    if len(ids) != n:
        raise VaultError(f"{len(ids)} record ids for {n} values")
    if ids.null_count:
        raise VaultError(f"{ids.null_count} record ids are empty; every encrypted value needs its record's id")


def encrypt_batch(key: bytes, where: str, ids: pa.Array, values: pa.Array) -> pa.Array:
    """Encrypt non-null values (any type, as text) under the subkey of `where`; nulls stay null."""
    values = _as_arrow(values)
    ids = _as_arrow(ids)
    _check_ids(ids, len(values))
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    valid = None
    if values.null_count:
        valid = values.is_valid()
        values, ids = values.filter(valid), ids.filter(valid)
    n = len(values)
    aead = AESGCM(subkey(key, where))
    aads = _id_bytes(ids)
    data, off = _buffers(values)
    plain = _slices(data, off[:-1], off[1:])
    nonce_bytes = os.urandom(NONCE_BYTES * n)
    nonces = _fixed(nonce_bytes, NONCE_BYTES)
    sealed = list(map(aead.encrypt, nonces, plain, aads))
    lengths = np.diff(np.asarray(off, dtype=np.int64)) + OVERHEAD
    out = _binary_array(itertools.chain.from_iterable(zip(nonces, sealed, strict=True)), lengths)
    if valid is None:
        return out
    positions = pc.subtract(pc.cumulative_sum(pc.cast(valid, pa.int64())), 1)
    return pc.take(out, pc.if_else(valid, positions, pa.scalar(None, pa.int64())))


def decrypt_batch(key: bytes, where: str, ids: pa.Array, ciphertexts: pa.Array) -> pa.Array:
    """The text of each ciphertext; `DecryptionError` naming the first failing record otherwise."""
    cts = _as_arrow(ciphertexts)
    ids = _as_arrow(ids)
    _check_ids(ids, len(cts))
    valid = None
    if cts.null_count:
        valid = cts.is_valid()
        cts, ids = cts.filter(valid), ids.filter(valid)
    aead = AESGCM(subkey(key, where))
    idb = _id_bytes(ids)
    data, off = _buffers(cts)
    starts, ends = off[:-1], off[1:]
    mids = [s + NONCE_BYTES for s in starts]
    short = np.flatnonzero(np.diff(np.asarray(off, dtype=np.int64)) < OVERHEAD)
    if len(short):
        raise DecryptionError(f"{_record(idb[int(short[0])])}: the ciphertext is truncated ({len(short)} value(s))")
    nonces = _slices(data, starts, mids)
    bodies = _slices(data, mids, ends)
    try:
        plain = list(map(aead.decrypt, nonces, bodies, idb))
    except InvalidTag:
        bad = next(j for j in range(len(idb)) if not _opens(aead, nonces[j], bodies[j], idb[j]))
        raise DecryptionError(
            f"{_record(idb[bad])}, field {where.split(chr(0))[-1]!r}: the value fails its AES-GCM tag check "
            "(altered, moved from another record or field, or another key)"
        ) from None
    lengths = np.fromiter(map(len, plain), dtype=np.int64, count=len(plain))
    out = _binary_array(iter(plain), lengths)
    out = out.cast(pa.string() if out.type == pa.binary() else pa.large_string())
    if valid is None:
        return out
    positions = pc.subtract(pc.cumulative_sum(pc.cast(valid, pa.int64())), 1)
    return pc.take(out, pc.if_else(valid, positions, pa.scalar(None, pa.int64())))


def _large(t: pa.DataType) -> pa.DataType:
    return pa.large_binary() if pa.types.is_binary(t) or pa.types.is_large_binary(t) else pa.large_string()


def concat(parts: list[pa.Array]) -> pa.Array:
    """One array from batches, switching to 64-bit offsets past 2 GiB."""
    if len({p.type for p in parts}) > 1:
        parts = [p.cast(_large(p.type)) for p in parts]
    chunked = pa.chunked_array(parts)
    try:
        return chunked.combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowCapacityError):
        return chunked.cast(_large(parts[0].type)).combine_chunks()


def _opens(aead: AESGCM, nonce: bytes, body: bytes, aad: bytes) -> bool:
    try:
        aead.decrypt(nonce, body, aad)
        return True
    except InvalidTag:
        return False


def _record(id_bytes: bytes) -> str:
    if id_bytes[:1] == b"i":
        return f"record {int.from_bytes(id_bytes[1:], 'big', signed=True)}"
    return f"record {id_bytes[1:].decode('utf-8', 'replace')!r}"


class ColumnCipher:
    """Encrypts and decrypts whole columns, in batches spread over worker processes."""

    def __init__(self, workers: int = 1, batch: int = 50_000) -> None:
        self.workers = max(1, workers)
        self.batch = batch
        self._pool: Executor | None = None

    def __enter__(self) -> ColumnCipher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _executor(self) -> Executor:
        if self._pool is None:
            # spawn, never fork: the parent may run DuckDB or Spark threads
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        return self._pool

    def _run(self, fn: Callable[[bytes, str, pa.Array, pa.Array], pa.Array], key: bytes, where: str,
             ids: pa.Array, values: pa.Array) -> pa.Array:
        ids, values = _as_arrow(ids), _as_arrow(values)
        n = len(values)
        if self.workers == 1 or n < PARALLEL_MIN:
            return fn(key, where, ids, values)
        step = max(self.batch, -(-n // (self.workers * 2)))  # equal shares: no worker idles at the end
        bounds = [(i, min(step, n - i)) for i in range(0, n, step)]
        parts: list[pa.Array] = list(self._executor().map(
            fn, itertools.repeat(key), itertools.repeat(where),
            (ids.slice(i, m) for i, m in bounds), (values.slice(i, m) for i, m in bounds)))
        return concat(parts)

    def encrypt(self, key: bytes, where: str, ids: pa.Array, values: pa.Array) -> pa.Array:
        return self._run(encrypt_batch, key, where, ids, values)

    def decrypt(self, key: bytes, where: str, ids: pa.Array, ciphertexts: pa.Array) -> pa.Array:
        return self._run(decrypt_batch, key, where, ids, ciphertexts)
