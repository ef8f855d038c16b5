"""The one writer of every spreadsheet dtsen makes for people: CSV and XLSX.

Visit lists, XLSForms, the clerical-review file, programme and leakage lists, coefficient
tables: each is written here, and each cell follows the rule of `dtsen.export.cells` (no cell
becomes a formula, codes stay text, numbers stay numbers, characters a cell cannot hold are
removed). A test fails when another module writes CSV or XLSX itself.

CSV     UTF-8 with a byte-order mark (so that Excel reads the encoding right), comma-separated,
        CRLF line ends, a header of the columns' titles. `write_csv` takes rows of Python
        values (quoting only where needed); `write_csv_batches` streams Arrow batches of any
        size through the vectorised rule (string values quoted).
XLSX    `write_xlsx` writes one or more sheets (streamed, openpyxl's write-only mode): a bold
        header, text and code cells as text cells (data type ``s``, number format ``@``, so
        they stay text when retyped), numbers as numbers (with a column's number format),
        optional header and cell fills, a drop-down list per column (data validation),
        frozen panes, an auto-filter and guide lines above the table. Column widths follow the
        longest value (10 to 40 characters) unless a column gives its own minimum.

Files are created with the process's umask (owner-only where dtsen sets one).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from dtsen.errors import DtsenError
from dtsen.export.cells import Kind, csv_cell, csv_column, xlsx_cell

BOM = "\ufeff"
EOL = "\r\n"
MIN_WIDTH = 10
MAX_WIDTH = 40


class ExportError(DtsenError):
    """A spreadsheet cannot be written as asked (a row of the wrong length, a missing column)."""


@dataclass(frozen=True)
class Choices:
    """A drop-down list on a column's cells (XLSX data validation)."""

    values: tuple[str, ...]
    title: str = ""
    prompt: str = ""
    error: str = ""
    error_title: str = ""


@dataclass(frozen=True)
class Column:
    """One column of an export: its title, its kind (`dtsen.export.cells.Kind`) and how it looks.

    key            the column's name in an Arrow batch (`write_csv_batches`); unused for rows
    width          XLSX: the least width in characters (None: from the values, 10 to 40)
    number_format  XLSX: the number format of a number column ("0", "0.000")
    digits         CSV: decimals a float is rounded to (None: written exactly)
    fill           XLSX: header fill colour RRGGBB; with `fill_cells`, the column's cells too
    choices        XLSX: a drop-down list on the column's cells
    """

    title: str
    kind: Kind = "text"
    key: str = ""
    width: float | None = None
    number_format: str | None = None
    digits: int | None = None
    fill: str | None = None
    fill_cells: bool = False
    choices: Choices | None = None


@dataclass(frozen=True)
class Sheet:
    """One worksheet: columns, rows (sequences of values, one per column) and its layout.

    freeze        the top-left cell of the scrolling part ("A2": the header stays); None: none
    auto_filter   a filter on the header
    wrap_header   header text wrapped (with `header_height`); columns then ignore the title's
                  length when sizing
    notes         lines above the table (a guide): the first one as a title, then a blank row
    """

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    freeze: str | None = "A2"
    auto_filter: bool = False
    wrap_header: bool = False
    header_height: float | None = None
    notes: Sequence[str] = field(default_factory=tuple)


def _checked(rows: Iterable[Sequence[Any]], columns: Sequence[Column], what: str) -> Iterable[Sequence[Any]]:
    for i, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise ExportError(f"{what}: row {i} has {len(row)} values for {len(columns)} columns")
        yield row


