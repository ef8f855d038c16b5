"""Stage a delimited text file (CSV, TSV, semicolon- or pipe-separated), streaming.

Encoding: see `dtsen.ingest.encoding` (UTF-8, UTF-8 with BOM, UTF-16 and UTF-32 with a BOM,
else Windows-1252; or as declared). Wide files are read from a UTF-8 copy.

Delimiter: detected among ``,`` ``;`` ``|`` and tab over the first records (quotes respected):
the candidate that splits the header into several columns and agrees best with the following
records wins. A header that no candidate splits is a one-column file, unless the records below
it do split (then the delimiter cannot be detected and the file is refused).

Header: the first non-blank record at or after record ``options.header_row`` (default 1).
Title lines above a header (``DATA PENERIMA BANSOS``, ``PERIODE: JUNI 2025``) are skipped when
the source sets ``header_row``; they are not rows and the delimiter is detected below them.

Records: parsed by the `csv` module (double quotes, doubled quotes inside them, newlines inside
quoted fields). ``_row`` is the record number counted from the file's first record (the header
is record 1 when it is the first), which is the row a person sees when the file is opened in
Excel; a record with a quoted newline spans several physical lines but counts once. Blank lines are not records of data: they are skipped (still
counted in the numbering) and noted. A record with more or fewer fields than the header is
rejected as ``ragged_row``, its fields re-joined with the same delimiter in ``_raw``.

A quote that runs across line ends where the header's field count says it should not (a
value that merely begins with a quote, in a file written without quoting) would swallow the
rows below it: such a record is read again line by line, each physical line its own record,
with quotes taken literally where that fits (see `dtsen.ingest.csv_lines` for the rules). The
same holds for a field longer than ``csv.field_size_limit()``: that line alone is rejected as
``field_too_large``. `StagedFile.lines` counts the file's physical lines, beside the records.

Two parsers, one result. A file whose header is one line and has several columns is first read
by Arrow's CSV reader (streaming, several times faster); title lines above it (``header_row``),
each one line, are skipped by Arrow too. Arrow agrees with the `csv` module on
every record with as many fields as the header. At the first record with another number of
fields, the file is read again by Arrow on one thread (not below title lines: there the `csv`
module reads it), which numbers such records so that they
are rejected exactly as the `csv` module path rejects them. Arrow cannot tell a blank line from
a row of empty fields (",,"), nor see a stray quote: at the first such row, when the records it
read are fewer than the file's lines (some record spans several lines), and at any other parse
trouble, the Arrow output is discarded and the file is read again with the `csv` module, which
numbers and rejects records exactly. That path holds ``chunk_rows`` records at a time and runs
no Python loop per row while every record is one line: lengths are checked with numpy, good
rows are flattened and cut into columns by Arrow; from the first chunk with a record across
line ends on, the file is read record by record (`dtsen.ingest.csv_lines.careful_records`).
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from dtsen.errors import InputFileError
from dtsen.ingest.csv_lines import Item, careful_records, tap
from dtsen.ingest.encoding import detect, detect_encoding, utf8_copy
from dtsen.ingest.staging import ReadOptions, StagedFile, StageWriter, blank_to_null, make_header

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["detect_delimiter", "detect_encoding", "rejoin", "stage_csv"]

CANDIDATES = (",", ";", "|", "\t")
_ARROW_BLOCK_BYTES = 16 << 20
_SAMPLE_CHARS = 256 * 1024
_SAMPLE_RECORDS = 50
_NOTED_SPLITS = 5  # lines read by themselves that the notes name; the rest are counted


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


# --- delimiter --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    delimiter: str
    header_fields: int
    agreement: float  # share of the sampled records below the header with as many fields
    split_below: bool  # some record below the header has more than one field


def _sample(path: Path, encoding: str) -> tuple[str, bool]:
    with path.open("r", encoding=encoding, newline="") as f:
        text = f.read(_SAMPLE_CHARS)
        whole = not f.read(1)
    return text, whole


def _split_with(sample: str, whole: bool, delimiter: str, header_row: int = 1) -> _Split:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    try:  # the records above `header_row` (titles) are not looked at
        records = [r for r in itertools.islice(reader, header_row - 1, header_row + _SAMPLE_RECORDS + 1) if r]
    except csv.Error:
        records = []
    if not whole and len(records) > 1:
        records = records[:-1]  # the sample may end inside the last record
    if not records:
        return _Split(delimiter, 0, 0.0, False)
    n = len(records[0])
    below = records[1 : _SAMPLE_RECORDS + 1]
    agreement = sum(len(r) == n for r in below) / len(below) if below else 1.0
    return _Split(delimiter, n, agreement, any(len(r) > 1 for r in below))


def detect_delimiter(path: Path, encoding: str, declared: str | None = None, header_row: int = 1) -> tuple[str, list[str]]:
    """The delimiter and notes; raises InputFileError when it cannot be told or contradicts the file.
    The records above `header_row` (title lines) are not looked at."""
    sample, whole = _sample(path, encoding)
    splits = {d: _split_with(sample, whole, d, header_row) for d in CANDIDATES}
    splitting = sorted(
        (s for s in splits.values() if s.header_fields > 1),
        key=lambda s: (s.agreement, s.header_fields),
        reverse=True,
    )
    if declared is not None:
        own = splits.get(declared) or _split_with(sample, whole, declared, header_row)
        others = [s for s in splitting if s.delimiter != declared]
        if own.header_fields <= 1 and others:
            raise InputFileError(
                f"{path}: declared delimiter {_show(declared)} but the header is split by {_show(others[0].delimiter)}"
            )
        return declared, []
    if splitting:
        return splitting[0].delimiter, []
    if any(s.split_below for s in splits.values()):
        from dtsen.ingest.title_rows import header_row_hint  # it reads the file's head with this module's rules

        raise InputFileError(
            f"{path}: could not detect the delimiter: the header has one column with each of "
            f"{', '.join(map(_show, CANDIDATES))} but the records below it are split; give the delimiter explicitly, "
            f"or, when title lines stand above the header, the header's row number ({header_row_hint(path, 'csv')})"
        )
    return ",", ["one column: no delimiter found in the header"]


# --- records ----------------------------------------------------------------------------------


def rejoin(rows: list[list[str]], delimiter: str) -> list[str]:
    """Each record's fields joined with the delimiter so that `csv.reader` reads them back the same."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    out: list[str] = []
    for row in rows:  # only rejected records: few
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        out.append(buffer.getvalue()[:-2])
    return out


