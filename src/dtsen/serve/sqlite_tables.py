"""Arrow record batches into SQLite tables, typed, in one transaction per table.

Types: integers and booleans are INTEGER (booleans 0/1), floats REAL, dates and timestamps
TEXT in ISO form (YYYY-MM-DD), everything else TEXT. Lists (name tokens) are not written.
Values cross as Python objects column by column (no per-row dictionaries).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc


def sqlite_type(t: pa.DataType) -> str | None:
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "INTEGER"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "REAL"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t) or pa.types.is_map(t):
        return None
    return "TEXT"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(arr: pa.ChunkedArray | pa.Array) -> list[object]:
    t = arr.type
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        arr = pc.strftime(arr, format="%Y-%m-%d")
    elif pa.types.is_decimal(t):
        arr = pc.cast(arr, pa.float64())
    return arr.to_pylist()


def create_table(con: sqlite3.Connection, name: str, schema: pa.Schema, primary_key: str | None = None) -> list[str]:
    """CREATE TABLE `name` for the writable columns of `schema`; returns those columns."""
    cols = []
    defs = []
    for field in schema:
        kind = sqlite_type(field.type)
        if kind is None:
            continue
        cols.append(field.name)
        pk = " PRIMARY KEY" if field.name == primary_key else ""
        defs.append(f"{_quote(field.name)} {kind}{pk}")
    con.execute(f"CREATE TABLE {_quote(name)} ({', '.join(defs)})")
    return cols


def insert_batches(con: sqlite3.Connection, name: str, columns: Sequence[str],
                   batches: Iterable[pa.RecordBatch]) -> int:
    """Insert every batch's `columns` into table `name`; returns the rows written."""
    sql = f"INSERT INTO {_quote(name)} ({', '.join(_quote(c) for c in columns)}) VALUES ({', '.join('?' * len(columns))})"
    n = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        values = [_column(batch.column(c)) for c in columns]
        con.executemany(sql, zip(*values, strict=True))
        n += batch.num_rows
    return n


def create_index(con: sqlite3.Connection, table: str, *columns: str) -> None:
    name = f"ix_{table}_{'_'.join(columns)}"
    con.execute(f"CREATE INDEX {_quote(name)} ON {_quote(table)} ({', '.join(_quote(c) for c in columns)})")
