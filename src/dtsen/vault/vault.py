"""A release's vault: its identifying values, encrypted, one Parquet file per table.

    vault/<table>.parquet     record_id, field, ciphertext  (sorted by record_id, then field)

One row per non-empty value (an empty value has no row). The ciphertext is AES-256-GCM under
the column's subkey of the release's data key (see `cipher`), bound to its record id. The file's
metadata names the release, table and fields; row groups are small (64k rows) so that a
lookup by record id reads only the groups whose id range holds it.

`ReleaseVault.create` makes the release's data key (wrapped into the keyring) when the release
is written; `ReleaseVault.open` unwraps it for the service, which calls `read` or `lookup` for
an authorised request, and audits it. After crypto-shredding, `open` raises `KeyShreddedError`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.vault.cipher import ColumnCipher, concat, place
from dtsen.vault.errors import DecryptionError, VaultError
from dtsen.vault.keyring import Keyring

META_KEY = b"dtsen.vault"
ROW_GROUP = 65_536
BATCH = 500_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class VaultWrite:
    path: Path
    records: int
    values: int
    seconds: float


def _name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise VaultError(f"vault {kind} {value!r} must be lower-case letters, digits and '_'")
    return value


class ReleaseVault:
    """Encrypts and decrypts one release's identifying values with its data key."""

    def __init__(self, release_id: str, data_key: bytes, workers: int = 1) -> None:
        self.release_id = release_id
        self._key = data_key
        self._cipher = ColumnCipher(workers=workers)

    @classmethod
    def create(cls, keyring: Keyring, release_id: str, workers: int = 1, replace: bool = False) -> ReleaseVault:
        """A new data key for `release_id`, wrapped into the keyring."""
        return cls(release_id, keyring.create_data_key(release_id, replace=replace), workers)

    @classmethod
    def open(cls, keyring: Keyring, release_id: str, workers: int = 1) -> ReleaseVault:
        return cls(release_id, keyring.data_key(release_id), workers)

    def __enter__(self) -> ReleaseVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._cipher.close()

    # -- columns -------------------------------------------------------------------------------
    def encrypt(self, table: str, field: str, ids: pa.Array, values: pa.Array) -> pa.Array:
        return self._cipher.encrypt(self._key, place(self.release_id, _name("table", table), _name("field", field)),
                                    ids, values)

    def decrypt(self, table: str, field: str, ids: pa.Array, ciphertexts: pa.Array) -> pa.Array:
        return self._cipher.decrypt(self._key, place(self.release_id, _name("table", table), _name("field", field)),
                                    ids, ciphertexts)

    # -- tables --------------------------------------------------------------------------------
    def seal(self, table: str, records: pa.Table, id_column: str, fields: Sequence[str]) -> pa.Table:
        """The long vault table (record_id, field, ciphertext) of `fields` of `records`, in the
        order of the records (already sorted by id), then of the fields."""
        if not fields:
            raise VaultError(f"no fields given to put in the vault of table {table!r}")
        ids = records.column(id_column).combine_chunks()
        order = sorted(range(len(fields)), key=lambda j: fields[j])
        cts, rows, codes = [], [], []
        for j in order:
            values = records.column(fields[j]).combine_chunks()
            keep = values.is_valid()
            present = np.flatnonzero(keep.to_numpy(zero_copy_only=False)) if values.null_count else np.arange(len(values))
            cts.append(self.encrypt(table, fields[j], ids.take(present), values.take(present)))
            rows.append(present)
            codes.append(np.full(len(present), j, dtype=np.int32))
        # row order (record, field) from integer keys: one argsort, one take of the ciphertexts
        row = np.concatenate(rows)
        code = np.concatenate(codes)
        perm = np.lexsort((np.argsort(order)[code], row))
        field = pa.DictionaryArray.from_arrays(pa.array(code[perm], pa.int32()), pa.array(list(fields), pa.string()))
        return pa.table({"record_id": ids.take(pa.array(row[perm])), "field": field.cast(pa.string()),
                         "ciphertext": concat(cts).take(pa.array(perm))})

    def write(self, path: Path, table: str, records: pa.Table, id_column: str, fields: Sequence[str]) -> VaultWrite:
        """Write the vault file of `table` (records sorted by id, processed in batches)."""
        t0 = time.perf_counter()
        missing = [c for c in (id_column, *fields) if c not in records.column_names]
        if missing:
            raise VaultError(f"table {table!r} has no column(s) {', '.join(missing)} for the vault")
        ids = records.column(id_column)
        if ids.null_count:
            raise VaultError(f"table {table!r}: {ids.null_count} rows have no {id_column}; every vault row needs one")
        records = records.select([id_column, *fields])
        if records.num_rows > 1 and not pc.all(pc.greater_equal(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py():
            records = records.sort_by(id_column)
        meta = {"format": "dtsen-vault/1", "release_id": self.release_id, "table": table, "id_column": id_column,
                "fields": list(fields)}
        path.parent.mkdir(parents=True, exist_ok=True)
        values = 0
        writer: pq.ParquetWriter | None = None
        try:
            for start in range(0, max(records.num_rows, 1), BATCH):
                part = self.seal(table, records.slice(start, BATCH), id_column, fields)
                if writer is None:
                    schema = part.schema.with_metadata({META_KEY: json.dumps(meta).encode()})
                    writer = pq.ParquetWriter(path, schema, use_dictionary=["field"], compression={
                        "record_id": "zstd", "field": "zstd", "ciphertext": "none"})
                writer.write_table(part.cast(writer.schema), row_group_size=ROW_GROUP)
                values += part.num_rows
        finally:
            if writer is not None:
                writer.close()
        return VaultWrite(path, records.num_rows, values, time.perf_counter() - t0)

    def metadata(self, path: Path) -> dict[str, Any]:
        if not path.exists():
            raise VaultError(f"no vault file at {path}")
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
        if raw is None:
            raise VaultError(f"{path} is not a dtsen vault file")
        meta: dict[str, Any] = json.loads(raw)
        if meta.get("release_id") != self.release_id:
            raise VaultError(f"{path} belongs to release {meta.get('release_id')}, not {self.release_id}")
        return meta

    def read(self, path: Path, ids: Sequence[Any] | pa.Array | None = None,
             fields: Sequence[str] | None = None) -> pa.Table:
        """Decrypted (record_id, field, value) rows, for the given record ids and fields (all by default)."""
        meta = self.metadata(path)
        filters: list[Any] = []
        if ids is not None:
            filters.append(("record_id", "in", pa.array(ids) if not isinstance(ids, pa.Array) else ids))
        if fields is not None:
            unknown = [f for f in fields if f not in meta["fields"]]
            if unknown:
                raise VaultError(f"{path} holds no field(s) {', '.join(unknown)}; it holds {', '.join(meta['fields'])}")
            filters.append(("field", "in", list(fields)))
        rows = pq.read_table(path, filters=filters or None)
        out = []
        for field in pc.unique(rows.column("field")).to_pylist():
            part = rows.filter(pc.equal(rows.column("field"), field))
            try:
                values = self.decrypt(meta["table"], field, part.column("record_id"), part.column("ciphertext"))
            except DecryptionError as exc:
                raise DecryptionError(f"{path}: {exc}") from None
            out.append(pa.table({"record_id": part.column("record_id"), "field": part.column("field"),
                                 "value": values}))
        if not out:
            return pa.table({"record_id": pa.array([], rows.schema.field("record_id").type),
                             "field": pa.array([], pa.string()), "value": pa.array([], pa.string())})
        table = pa.concat_tables(out)
        return table.take(pc.sort_indices(table, sort_keys=[("record_id", "ascending"), ("field", "ascending")]))

    def lookup(self, path: Path, ids: Sequence[Any], fields: Sequence[str] | None = None) -> dict[Any, dict[str, str]]:
        """{record_id: {field: value}} for a few records (the service's decrypt-by-id)."""
        out: dict[Any, dict[str, str]] = {i: {} for i in ids}
        for row in self.read(path, ids, fields).to_pylist():
            out[row["record_id"]][row["field"]] = row["value"]
        return out