def _parse_error(path: Path, line: int, error: csv.Error) -> InputFileError:
    text = str(error)
    if "field larger than field limit" in text:
        return InputFileError(
            f"{path}: line {line}: a field is longer than {csv.field_size_limit():,} characters (field too large)"
        )
    return InputFileError(f"{path}: line {line} cannot be parsed ({text})")


def _read_header(reader: Reader, path: Path, header_row: int = 1) -> tuple[list[str], int]:
    """The first non-blank record at or after record `header_row`, and its record number."""
    number = 0
    while True:
        try:
            record = next(reader, None)
        except csv.Error as e:
            raise _parse_error(path, reader.line_num, e) from None
        if record is None:
            if header_row > 1 and number > 0:
                raise InputFileError(
                    f"{path}: header_row = {header_row}, but the file has only {number} row(s) and none from row "
                    f"{header_row} on holds a header; correct the source's header_row setting (the row number "
                    "Excel shows for the header)")
            raise InputFileError(f"{path}: file is empty")
        number += 1
        if record and number >= header_row:
            return record, number


def _columns(rows: list[list[str]], width: int) -> list[pa.Array]:
    """Transpose rows of equal width into one string array per column (C-speed, no row loop)."""
    flat = pa.array(list(itertools.chain.from_iterable(rows)), type=pa.string())
    starts = np.arange(len(rows), dtype=np.int64) * width
    return [blank_to_null(flat.take(starts + j)) for j in range(width)]


