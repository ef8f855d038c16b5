"""Stage a spreadsheet (XLSX, XLSM, XLS, XLSB, ODS) with python-calamine.

Sheets: every worksheet, or only ``options.sheet``. Each sheet's first non-empty row at or after
row ``options.header_row`` (default 1: its first non-empty row) is its header (title rows above
it are skipped, not rows; a sheet with cells only above that row is refused, naming the
setting), and all sheets read together must have the same header (else the file is refused,
naming the sheets and the columns that differ). Empty sheets are skipped and noted. ``_sheet`` is the
sheet name and ``_row`` the sheet's own row number, as Excel shows it. Completely empty rows are
not records: they are skipped and noted. A row with a value to the right of the header's last
column is rejected as ``ragged_row``; its cells are re-joined with commas in ``_raw``.

Cells become text: strings as they are; floats that are whole numbers below 1e15 as integers
(``36.0`` -> ``"36"``), other floats by ``repr`` (a 16-digit NIK stored as a number becomes
``"3204051234567890.0"``, which the NIK check recognises as damaged by Excel); integers as
digits; booleans ``TRUE``/``FALSE``; dates ``YYYY-MM-DD``; date-times ``YYYY-MM-DD HH:MM:SS``
(a date-time at midnight is a date, as calamine reports it); times ``HH:MM:SS``; empty cells null.
Formula cells hold their cached value (none when the file was never opened in Excel).

calamine loads one sheet at a time; rows are then converted in chunks of ``chunk_rows``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from dtsen.errors import InputFileError
from dtsen.ingest.csv_reader import rejoin
from dtsen.ingest.masking import mask_digits
from dtsen.ingest.staging import (
    Header,
    ReadOptions,
    StagedFile,
    StageWriter,
    cell_text,
    float_array_text,
    make_header,
    string_column,
)

Row = list[Any]


def _open(path: Path) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_path(path)
    except Exception as e:  # calamine raises several unrelated types for a bad file
        raise InputFileError(f"{path}: cannot be read as a spreadsheet ({e})") from None


def _sheet_names(book: CalamineWorkbook, path: Path, wanted: str | None) -> list[str]:
    names = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    if wanted is None:
        return names
    if wanted not in names:
        have = ", ".join(repr(n) for n in names) or "none"
        raise InputFileError(f"{path}: sheet {wanted!r} not found; the sheets are {have}")
    return [wanted]


def column_text(values: Sequence[Any]) -> pa.Array:
    """One column of cells as a string array (a fast path when every cell is already text)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return string_column(values)
    if kinds <= {float, str}:  # a numeric column, perhaps with empty cells: vectorised
        is_float = np.fromiter(map(isinstance, values, itertools.repeat(float)), dtype=bool, count=len(values))
        if not any(itertools.compress(values, (~is_float).tolist())):
            floats = np.full(len(values), np.nan)
            floats[is_float] = np.fromiter(itertools.compress(values, is_float.tolist()), dtype=np.float64)
            return float_array_text(pa.array(floats))
    return pa.array(list(map(cell_text, values)), type=pa.string())


def _row_texts(row: Row) -> list[str]:
    texts = [cell_text(v) or "" for v in row]
    while texts and not texts[-1]:
        texts.pop()
    return texts


def _find_header(rows: Iterator[Row], header_row: int = 1) -> tuple[list[str], int] | int | None:
    """The first non-empty row at or after row `header_row` as text (trailing empty cells
    dropped) and its 1-based number; None for an empty sheet; the number of the last non-empty
    row when every non-empty row lies above `header_row`."""
    last = 0
    for number, row in enumerate(rows, start=1):  # only the rows above the header
        texts = _row_texts(row)
        if texts:
            if number >= header_row:
                return texts, number
            last = number
    return last or None


def _compare_headers(path: Path, first: tuple[str, Header], sheet: str, header: Header) -> None:
    name, expected = first
    if header.names == expected.names:
        return
    # cells of a first row that is data, not a header, must not print a NIK
    only_first = [mask_digits(c) for c in expected.names if c not in header.names]
    only_here = [mask_digits(c) for c in header.names if c not in expected.names]
    if only_first or only_here:
        diff = f"only in {name!r}: {only_first}; only in {sheet!r}: {only_here}"
    else:
        diff = f"the same columns in another order ({[mask_digits(c) for c in expected.names]} vs "
        diff += f"{[mask_digits(c) for c in header.names]})"
    raise InputFileError(
        f"{path}: sheets {name!r} and {sheet!r} have different headers, so they are not one source: "
        f"{diff}; choose one sheet with the sheet option"
    )


