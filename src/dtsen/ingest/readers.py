"""Read one source file (CSV, XLSX, Parquet) into a staged Parquet file of text cells.

`stage_file` is the entry point: it picks the reader by extension (or ``options.format``),
and every reader writes ``<name>.staged.parquet`` and ``<name>.rejects.parquet`` in the output
directory (see `dtsen.ingest.staging` for their schema). Nothing is lost: for every file,
``rows_read == rows_staged + rows_rejected``.

Parquet sources are read in record batches; every column is cast to text by the spreadsheet
rules (integers as digits, floats whole below 1e15 as integers else by ``repr``, NaN as null,
booleans ``TRUE``/``FALSE``, dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS``, a
midnight timestamp as a date). A Parquet file has no header row, so ``_row`` is the record
index plus 2, as if a header were row 1, which keeps row numbers comparable with the CSV export
of the same data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.errors import InputFileError
from dtsen.ingest.csv_reader import stage_csv
from dtsen.ingest.staging import (
    Format,
    ReadOptions,
    StagedFile,
    StageWriter,
    blank_to_null,
    float_array_text,
    make_header,
)
from dtsen.ingest.xlsx_reader import stage_xlsx

__all__ = ["ReadOptions", "StagedFile", "detect_format", "stage_file", "text_array"]

EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".psv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xlsx",
    ".xlsb": "xlsx",
    ".ods": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: Path, declared: Format = "auto") -> Format:
    """The reader for a file: the declared format, or the one its extension names."""
    if declared != "auto":
        return declared
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        known = " ".join(sorted(EXTENSIONS))
        raise InputFileError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r}; expected one of {known}, "
            "or give the format explicitly"
        )
    return found


DEFAULT_OPTIONS = ReadOptions()


def stage_file(path: Path, out_dir: Path, options: ReadOptions = DEFAULT_OPTIONS) -> StagedFile:
    """Stage one source file into ``out_dir``; raises InputFileError when it cannot be read at all."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not a file")
    kind = detect_format(path, options.format)
    try:
        if kind == "csv":
            return stage_csv(path, out_dir, options)
        if kind == "xlsx":
            return stage_xlsx(path, out_dir, options)
        return stage_parquet(path, out_dir, options)
    except (OSError, pa.ArrowException) as e:
        raise InputFileError(f"{path}: cannot be read ({e})") from None


# --- Parquet ----------------------------------------------------------------------------------


def _timestamp_text(arr: pa.Array) -> pa.Array:
    unit_s = pa.timestamp("s", tz=arr.type.tz)
    seconds = arr.cast(unit_s, safe=False)
    whole_second = pc.equal(seconds.cast(arr.type), arr)
    midnight = pc.equal(pc.floor_temporal(arr, unit="day"), arr)
    return pc.if_else(
        midnight,
        pc.strftime(arr, format="%Y-%m-%d"),
        pc.if_else(
            whole_second,
            pc.strftime(seconds, format="%Y-%m-%d %H:%M:%S"),
            pc.strftime(arr, format="%Y-%m-%d %H:%M:%S"),
        ),
    )


def text_array(arr: pa.Array) -> pa.Array:
    """Any Arrow array as strings by the staging rules (vectorised; per value only for odd types)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        return text_array(arr.dictionary_decode())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return blank_to_null(arr.cast(pa.string()))
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "TRUE", "FALSE")
    if pa.types.is_floating(t):
        return float_array_text(arr)
    if pa.types.is_timestamp(t):
        return _timestamp_text(arr)
    if pa.types.is_integer(t) or pa.types.is_decimal(t) or pa.types.is_date(t) or pa.types.is_time(t):
        return arr.cast(pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return blank_to_null(arr.cast(pa.string()))  # raises for bytes that are not UTF-8
    values = arr.to_pylist()  # nested and other rare types: their Python text
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def stage_parquet(path: Path, out_dir: Path, options: ReadOptions) -> StagedFile:
    """Stage a Parquet file: record batches, every column cast to text."""
    try:
        source = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise InputFileError(f"{path}: cannot be read as Parquet ({e})") from None
    names = source.schema_arrow.names
    header = make_header(names)
    notes = list(header.notes)
    next_row = 2
    with StageWriter(path, out_dir, header.columns) as writer:
        for batch in source.iter_batches(batch_size=min(options.chunk_rows, options.max_rows or options.chunk_rows)):
            numbers = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
            cells: list[pa.Array] = []
            for name, column in zip(header.columns, batch.columns, strict=True):
                try:
                    cells.append(text_array(column))
                except pa.ArrowException as e:
                    raise InputFileError(
                        f"{path}: column {name!r} ({column.type}) cannot be read as text ({e})"
                    ) from None
            writer.write_rows(None, numbers, cells)
            next_row += batch.num_rows
            if options.max_rows is not None and next_row - 2 >= options.max_rows:
                break
        writer.commit()
    rows_read = next_row - 2
    if rows_read == 0:
        notes.append("header only: no data rows")
    return StagedFile(
        path=path,
        staged=writer.staged,
        rejects=writer.rejects,
        columns=header.columns,
        duplicate_columns=header.duplicates,
        rows_read=rows_read,
        rows_staged=writer.rows_staged,
        rows_rejected=writer.rows_rejected,
        encoding=None,
        delimiter=None,
        notes=notes,
    )