def _stage_chunk(rows: list[list[str]], numbers: np.ndarray, width: int, delimiter: str, writer: StageWriter) -> tuple[int, int]:
    """Stage one chunk of records with their numbers; returns (records that are rows, blank records)."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    good = lengths == width
    blank = lengths == 0
    if good.all():
        good_rows = rows
    else:
        good_rows = list(itertools.compress(rows, good.tolist()))
        bad = ~good & ~blank
        if bad.any():
            bad_rows = list(itertools.compress(rows, bad.tolist()))
            details = [f"expected {width} fields, found {n}" for n in lengths[bad].tolist()]
            writer.write_rejects(None, numbers[bad], rejoin(bad_rows, delimiter), "ragged_row", details)
    if good_rows:
        writer.write_rows(None, numbers[good], _columns(good_rows, width))
    n_blank = int(blank.sum())
    return len(rows) - n_blank, n_blank


@dataclass
class _Counts:
    rows_read: int = 0
    blank_lines: int = 0
    split_lines: int = 0  # physical lines read by themselves (a stray quote, a field too large)
    split_at: list[int] = field(default_factory=list)  # the first few of them


def _stage_items(items: list[Item], first: int, width: int, delimiter: str, writer: StageWriter,
                 counts: _Counts) -> None:
    """Stage records read by `careful_records`, numbered from `first`."""
    numbers = np.arange(first, first + len(items), dtype=np.int64)
    parsed = [i for i, item in enumerate(items) if item.fields is not None]
    rows = [items[i].fields or [] for i in parsed]
    read, blank = _stage_chunk(rows, numbers[parsed], width, delimiter, writer)
    counts.rows_read += read
    counts.blank_lines += blank
    rejected: dict[str, list[int]] = {}
    for i, item in enumerate(items):  # per record: this path reads files with a record across line ends
        if item.reason is not None:
            rejected.setdefault(item.reason, []).append(i)
        if item.split:
            counts.split_lines += 1
            if len(counts.split_at) < _NOTED_SPLITS:
                counts.split_at.append(item.line)
    for reason, which in rejected.items():
        writer.write_rejects(None, numbers[which], [items[i].raw for i in which], reason,
                             [items[i].detail for i in which])
        counts.rows_read += len(which)


def _stage_python(
    reader: Reader, sink: list[str], rest: Iterator[str], first: int, first_line: int, width: int,
    delimiter: str, chunk_rows: int, writer: StageWriter, max_rows: int | None,
) -> _Counts:
    """Stage the records after the header with the `csv` module, chunk by chunk.

    `sink` receives every physical line the reader consumes (`csv_lines.tap`). While a chunk's
    records are as many as its lines, every record is one line and the chunk is staged at C
    speed. At the first chunk with a record across line ends (or one the `csv` module refuses),
    the file from that chunk's first line on is read record by record (`careful_records`, on
    the chunk's lines and then `rest`, the file's remaining lines)."""
    counts = _Counts()
    next_row, line = first, first_line

    def left() -> int:
        return chunk_rows if max_rows is None else min(chunk_rows, max_rows - counts.rows_read)

    while left() > 0:
        sink.clear()
        failed = False
        try:
            chunk = list(itertools.islice(reader, left()))
        except csv.Error:
            chunk, failed = [], True
        if not chunk and not failed:
            return counts
        if failed or len(chunk) != len(sink):
            break
        numbers = np.arange(next_row, next_row + len(chunk), dtype=np.int64)
        read, blank = _stage_chunk(chunk, numbers, width, delimiter, writer)
        counts.rows_read += read
        counts.blank_lines += blank
        next_row += len(chunk)
        line += len(sink)
    else:
        return counts
    records = careful_records(itertools.chain(list(sink), rest), line, delimiter, width)
    while left() > 0 and (items := list(itertools.islice(records, left()))):
        _stage_items(items, next_row, width, delimiter, writer, counts)
        next_row += len(items)
    return counts


class _Skipped:
    """The records Arrow's parser set aside (wrong number of fields), by record number."""

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.texts: dict[int, tuple[str, int]] = {}

    def __call__(self, row: pcsv.InvalidRow) -> str:
        if row.number is None or row.number < 0:
            return "error"  # no record number: let the csv module say where
        self.numbers.append(row.number)
        self.texts[row.number] = (row.text, row.actual_columns)
        return "skip"

    def take(self, start: int, rows: int) -> tuple[np.ndarray, list[int]]:
        """Record numbers for the next `rows` parsed rows, starting at record `start`, and the
        skipped records among them (removed from the pending list)."""
        pending = sorted(n for n in self.numbers if n >= start)
        if len(pending) != len(self.numbers):  # pragma: no cover - Arrow reports records in order
            raise _ArrowLost("a skipped record lies before the rows already staged")
        k = 0
        while True:
            hi = start + rows + k
            k_next = sum(1 for n in pending if n < hi)
            if k_next == k:
                break
            k = k_next
        skipped = pending[:k]
        self.numbers = pending[k:]
        numbers = np.setdiff1d(np.arange(start, start + rows + k, dtype=np.int64), np.array(skipped, dtype=np.int64))
        return numbers, skipped