# -- CSV ----------------------------------------------------------------------------------------
def write_csv(path: Path, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Path:
    """Write `rows` under a header of the columns' titles; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(BOM)
        writer = csv.writer(fh, lineterminator=EOL)
        writer.writerow([csv_cell(c.title, "text") for c in columns])
        for row in _checked(rows, columns, str(path)):
            writer.writerow([csv_cell(v, c.kind, c.digits) for v, c in zip(row, columns, strict=True)])
    return path


def write_csv_batches(path: Path, columns: Sequence[Column], batches: Iterable[pa.RecordBatch | pa.Table]) -> Path:
    """Write Arrow batches (each holding every column's `key`) as CSV, vectorised; returns `path`.

    Each batch is written on its own (a column may be numeric in one batch and text in another,
    e.g. when only one batch holds an integer too long for Excel)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [csv_cell(c.title, "text") for c in columns]
    options = pacsv.WriteOptions(include_header=False, eol=EOL)
    with path.open("wb") as fh:
        fh.write(BOM.encode("utf-8"))
        fh.write((",".join('"' + n.replace('"', '""') + '"' for n in names) + EOL).encode("utf-8"))
        for batch in batches:
            missing = [c.key for c in columns if c.key not in batch.column_names]
            if missing:
                raise ExportError(f"{path}: the data lacks the columns {', '.join(missing)}")
            arrays = [csv_column(batch.column(c.key), c.kind) for c in columns]
            pacsv.write_csv(pa.Table.from_arrays(arrays, names=names), fh, write_options=options)
    return path


# -- XLSX ---------------------------------------------------------------------------------------
def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> Path:
    """Write the sheets, in order, into one workbook; returns `path`."""
    path = Path(path)
    book = Workbook(write_only=True)
    for sheet in sheets:
        _write_sheet(book, sheet, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(_reproducible(buffer.getvalue()))
    return path


# openpyxl stamps the workbook and each zip entry with the time of writing: the same data would
# give other bytes at every build, and a release must be the same bit for bit (but for its manifest's
# timestamps). Every stamp is set to one fixed moment instead.
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def _reproducible(xlsx: bytes) -> bytes:
    """The workbook with its document dates and zip entry times fixed (content unchanged)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, data)
    return out.getvalue()


def _fill(colour: str | None) -> PatternFill | None:
    return PatternFill("solid", fgColor=colour) if colour else None


def _write_sheet(book: Workbook, sheet: Sheet, where: str) -> None:
    ws = book.create_sheet(sheet.name)
    columns = list(sheet.columns)
    checked = _checked(sheet.rows, columns, f"{where} sheet {sheet.name!r}")
    rows = [[xlsx_cell(v, c.kind) for v, c in zip(row, columns, strict=True)] for row in checked]
    note_rows = len(sheet.notes) + 1 if sheet.notes else 0
    header_row = note_rows + 1

    # the widths are set before any row is written (write-only sheets write them first)
    for j, col in enumerate(columns):
        longest = max((len(str(r[j][0])) for r in rows if r[j][0] is not None), default=0)
        wanted = max(longest, 0 if sheet.wrap_header else len(col.title)) + 2
        least = col.width if col.width is not None else MIN_WIDTH
        ws.column_dimensions[get_column_letter(j + 1)].width = max(least, min(wanted, MAX_WIDTH))
    if sheet.freeze:
        ws.freeze_panes = _shifted(sheet.freeze, note_rows)
    if sheet.auto_filter and columns:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{header_row + len(rows)}"
    for j, col in enumerate(columns, start=1):
        if col.choices is not None:
            letter = get_column_letter(j)
            rule = DataValidation(type="list", formula1='"' + ",".join(col.choices.values) + '"', allow_blank=True)
            rule.errorTitle = col.choices.error_title or col.choices.title or None
            rule.error = col.choices.error or None
            rule.promptTitle = col.choices.title or None
            rule.prompt = col.choices.prompt or None
            rule.showErrorMessage = True
            rule.showInputMessage = bool(col.choices.prompt)
            rule.add(f"{letter}{header_row + 1}:{letter}{header_row + max(len(rows), 1)}")
            ws.data_validations.append(rule)
    if sheet.header_height is not None:
        ws.row_dimensions[header_row].height = sheet.header_height

    wrap = Alignment(wrap_text=True, vertical="top")
    for i, line in enumerate(sheet.notes):
        cell = _text_cell(ws, line)
        cell.alignment = wrap
        if i == 0:
            cell.font = Font(bold=True, size=13)
        ws.append([cell])
    if sheet.notes:
        ws.append([])

    bold = Font(bold=True)
    header = []
    for col in columns:
        cell = _text_cell(ws, col.title)
        cell.font = bold
        if sheet.wrap_header:
            cell.alignment = wrap
        fill = _fill(col.fill)
        if fill is not None:
            cell.fill = fill
        header.append(cell)
    ws.append(header)
    cell_fills = [_fill(c.fill) if c.fill_cells else None for c in columns]
    for row in rows:
        out: list[Cell | None] = []
        for (value, is_text), col, fill in zip(row, columns, cell_fills, strict=True):
            if value is None and fill is None and not is_text and col.kind == "number":
                out.append(None)
                continue
            cell = WriteOnlyCell(ws, value=value)
            if is_text:
                cell.data_type = "s"  # never a formula, whatever the text looks like
            if is_text or col.kind != "number":
                cell.number_format = "@"
            elif col.number_format:
                cell.number_format = col.number_format
            if fill is not None:
                cell.fill = fill
            out.append(cell)
        ws.append(out)


def _text_cell(ws: Any, text: str | None) -> Cell:
    """A text cell: data type 's' whatever the text looks like (never a formula)."""
    value, _ = xlsx_cell(text, "text")
    cell = WriteOnlyCell(ws, value=value)
    if value is not None:
        cell.data_type = "s"
    return cell


def _shifted(cell: str, rows: int) -> str:
    letters = "".join(ch for ch in cell if ch.isalpha())
    number = int("".join(ch for ch in cell if ch.isdigit()) or "1")
    return f"{letters}{number + rows}"


__all__ = ["BOM", "Choices", "Column", "ExportError", "Sheet", "write_csv", "write_csv_batches", "write_xlsx"]