def _stage_chunk(rows: list[Row], first: int, width: int, sheet: str, writer: StageWriter) -> tuple[int, int]:
    """Stage one chunk of a sheet; returns (rows read, empty rows)."""
    numbers = np.arange(first, first + len(rows), dtype=np.int64)
    row_width = len(rows[0])
    empty = np.fromiter(map(list.count, rows, itertools.repeat("")), dtype=np.int64, count=len(rows))
    blank = empty == row_width
    if row_width > width:
        tails = map(operator.itemgetter(slice(width, None)), rows)
        tail_empty = np.fromiter(map(list.count, tails, itertools.repeat("")), dtype=np.int64, count=len(rows))
        ragged = ~blank & (tail_empty < row_width - width)
    else:
        ragged = np.zeros(len(rows), dtype=bool)
    good = ~blank & ~ragged
    if ragged.any():
        texts = list(map(_row_texts, itertools.compress(rows, ragged.tolist())))
        details = [f"expected {width} fields, found {len(t)}" for t in texts]
        writer.write_rejects(sheet, numbers[ragged], rejoin(texts, ","), "ragged_row", details)
    good_rows = rows if good.all() else list(itertools.compress(rows, good.tolist()))
    if good_rows:
        columns = list(zip(*good_rows, strict=True))[:width]
        writer.write_rows(sheet, numbers[good], [column_text(c) for c in columns])
    n_blank = int(blank.sum())
    return len(rows) - n_blank, n_blank


def _take(options: ReadOptions, done: int) -> int:
    """Rows to take next: a chunk, or what is left of `max_rows` (0 ends the sheet)."""
    if options.max_rows is None:
        return options.chunk_rows
    return max(0, min(options.chunk_rows, options.max_rows - done))


def stage_xlsx(path: Path, out_dir: Path, options: ReadOptions) -> StagedFile:
    """Stage a spreadsheet; see the module docstring for the rules."""
    book = _open(path)
    writer: StageWriter | None = None
    first: tuple[str, Header] | None = None
    notes: list[str] = []
    rows_read = 0
    try:
        for name in _sheet_names(book, path, options.sheet):
            sheet_rows = iter(book.get_sheet_by_name(name).iter_rows())
            found = _find_header(sheet_rows, options.header_row)
            if found is None:
                notes.append(f"sheet {name!r} is empty: skipped")
                continue
            if isinstance(found, int):
                raise InputFileError(
                    f"{path}: sheet {name!r}: header_row = {options.header_row}, but the sheet's last non-empty "
                    f"row is row {found}; correct the source's header_row setting (the row number Excel shows "
                    "for the header)")
            raw_header, header_row = found
            if options.header_row > 1:
                notes.append(f"sheet {name!r}: header is row {header_row}: the rows above it skipped")
            header = make_header(raw_header)
            if first is None:
                first = (name, header)
                notes.extend(header.notes)
                writer = StageWriter(path, out_dir, header.columns)
            else:
                _compare_headers(path, first, name, header)
            assert writer is not None
            next_row, sheet_read, sheet_blank = header_row + 1, 0, 0
            while chunk := list(itertools.islice(sheet_rows, _take(options, rows_read + sheet_read))):
                read, blank = _stage_chunk(chunk, next_row, len(header.columns), name, writer)
                sheet_read += read
                sheet_blank += blank
                next_row += len(chunk)
            rows_read += sheet_read
            if sheet_blank:
                notes.append(f"sheet {name!r}: {sheet_blank} empty row(s) skipped (not rows)")
            if sheet_read == 0 and options.max_rows is None:
                notes.append(f"sheet {name!r}: header only: no data rows")
        if writer is None or first is None:
            raise InputFileError(f"{path}: file is empty (no sheet has any cell)")
        writer.commit()
    except CalamineError as e:
        if writer is not None:
            writer.abort()
        raise InputFileError(f"{path}: cannot be read as a spreadsheet ({e})") from None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        book.close()
    assert writer is not None and first is not None
    if rows_read == 0 and not any("header only" in n for n in notes):
        notes.append("header only: no data rows")
    return StagedFile(
        path=path,
        staged=writer.staged,
        rejects=writer.rejects,
        columns=first[1].columns,
        duplicate_columns=first[1].duplicates,
        rows_read=rows_read,
        rows_staged=writer.rows_staged,
        rows_rejected=writer.rows_rejected,
        encoding=None,
        delimiter=None,
        notes=notes,
    )
