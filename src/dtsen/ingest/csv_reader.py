"""Stage a delimited text file (CSV, TSV, semicolon- or pipe-separated), streaming.

Encoding: with ``encoding="auto"`` the whole file is checked strictly, in 1 MiB chunks at C
speed: UTF-8 with a BOM (``utf-8-sig``), else UTF-8, else Windows-1252 (``cp1252``). A file with
a NUL byte or mostly control characters in its first 64 KiB is refused as binary. An explicit
encoding is used as given; a byte that does not decode is reported with its offset.

Delimiter: detected among ``,`` ``;`` ``|`` and tab over the first records (quotes respected):
the candidate that splits the header into several columns and agrees best with the following
records wins. A header that no candidate splits is a one-column file, unless the records below
it do split (then the delimiter cannot be detected and the file is refused).

Records: parsed by the `csv` module (double quotes, doubled quotes inside them, newlines inside
quoted fields). ``_row`` is the record number with the header as record 1, which is the row a
person sees when the file is opened in Excel; a record with a quoted newline spans several
physical lines but counts once. Blank lines are not records of data: they are skipped (still
counted in the numbering) and noted. A record with more or fewer fields than the header is
rejected as ``ragged_row``, its fields re-joined with the same delimiter in ``_raw``.

Two parsers, one result. A file whose header is one line and has several columns is first read
by Arrow's CSV reader (streaming, several times faster). Arrow agrees with the `csv` module on
every record with as many fields as the header. At the first record with another number of
fields, the file is read again by Arrow on one thread, which numbers such records so that they
are rejected exactly as the `csv` module path rejects them. Arrow cannot tell a blank line from
a row of empty fields (",,"): at the first such row, and at any other parse trouble, the Arrow
output is discarded and the file is read again with the `csv` module, which numbers and rejects
records exactly. That path holds ``chunk_rows`` records at a time and runs no Python loop per
row: lengths are checked with numpy, good rows are flattened and cut into columns by Arrow.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from dtsen.errors import InputFileError
from dtsen.ingest.staging import ReadOptions, StagedFile, StageWriter, blank_to_null, make_header

if TYPE_CHECKING:
    from _csv import Reader

CANDIDATES = (",", ";", "|", "\t")
_CHUNK_BYTES = 1 << 20
_ARROW_BLOCK_BYTES = 16 << 20
_HEAD_BYTES = 64 * 1024
_SAMPLE_CHARS = 256 * 1024
_SAMPLE_RECORDS = 50
_CONTROL_SHARE = 0.10
# Control bytes that do not occur in text (tab, newlines, form feed and SUB are allowed).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1A), *range(0x1B, 0x20)])
_WIDE_UNICODE = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


# --- encoding ---------------------------------------------------------------------------------


def _first_bad_byte(path: Path, encoding: str, skip: int = 0) -> tuple[int, str] | None:
    """Offset and reason of the first byte that does not decode (strictly), or None if all do."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = skip
    with path.open("rb") as f:
        f.seek(skip)
        while True:
            chunk = f.read(_CHUNK_BYTES)
            final = not chunk
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final)
            except UnicodeDecodeError as e:
                return offset - pending + e.start, e.reason
            if final:
                return None
            offset += len(chunk)


def _check_not_binary(path: Path, head: bytes) -> None:
    nul = head.find(b"\x00")
    if nul >= 0:
        hint = ""
        if head.startswith(b"PK\x03\x04"):
            hint = "; it is a ZIP archive, perhaps an XLSX file with the wrong extension"
        elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = "; it starts with a UTF-16 byte-order mark: give encoding='utf-16'"
        raise InputFileError(f"{path}: file looks binary, not CSV text (NUL byte at offset {nul}){hint}")
    if head:
        control = len(head) - len(head.translate(None, _CONTROL_BYTES))
        if control / len(head) > _CONTROL_SHARE:
            raise InputFileError(
                f"{path}: file looks binary, not CSV text ({control} control bytes in the first {len(head)} bytes)"
            )


def _check_not_empty(path: Path, encoding: str) -> None:
    with path.open("r", encoding=encoding, newline="") as f:
        while True:
            text = f.read(_CHUNK_BYTES)
            if not text:
                raise InputFileError(f"{path}: file is empty")
            if text.strip().strip("\ufeff").strip():
                return


def detect_encoding(path: Path, declared: str = "auto") -> str:
    """The codec to read the file with; raises InputFileError for binary or undecodable files."""
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    if declared != "auto":
        try:
            encoding = codecs.lookup(declared).name
        except LookupError:
            raise InputFileError(f"{path}: unknown encoding {declared!r}") from None
        if encoding not in _WIDE_UNICODE:
            _check_not_binary(path, head)
        bad = _first_bad_byte(path, encoding)
        if bad is not None:
            raise InputFileError(f"{path}: byte at offset {bad[0]} does not decode as {encoding} ({bad[1]})")
    else:
        _check_not_binary(path, head)
        if head.startswith(codecs.BOM_UTF8):
            bad = _first_bad_byte(path, "utf-8", skip=len(codecs.BOM_UTF8))
            encoding = "utf-8-sig"
        else:
            bad = _first_bad_byte(path, "utf-8")
            encoding = "utf-8"
        if bad is not None:
            bad_1252 = _first_bad_byte(path, "cp1252")
            if bad_1252 is not None:
                raise InputFileError(
                    f"{path}: not UTF-8 (byte at offset {bad[0]}) nor Windows-1252 (byte at offset "
                    f"{bad_1252[0]}); give the encoding explicitly"
                )
            encoding = "cp1252"
    _check_not_empty(path, encoding)
    return encoding


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


