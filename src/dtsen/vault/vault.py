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
from collections.abc import Iterable, Sequence
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


def _ascending(ids: pa.Array | pa.ChunkedArray) -> bool:
    if len(ids) < 2:
        return True
    return bool(pc.all(pc.greater_equal(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py())


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

    def write(self, path: Path, table: str, records: pa.Table | Iterable[pa.Table | pa.RecordBatch], id_column: str,
              fields: Sequence[str]) -> VaultWrite:
        """Write the vault file of `table`. `records` is a table (sorted here when needed) or a
        stream of batches in record-id order (as an engine streams a sorted query), so that a
        national table is never held whole in memory."""
        t0 = time.perf_counter()
        if isinstance(records, pa.Table):
            ids = records.column(id_column) if id_column in records.column_names else None
            if ids is not None and not ids.null_count and not _ascending(ids):
                records = records.sort_by(id_column)
            stream: Iterable[pa.Table | pa.RecordBatch] = [records]
        else:
            stream = records
        meta = {"format": "dtsen-vault/1", "release_id": self.release_id, "table": table, "id_column": id_column,
                "fields": list(fields)}
        path.parent.mkdir(parents=True, exist_ok=True)
        count = values = 0
        last: Any = None
        id_type: pa.DataType = pa.int64()
        writer: pq.ParquetWriter | None = None
        try:
            for batch in stream:
                part = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                missing = [c for c in (id_column, *fields) if c not in part.column_names]
                if missing:
                    raise VaultError(f"table {table!r} has no column(s) {', '.join(missing)} for the vault")
                ids = part.column(id_column)
                id_type = ids.type
                if ids.null_count:
                    raise VaultError(f"table {table!r}: {ids.null_count} rows have no {id_column}; "
                                     "every vault row needs one")
                if part.num_rows == 0:
                    continue
                if not _ascending(ids) or (last is not None and pc.min(ids).as_py() < last):
                    raise VaultError(f"table {table!r}: the batches are not in {id_column} order; sort the query")
                last = pc.max(ids).as_py()
                part = part.select([id_column, *fields])
                for start in range(0, part.num_rows, BATCH):
                    sealed = self.seal(table, part.slice(start, BATCH), id_column, fields)
                    if writer is None:
                        writer = self._writer(path, sealed.schema, meta)
                    writer.write_table(sealed.cast(writer.schema), row_group_size=ROW_GROUP)
                    values += sealed.num_rows
                count += part.num_rows
            if writer is None:  # no rows: an empty file that still names its release, table and fields
                empty = self.seal(table, pa.table({id_column: pa.array([], id_type),
                                                   **{f: pa.array([], pa.string()) for f in fields}}), id_column, fields)
                writer = self._writer(path, empty.schema, meta)
                writer.write_table(empty.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        return VaultWrite(path, count, values, time.perf_counter() - t0)

    @staticmethod
    def _writer(path: Path, schema: pa.Schema, meta: dict[str, Any]) -> pq.ParquetWriter:
        return pq.ParquetWriter(path, schema.with_metadata({META_KEY: json.dumps(meta).encode()}),
                                use_dictionary=["field"],
                                compression={"record_id": "zstd", "field": "zstd", "ciphertext": "none"})

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
        ids_col = rows.column("record_id").combine_chunks()
        cts = rows.column("ciphertext").combine_chunks()
        field_col = rows.column("field").combine_chunks()
        codes = pc.dictionary_encode(field_col)
        names = codes.dictionary.to_pylist()
        code = codes.indices.to_numpy(zero_copy_only=False)
        # decrypt field by field (one subkey each), then put the values back in the file's order
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(names) + 1))
        parts = []
        for j, field in enumerate(names):
            take = pa.array(order[bounds[j]:bounds[j + 1]])
            try:
                parts.append(self.decrypt(meta["table"], field, ids_col.take(take), cts.take(take)))
            except DecryptionError as exc:
                raise DecryptionError(f"{path}: {exc}") from None
        values = concat(parts).take(pa.array(np.argsort(order))) if parts else pa.array([], pa.string())
        return pa.table({"record_id": ids_col, "field": field_col, "value": values})

    def lookup(self, path: Path, ids: Sequence[Any], fields: Sequence[str] | None = None) -> dict[Any, dict[str, str]]:
        """{record_id: {field: value}} for a few records (the service's decrypt-by-id)."""
        out: dict[Any, dict[str, str]] = {i: {} for i in ids}
        for row in self.read(path, ids, fields).to_pylist():
            out[row["record_id"]][row["field"]] = row["value"]
        return out