class _ArrowLost(Exception):
    """The Arrow path cannot number this file's records exactly: fall back to the csv module."""


def _stage_arrow(
    path: Path, encoding: str, delimiter: str, width: int, writer: StageWriter, *, tolerant: bool, lines: int,
    skip: int = 1,
) -> _Counts | None:
    """Stage the records after a one-line header with Arrow's CSV reader, or None to fall back.

    Arrow parses several times faster than the `csv` module and agrees with it on every record
    that has as many fields as the header. Without `tolerant` (multi-threaded, fastest) the
    first record with another number of fields abandons this path. With `tolerant` the parser
    runs on one thread, which lets it say the record number of every such record: those are
    rejected as ``ragged_row`` exactly as the `csv` module path does. A row of empty fields (a
    blank line, or ",,"), fewer records than the file has `lines` below the header (a record
    across line ends: a quoted newline, or a stray quote to be read line by line) and any other
    parse trouble return None: the caller falls back to the `csv` module.

    `skip` is the number of lines up to and including the header (more than 1 when title lines
    stand above it, each one line): the first data row is record `skip + 1`.
    """
    names = [f"f{i}" for i in range(width)]
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    skipped = _Skipped()
    try:
        batches = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(
                column_names=names, skip_rows=skip, block_size=_ARROW_BLOCK_BYTES, encoding=arrow_encoding,
                use_threads=not tolerant,
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=skipped if tolerant else (lambda row: "error"),
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        counts = _Counts()
        next_row = skip + 1
        limit = csv.field_size_limit()
        for batch in batches:
            longest = max((pc.max(pc.utf8_length(c)).as_py() or 0) for c in batch.columns)
            if longest > limit:
                return None  # the csv module refuses such a field; let it say where
            numbers, ragged = skipped.take(next_row, batch.num_rows)
            if ragged:
                rows = [next(csv.reader([skipped.texts[n][0]], delimiter=delimiter), []) for n in ragged]
                details = [f"expected {width} fields, found {len(r)}" for r in rows]
                writer.write_rejects(None, np.array(ragged, dtype=np.int64), rejoin(rows, delimiter), "ragged_row", details)
            # Arrow reads a blank line as a row of empty fields, as it reads ",,": only the csv
            # module can tell them apart (a blank line is skipped, ",," is a row of nulls).
            if pc.any(functools.reduce(pc.and_, [pc.equal(pc.binary_length(c), 0) for c in batch.columns])).as_py():
                return None
            writer.write_rows(None, numbers, [blank_to_null(c) for c in batch.columns])
            next_row += len(numbers) + len(ragged)
            counts.rows_read += batch.num_rows + len(ragged)
        if skipped.numbers:  # pragma: no cover - every skipped record falls within a batch
            return None
    except (pa.ArrowException, UnicodeDecodeError, _ArrowLost):
        return None
    if counts.rows_read != lines - skip:
        return None  # some record spans several lines: the csv module checks its quotes
    return counts


def stage_csv(path: Path, out_dir: Path, options: ReadOptions, *, fast: bool = True) -> StagedFile:
    """Stage a delimited text file; see the module docstring for the rules.

    ``fast=False`` skips the Arrow path (tests use it to check both paths agree).
    """
    encoding, scanned = detect(path, options.encoding)
    with utf8_copy(path, encoding, out_dir) as (readable, read_as, copied):
        lines = (copied or scanned).lines
        return _stage_text(path, readable, read_as, encoding, lines, out_dir, options, fast=fast)


def _stage_text(
    path: Path, readable: Path, encoding: str, declared: str, lines: int, out_dir: Path, options: ReadOptions,
    *, fast: bool,
) -> StagedFile:
    delimiter, notes = detect_delimiter(readable, encoding, options.delimiter, options.header_row)
    sink: list[str] = []
    with readable.open("r", encoding=encoding, newline="") as f:
        reader = csv.reader(tap(f, sink), delimiter=delimiter)
        raw_header, header_row = _read_header(reader, path, options.header_row)
        header_lines = reader.line_num
        header = make_header(raw_header)
        notes = notes + header.notes
        width = len(header.columns)
        counts: _Counts | None = None
        # Title lines above the header (header_row), each one line: Arrow skips them. Its record
        # numbers for ragged rows are trusted only without them (the tolerant pass).
        titled = options.header_row > 1 and header_row == header_lines
        if fast and options.max_rows is None and width > 1 and ((header_row == 1 and header_lines == 1) or titled):
            for tolerant in (False, True) if header_row == 1 else (False,):
                with StageWriter(path, out_dir, header.columns) as writer:
                    counts = _stage_arrow(readable, encoding, delimiter, width, writer, tolerant=tolerant, lines=lines,
                                          skip=header_lines)
                    if counts is None:
                        writer.abort()
                    else:
                        writer.commit()
                        break
        if counts is None:
            with StageWriter(path, out_dir, header.columns) as writer:
                counts = _stage_python(reader, sink, f, header_row + 1, header_lines + 1, width, delimiter,
                                       options.chunk_rows, writer, options.max_rows)
                writer.commit()
    if header_row > 1:
        above = "the lines above it skipped" if options.header_row > 1 else "blank lines above it skipped"
        notes.append(f"header is record {header_row}: {above}")
    if counts.blank_lines:
        notes.append(f"{counts.blank_lines} blank line(s) below the header skipped (not rows)")
    if counts.split_lines:
        named = ", ".join(str(n) for n in counts.split_at)
        more = f" and {counts.split_lines - len(counts.split_at)} more" if counts.split_lines > len(counts.split_at) else ""
        notes.append(f"{counts.split_lines} line(s) read by themselves, a quote taken literally (it ran across line "
                     f"ends) or a field too large: line(s) {named}{more}")
    if counts.rows_read == 0:
        notes.append("header only: no data rows")
    return StagedFile(
        path=path,
        staged=writer.staged,
        rejects=writer.rejects,
        columns=header.columns,
        duplicate_columns=header.duplicates,
        rows_read=counts.rows_read,
        rows_staged=writer.rows_staged,
        rows_rejected=writer.rows_rejected,
        encoding=declared,
        delimiter=delimiter,
        notes=notes,
        lines=None if options.max_rows is not None else lines,
    )