def _split_with(sample: str, whole: bool, delimiter: str) -> _Split:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    try:
        records = [r for r in itertools.islice(reader, _SAMPLE_RECORDS + 2) if r]
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


def detect_delimiter(path: Path, encoding: str, declared: str | None = None) -> tuple[str, list[str]]:
    """The delimiter and notes; raises InputFileError when it cannot be told or contradicts the file."""
    sample, whole = _sample(path, encoding)
    splits = {d: _split_with(sample, whole, d) for d in CANDIDATES}
    splitting = sorted(
        (s for s in splits.values() if s.header_fields > 1),
        key=lambda s: (s.agreement, s.header_fields),
        reverse=True,
    )
    if declared is not None:
        own = splits.get(declared) or _split_with(sample, whole, declared)
        others = [s for s in splitting if s.delimiter != declared]
        if own.header_fields <= 1 and others:
            raise InputFileError(
                f"{path}: declared delimiter {_show(declared)} but the header is split by {_show(others[0].delimiter)}"
            )
        return declared, []
    if splitting:
        return splitting[0].delimiter, []
    if any(s.split_below for s in splits.values()):
        raise InputFileError(
            f"{path}: could not detect the delimiter: the header has one column with each of "
            f"{', '.join(map(_show, CANDIDATES))} but the records below it are split; give the delimiter explicitly"
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


def _take(reader: Reader, n: int, path: Path) -> list[list[str]]:
    """The next n records, a parse error becoming InputFileError with the physical line."""
    try:
        return list(itertools.islice(reader, n))
    except csv.Error as e:
        raise InputFileError(
            f"{path}: line {reader.line_num} cannot be parsed ({e}); perhaps a quote is never closed"
        ) from None


def _read_header(reader: Reader, path: Path) -> tuple[list[str], int]:
    """The first non-blank record and its record number."""
    number = 0
    while record := _take(reader, 1, path):
        number += 1
        if record[0]:
            return record[0], number
    raise InputFileError(f"{path}: file is empty")


def _columns(rows: list[list[str]], width: int) -> list[pa.Array]:
    """Transpose rows of equal width into one string array per column (C-speed, no row loop)."""
    flat = pa.array(list(itertools.chain.from_iterable(rows)), type=pa.string())
    starts = np.arange(len(rows), dtype=np.int64) * width
    return [blank_to_null(flat.take(starts + j)) for j in range(width)]


def _stage_chunk(rows: list[list[str]], first: int, width: int, delimiter: str, writer: StageWriter) -> tuple[int, int]:
    """Stage one chunk; returns (records that are rows, blank records)."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    numbers = np.arange(first, first + len(rows), dtype=np.int64)
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


def _stage_python(
    reader: Reader, path: Path, first: int, width: int, delimiter: str, chunk_rows: int, writer: StageWriter
) -> _Counts:
    """Stage the records after the header with the `csv` module, chunk by chunk."""
    counts = _Counts()
    next_row = first
    while chunk := _take(reader, chunk_rows, path):
        read, blank = _stage_chunk(chunk, next_row, width, delimiter, writer)
        counts.rows_read += read
        counts.blank_lines += blank
        next_row += len(chunk)
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
    path: Path, encoding: str, delimiter: str, width: int, writer: StageWriter, *, tolerant: bool
) -> _Counts | None:
    """Stage the records after a one-line header with Arrow's CSV reader, or None to fall back.

    Arrow parses several times faster than the `csv` module and agrees with it on every record
    that has as many fields as the header. Without `tolerant` (multi-threaded, fastest) the
    first record with another number of fields abandons this path. With `tolerant` the parser
    runs on one thread, which lets it say the record number of every such record: those are
    rejected as ``ragged_row`` exactly as the `csv` module path does. A row of empty fields (a
    blank line, or ",,") and any other parse trouble return None: the caller falls back to the
    `csv` module.
    """
    names = [f"f{i}" for i in range(width)]
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    skipped = _Skipped()
    try:
        batches = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=_ARROW_BLOCK_BYTES, encoding=arrow_encoding,
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
        next_row = 2
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
    return counts


def stage_csv(path: Path, out_dir: Path, options: ReadOptions, *, fast: bool = True) -> StagedFile:
    """Stage a delimited text file; see the module docstring for the rules.

    ``fast=False`` skips the Arrow path (tests use it to check both paths agree).
    """
    encoding = detect_encoding(path, options.encoding)
    delimiter, notes = detect_delimiter(path, encoding, options.delimiter)
    with path.open("r", encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        raw_header, header_row = _read_header(reader, path)
        header = make_header(raw_header)
        notes = notes + header.notes
        width = len(header.columns)
        counts: _Counts | None = None
        if fast and width > 1 and header_row == 1 and reader.line_num == 1:
            for tolerant in (False, True):
                with StageWriter(path, out_dir, header.columns) as writer:
                    counts = _stage_arrow(path, encoding, delimiter, width, writer, tolerant=tolerant)
                    if counts is None:
                        writer.abort()
                    else:
                        writer.commit()
                        break
        if counts is None:
            with StageWriter(path, out_dir, header.columns) as writer:
                counts = _stage_python(reader, path, header_row + 1, width, delimiter, options.chunk_rows, writer)
                writer.commit()
    if header_row > 1:
        notes.append(f"header is record {header_row}: blank lines above it skipped")
    if counts.blank_lines:
        notes.append(f"{counts.blank_lines} blank line(s) below the header skipped (not rows)")
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
        encoding=encoding,
        delimiter=delimiter,
        notes=notes,
    )
