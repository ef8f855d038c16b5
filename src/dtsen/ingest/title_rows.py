"""Title rows above the header: where the header of an Excel-made export really is.

A ministry export often starts with a few title lines (``DATA PENERIMA BANSOS``, ``KABUPATEN
CIANJUR``, ``PERIODE: JUNI 2025``, a blank line) before its header. `dtsen sources draft` reads
the file's first `LOOK` rows and proposes ``header_row = N`` when:

- row N has at least `MIN_COLUMNS` non-empty cells, each of them like a column name (a letter in
  it, at most 60 characters, no 16-digit number), and mostly different from one another;
- every non-empty row above it has at most `TITLE_CELLS` non-empty cells, at least one row above
  it is not empty (a title), and row N has at least twice as many cells as any of them.

Rows are numbered as the readers number them (`dtsen.ingest.csv_reader`, `xlsx_reader`): the
file's records from 1, blank ones included; a sheet's rows as Excel shows them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from pathlib import Path

from python_calamine import CalamineWorkbook

from dtsen.ingest.csv_reader import CANDIDATES
from dtsen.ingest.staging import cell_text

__all__ = ["first_rows", "header_row_hint", "header_row_of"]

LOOK = 20  # rows looked at
MIN_COLUMNS = 3
TITLE_CELLS = 2
_SAMPLE_BYTES = 64 * 1024
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_ID = re.compile(r"\d{16}")
_LETTER = re.compile(r"[^\W\d_]")


def _head_text(path: Path) -> str:
    """The file's first bytes as text: by its byte-order mark, else UTF-8, else Windows-1252 (a
    guess from the head alone; the reader decides the encoding on the whole file)."""
    with path.open("rb") as f:
        head = f.read(_SAMPLE_BYTES)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return codecs.getincrementaldecoder(encoding)("replace").decode(head)
    try:
        return codecs.getincrementaldecoder("utf-8-sig")("strict").decode(head)  # a cut last character waits
    except UnicodeDecodeError:
        return head.decode("cp1252", errors="replace")


def _csv_rows(path: Path) -> list[list[str]]:
    text = _head_text(path)
    best: list[list[str]] = []
    best_width = -1
    for delimiter in CANDIDATES:
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), LOOK))
        except csv.Error:
            continue
        width = max((sum(bool(c.strip()) for c in r) for r in rows), default=0)
        if width > best_width:
            best, best_width = rows, width
    return best


def _sheet_rows(path: Path) -> list[list[str]]:
    book = CalamineWorkbook.from_path(path)
    try:
        for name in book.sheet_names:
            rows = [[cell_text(v) or "" for v in row]
                    for row in itertools.islice(book.get_sheet_by_name(name).iter_rows(), LOOK)]
            if any(any(c.strip() for c in r) for r in rows):
                return rows
        return []
    finally:
        book.close()


def first_rows(path: Path, kind: str) -> list[list[str]]:
    """The file's first `LOOK` rows as text (a CSV's blank lines as empty rows; the first sheet
    with any cell of a spreadsheet); none for Parquet, or a file that cannot be read."""
    try:
        if kind == "csv":
            return _csv_rows(path)
        if kind == "xlsx":
            return _sheet_rows(path)
    except Exception:  # the readers say what is wrong with the file; this only looks
        return []
    return []


def _like_names(cells: list[str]) -> bool:
    if len(cells) < MIN_COLUMNS:
        return False
    if len({c.upper() for c in cells}) < 0.8 * len(cells):
        return False
    return all(_LETTER.search(c) and len(c) <= 60 and not _ID.search(c) for c in cells)


def header_row_of(rows: list[list[str]]) -> tuple[int, str] | None:
    """The header's row number (1-based) and why, when rows above it look like titles; else None."""
    filled = [[c.strip() for c in row if c.strip()] for row in rows]
    for k, cells in enumerate(filled):
        if len(cells) > TITLE_CELLS:
            above = [n for n in map(len, filled[:k]) if n]
            if not above or not _like_names(cells) or len(cells) < 2 * max(above):
                return None
            titles = len(above)
            return k + 1, (f"row{'s' if k > 1 else ''} 1{f'-{k}' if k > 1 else ''} hold{'' if k > 1 else 's'} "
                           f"{titles} title line{'s' if titles > 1 else ''} (at most {max(above)} cell"
                           f"{'s' if max(above) > 1 else ''} each); row {k + 1} has {len(cells)} column names")
    return None


def header_row_hint(path: Path, kind: str) -> str:
    """What to tell a person whose file's first row is no header: the header row the first
    rows suggest, when they look like titles."""
    found = header_row_of(first_rows(path, kind))
    if found is None:
        return "title rows above the header: set header_row"
    return f"set header_row = {found[0]}: {found[1]}"
