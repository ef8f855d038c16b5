"""The staged form of a source file: every cell as text, with where it came from.

A reader turns one source file into two Parquet files in the output directory:

- ``<name>.staged.parquet``: ``_file`` (the path as given), ``_sheet`` (XLSX sheet name, else
  null), ``_row`` (int64, the row number a person sees: the header is row 1), then one string
  column per source column, each cell verbatim (never trimmed) and null where it is empty;
- ``<name>.rejects.parquet``: ``_file``, ``_sheet``, ``_row``, ``_raw`` (the record re-joined so
  it reads back the same), ``_reason`` (a code of `dtsen.ingest.reasons`) and ``_detail``.

Both files are always written, with a fixed schema, even when they hold no rows; they are
written under a temporary name and renamed into place only when the whole file was read, so a
failure never leaves a half-staged file behind. This module holds what every reader shares: the
options and result types, the header-name rules, cell-to-text rules, and the writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.errors import SettingsError

Format = Literal["auto", "csv", "xlsx", "parquet"]

RESERVED_COLUMNS = ("_file", "_sheet", "_row")
REJECT_SCHEMA = pa.schema(
    [
        ("_file", pa.string()),
        ("_sheet", pa.string()),
        ("_row", pa.int64()),
        ("_raw", pa.string()),
        ("_reason", pa.string()),
        ("_detail", pa.string()),
    ]
)
# Floats that are whole numbers below this are written as integers ("36.0" -> "36"); larger
# ones keep Python's repr, so a 16-digit NIK that Excel stored as a number stays recognisable
# as damaged ("3204051234567890.0").
INTEGRAL_FLOAT_LIMIT = 1e15


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source file; the defaults detect everything."""

    format: Format = "auto"
    delimiter: str | None = None  # CSV only; None detects among , ; | and tab
    encoding: str = "auto"  # CSV only; "auto" detects UTF-8 (with or without BOM) or Windows-1252
    sheet: str | None = None  # XLSX only; None reads every sheet (they must share one header)
    chunk_rows: int = 200_000  # rows held in memory at once
    max_rows: int | None = None  # stop after about this many data rows (a sample: `dtsen sources check`)
    header_row: int = 1  # CSV and XLSX: the header is the first non-empty row at or after this row (1-based)

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise SettingsError(f"ReadOptions.chunk_rows must be at least 1, not {self.chunk_rows}")
        if self.max_rows is not None and self.max_rows < 1:
            raise SettingsError(f"ReadOptions.max_rows must be at least 1, not {self.max_rows}")
        if self.header_row < 1:
            raise SettingsError(f"ReadOptions.header_row must be at least 1, not {self.header_row}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise SettingsError(f"ReadOptions.delimiter must be one character, not {self.delimiter!r}")


@dataclass(frozen=True)
class StagedFile:
    """The result of staging one source file: where the output is, and its row accounting."""

    path: Path  # the input file
    staged: Path  # Parquet: _file, _sheet, _row, then the source columns as strings
    rejects: Path  # Parquet: _file, _sheet, _row, _raw, _reason, _detail
    columns: list[str]  # source column names in file order, made unique
    duplicate_columns: dict[str, list[str]]  # original name -> the unique names it became
    rows_read: int
    rows_staged: int
    rows_rejected: int
    encoding: str | None = None  # CSV only
    delimiter: str | None = None  # CSV only
    notes: list[str] = field(default_factory=list)
    lines: int | None = None  # CSV only: the file's physical lines (header and blank lines included)


# --- header names -----------------------------------------------------------------------------


def clean_header_name(name: str, position: int) -> str:
    """Strip surrounding whitespace and BOMs; an empty name becomes ``column_<position>`` (1-based)."""
    text = name.strip().strip("\ufeff").strip()
    return text or f"column_{position}"


@dataclass(frozen=True)
class Header:
    """The source columns as they will be staged."""

    names: list[str]  # cleaned, in file order, before making them unique
    columns: list[str]  # unique
    duplicates: dict[str, list[str]]
    notes: list[str]


def make_header(raw_names: Sequence[str]) -> Header:
    """Clean header names and make them unique: a repeated ``NAMA`` becomes ``NAMA.2``, ``NAMA.3``.

    The staging columns ``_file``, ``_sheet`` and ``_row`` count as taken, so a source column with
    one of those names is renamed too (``_row.2``) and noted.
    """
    names = [clean_header_name(n, i) for i, n in enumerate(raw_names, start=1)]
    used: set[str] = set(RESERVED_COLUMNS)
    counts: dict[str, int] = {}
    columns: list[str] = []
    groups: dict[str, list[str]] = {}
    notes: list[str] = []
    for name in names:
        unique = name
        if name in used:
            n = max(counts.get(name, 1), 1)
            while unique in used:
                n += 1
                unique = f"{name}.{n}"
            counts[name] = n
        used.add(unique)
        columns.append(unique)
        groups.setdefault(name, []).append(unique)
    duplicates = {name: got for name, got in groups.items() if len(got) > 1 or got[0] != name}
    for name in RESERVED_COLUMNS:
        if name in groups:
            notes.append(f"column {name!r} clashes with a staging column; staged as {groups[name][0]!r}")
    return Header(names, columns, duplicates, notes)


# --- cells as text ----------------------------------------------------------------------------


def float_text(value: float) -> str | None:
    """A float as text: whole numbers below 1e15 as integers, others as repr; NaN is empty."""
    if math.isnan(value):
        return None
    if value.is_integer() and abs(value) < INTEGRAL_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


def cell_text(value: Any) -> str | None:
    """One spreadsheet cell as text (see the module docstring of `xlsx_reader` for the rules)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        if value.microsecond:
            return value.isoformat(sep=" ")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def string_column(values: Iterable[str]) -> pa.Array:
    """Strings to an Arrow string array, the empty string becoming null."""
    arr = pa.array(values if isinstance(values, list | tuple) else list(values), type=pa.string())
    return blank_to_null(arr)


def blank_to_null(arr: pa.Array) -> pa.Array:
    """Replace empty strings by null in a string array (vectorised)."""
    if arr.null_count == len(arr):
        return arr
    empty = pc.equal(pc.binary_length(arr), 0)
    if not pc.any(empty).as_py():
        return arr
    return pc.if_else(empty, pa.scalar(None, pa.string()), arr)


def float_array_text(arr: pa.Array) -> pa.Array:
    """A float array as text by the same rule as `float_text`, vectorised over the whole numbers."""
    values = arr.fill_null(math.nan).to_numpy(zero_copy_only=False)
    nan = np.isnan(values)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(values) & (np.abs(values) < INTEGRAL_FLOAT_LIMIT) & (np.floor(values) == values)
    out = np.full(len(values), None, dtype=object)
    out[integral] = values[integral].astype(np.int64).astype(str)
    other = ~integral & ~nan
    if other.any():
        picked = values[other]
        # Python floats print by repr; a float32 prints its own shortest form through numpy.
        texts = list(map(str, picked.tolist() if picked.dtype == np.float64 else picked))
        out[other] = texts
    return pa.array(out, type=pa.string())


# --- writing ----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(path: Path) -> str:
    """The file name with anything but letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    name = _UNSAFE.sub("_", path.name).strip("._") or "source"
    return name


class StageWriter:
    """Writes the staged and rejects Parquet files of one source, atomically on `commit`."""

    def __init__(self, source: Path, out_dir: Path, columns: list[str]) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        base = safe_name(source)
        self.source_text = str(source)
        self.staged = out_dir / f"{base}.staged.parquet"
        self.rejects = out_dir / f"{base}.rejects.parquet"
        self._staged_tmp = self.staged.with_name(self.staged.name + ".partial")
        self._rejects_tmp = self.rejects.with_name(self.rejects.name + ".partial")
        self.columns = columns
        self.schema = pa.schema(
            [("_file", pa.string()), ("_sheet", pa.string()), ("_row", pa.int64())]
            + [(name, pa.string()) for name in columns]
        )
        self._staged_writer = pq.ParquetWriter(self._staged_tmp, self.schema)
        self._rejects_writer = pq.ParquetWriter(self._rejects_tmp, REJECT_SCHEMA)
        self.rows_staged = 0
        self.rows_rejected = 0

    def __enter__(self) -> StageWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            self.abort()

    def _position(self, sheet: str | None, rows: np.ndarray) -> list[pa.Array]:
        n = len(rows)
        return [
            pa.repeat(pa.scalar(self.source_text, pa.string()), n),
            pa.repeat(pa.scalar(sheet, pa.string()), n),
            pa.array(rows, type=pa.int64()),
        ]

    def write_rows(self, sheet: str | None, rows: np.ndarray, cells: list[pa.Array]) -> None:
        """Append staged rows: their row numbers and one string array per source column."""
        if len(rows) == 0:
            return
        table = pa.Table.from_arrays(self._position(sheet, rows) + cells, schema=self.schema)
        self._staged_writer.write_table(table)
        self.rows_staged += len(rows)

    def write_rejects(
        self, sheet: str | None, rows: np.ndarray, raws: list[str], reason: str, details: list[str]
    ) -> None:
        """Append rejected records with one reason code and a detail per record."""
        if len(rows) == 0:
            return
        n = len(rows)
        arrays = [
            *self._position(sheet, rows),
            pa.array(raws, type=pa.string()),
            pa.repeat(pa.scalar(reason, pa.string()), n),
            pa.array(details, type=pa.string()),
        ]
        self._rejects_writer.write_table(pa.Table.from_arrays(arrays, schema=REJECT_SCHEMA))
        self.rows_rejected += n

    def commit(self) -> None:
        """Close both files and move them into place."""
        self._staged_writer.close()
        self._rejects_writer.close()
        os.replace(self._staged_tmp, self.staged)
        os.replace(self._rejects_tmp, self.rejects)

    def abort(self) -> None:
        """Close and delete the partial files."""
        for writer in (self._staged_writer, self._rejects_writer):
            with contextlib.suppress(Exception):  # best effort on an error path
                writer.close()
        for tmp in (self._staged_tmp, self._rejects_tmp):
            tmp.unlink(missing_ok=True)
