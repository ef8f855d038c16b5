"""Per-agency pseudonyms: one per person (or family), different for every agency, reversible
only by the registry.

An agency's extract carries, instead of `person_id`, the pseudonym

    agency key  = HKDF-SHA-256(token key v, salt "dtsen-pseudonym/1", info "agency" 0x00 agency id)
    pseudonym   = version "." base32( AES-256_agency-key( id as 8-byte big-endian || entity tag ) )

The single AES block is a keyed pseudorandom permutation of (id, tag): two agencies' pseudonyms
of one person are unrelated values, so their extracts cannot be joined without the registry,
while the registry inverts a pseudonym exactly with one block decryption (no lookup table),
and the 8-byte tag (`dtsenPSN` for persons, `dtsenFAM` for families) tells a pseudonym of another
agency, entity or a damaged one from a real one. Pseudonyms are stable across releases, since
ids are, for as long as the token key version is.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dtsen.vault.cipher import hkdf
from dtsen.vault.encoding import BYTES, decode, encode
from dtsen.vault.errors import TokenError
from dtsen.vault.keyring import TokenKeys

TAGS = {"person": b"dtsenPSN", "family": b"dtsenFAM"}
_AGENCY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def agency_key(token_key: bytes, agency: str) -> bytes:
    if not _AGENCY.match(agency):
        raise TokenError(f"agency id {agency!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return hkdf(token_key, "agency\x00" + agency, b"dtsen-pseudonym/1")


def _tag(entity: str) -> bytes:
    if entity not in TAGS:
        raise TokenError(f"entity must be one of {', '.join(TAGS)}, not {entity!r}")
    return TAGS[entity]


def _block_cipher(key: bytes) -> Cipher[modes.ECB]:
    # ECB here is the raw block permutation applied to independent one-block values, not a
    # mode for a longer message: each pseudonym is exactly one AES block.
    return Cipher(algorithms.AES(key), modes.ECB())


def pseudonyms(keys: TokenKeys, agency: str, ids: pa.Array | pa.ChunkedArray, entity: str = "person",
               version: int | None = None) -> pa.Array:
    """The agency's pseudonym of each id (nulls stay null)."""
    v = keys.active if version is None else version
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if not pa.types.is_integer(arr.type):
        raise TokenError(f"ids must be integers, not {arr.type}")
    valid = arr.is_valid()
    present = arr.drop_null()
    blocks = np.empty((len(present), BYTES), dtype=np.uint8)
    blocks[:, :8] = np.asarray(present.to_numpy(zero_copy_only=False), dtype=">i8").view(np.uint8).reshape(-1, 8)
    blocks[:, 8:] = np.frombuffer(_tag(entity), dtype=np.uint8)
    enc = _block_cipher(agency_key(keys.key(v), agency)).encryptor()
    raw = np.frombuffer(enc.update(blocks.tobytes()) + enc.finalize(), dtype=np.uint8).reshape(-1, BYTES)
    out = encode(raw, v)
    if not arr.null_count:
        return out
    positions = pc.subtract(pc.cumulative_sum(pc.cast(valid, pa.int64())), 1)
    return pc.take(out, pc.if_else(valid, positions, pa.scalar(None, pa.int64())))


def translate(keys: TokenKeys, agency: str, values: pa.Array | pa.ChunkedArray, entity: str = "person") -> pa.Array:
    """The ids behind an agency's pseudonyms (for an authorised request); `TokenError` naming the
    first pseudonym that is not this agency's (another agency's, another entity's, or altered)."""
    versions, raw = decode(values, "pseudonym")
    ids = np.empty(len(raw), dtype=np.int64)
    tag = np.frombuffer(_tag(entity), dtype=np.uint8)
    for v in np.unique(versions).tolist():
        rows = np.flatnonzero(versions == v)
        dec = _block_cipher(agency_key(keys.key(int(v)), agency)).decryptor()
        plain = np.frombuffer(dec.update(raw[rows].tobytes()) + dec.finalize(), dtype=np.uint8).reshape(-1, BYTES)
        wrong = np.flatnonzero((plain[:, 8:] != tag).any(axis=1))
        if len(wrong):
            raise TokenError(f"pseudonym #{int(rows[wrong[0]]) + 1} is not a {entity} pseudonym of agency {agency!r} "
                             f"({len(wrong)} such): another agency's, or altered")
        ids[rows] = plain[:, :8].copy().view(">i8").reshape(-1)
    return pa.array(ids, pa.int64())
