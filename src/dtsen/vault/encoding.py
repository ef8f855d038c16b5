"""How tokens and pseudonyms are written: `<key version>.<26 base32 characters>`.

The 128-bit value is written in RFC 4648 base32 with the lowercase alphabet `a-z2-7` and no
padding (26 characters; the last one carries 3 bits and 2 zero bits), after the version of the
key that made it and a dot: `1.mfrggzdfmztwq2lknnwg23tpoa`. The version lets a token outlive a
key rotation: a reader knows which key made it, and a migration table maps old to new.

Encoding and decoding are numpy operations on whole arrays, never a loop over values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.vault.errors import TokenError

ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)
WIDTH = 26
BYTES = 16
_PATTERN = r"^(?P<version>[1-9][0-9]{0,8})\.(?P<body>[a-z2-7]{26})$"
_DECODE = np.full(256, 255, dtype=np.uint8)
_DECODE[ALPHABET] = np.arange(32, dtype=np.uint8)
_WEIGHTS = np.array([16, 8, 4, 2, 1], dtype=np.uint8)


def encode(raw: np.ndarray, version: int) -> pa.Array:
    """(n, 16) uint8 -> n strings '<version>.<base32>'."""
    n = raw.shape[0]
    bits = np.zeros((n, WIDTH * 5), dtype=np.uint8)
    bits[:, : BYTES * 8] = np.unpackbits(raw, axis=1)
    digits = bits.reshape(n, WIDTH, 5) @ _WEIGHTS
    prefix = np.frombuffer(f"{version}.".encode("ascii"), dtype=np.uint8)
    chars = np.empty((n, len(prefix) + WIDTH), dtype=np.uint8)
    chars[:, : len(prefix)] = prefix
    chars[:, len(prefix):] = ALPHABET[digits]
    width = chars.shape[1]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32 if (n + 1) * width < 2**31 else np.int64)
    kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())])


def decode(values: pa.Array, what: str = "token") -> tuple[np.ndarray, np.ndarray]:
    """n strings -> (versions int64 (n,), raw (n, 16) uint8); `TokenError` naming the first bad one."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        raise TokenError(f"{values.null_count} {what}(s) are empty")
    parts = pc.extract_regex(pc.cast(values, pa.string()), _PATTERN)
    if parts.null_count:
        bad = int(pc.index(parts.is_valid(), False).as_py())
        raise TokenError(f"{what} #{bad + 1} is not '<version>.<26 base32 characters>'")
    versions = pc.cast(parts.field("version"), pa.int64()).to_numpy()
    body = parts.field("body")
    offs = np.frombuffer(body.buffers()[1], dtype=np.int32)[body.offset:body.offset + len(body) + 1]
    flat = np.frombuffer(body.buffers()[2], dtype=np.uint8)[offs[0]:offs[-1]].reshape(len(body), WIDTH)
    digits = _DECODE[flat]
    bits = np.unpackbits(digits[:, :, None], axis=2)[:, :, 3:].reshape(len(body), WIDTH * 5)
    if bits[:, BYTES * 8:].any():
        bad = int(np.flatnonzero(bits[:, BYTES * 8:].any(axis=1))[0])
        raise TokenError(f"{what} #{bad + 1} is not a valid encoding (its last character)")
    return versions, np.packbits(bits[:, : BYTES * 8], axis=1)
