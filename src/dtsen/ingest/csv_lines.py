"""Records that run across line ends: a quoted field with a newline, or a stray quote.

A CSV record may span several physical lines when a quoted field holds a line break. In an
export written without quoting (the old welfare list is one), a value that merely begins with a
quote (``"JL. MERDEKA``) opens a quoted field that runs across the line ends below it and
swallows the rows that follow, up to the next quote in the file. `careful_records` reads a stretch
of physical lines record by record (`careful_records`) and decides, for every record that
spans several lines, whether its quote is real:

A record spanning several lines is read again line by line ("split") when
1. strict parsing of its text fails: its quote closes in the middle of a field (``"AB"C``) or
   never closes; or
2. the `csv` module refuses it (a field longer than ``csv.field_size_limit()``: a runaway quote,
   or a field of megabytes); or
3. the header has several columns, its first line, read with quotes taken literally, already
   has the header's number of fields, and either the record does not (the quote made it
   ragged) or every one of its lines, read literally, has the header's number of fields too
   (each line is a whole row).
Otherwise the record is kept as one record (a legitimate quoted newline).

The quote that runs across a line end opens on the record's first line, so that line is the
one that costs: it is read by itself, and parsing goes on from the next line, with quotes, as
if the stray quote were not there (a second stray quote below costs its own line; a real
quoted newline below is still one record). A line read by itself is parsed with quotes
(strictly); when that does not give the header's number of fields, it is read with quotes taken
literally; when neither fits it is rejected as ``ragged_row`` with the line verbatim. A line
with a field longer than the limit is rejected as ``field_too_large`` (its text kept up to the
limit). Each such line counts as one record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

RAW_LIMIT = 131_072  # characters of a rejected line kept in quarantine


@dataclass(frozen=True)
class Item:
    """One record of a stretch: a row of fields, a blank line, or a rejected line."""

    fields: list[str] | None  # the record's fields ([] for a blank line), None when rejected
    line: int  # physical line where it starts (1-based, in the file)
    reason: str | None = None  # for a rejected line: a reason code
    raw: str = ""  # for a rejected line: its text
    detail: str = ""
    split: bool = False  # the line comes from a record that was read again line by line


def _strict_ok(text: str, delimiter: str) -> bool:
    try:
        list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return True


def _literal(line: str, delimiter: str) -> list[str]:
    return line.rstrip("\r\n").split(delimiter)


def _broken(span: list[str], record: list[str], delimiter: str, width: int) -> bool:
    """Whether a multi-line record's quote is stray (rules 1 and 3 of the module doc)."""
    if not _strict_ok("".join(span), delimiter):
        return True
    if width < 2:  # every line of a one-column file reads as one field
        return False
    counts = [len(_literal(line, delimiter)) for line in span]
    if counts[0] != width:
        return False
    return len(record) != width or all(n == width for n in counts[1:])


def line_alone(line: str, number: int, delimiter: str, width: int) -> Item:
    """One physical line read by itself: with quotes if that fits the header, else literally."""
    text = line.rstrip("\r\n")
    if not text:
        return Item([], number, split=True)
    limit = csv.field_size_limit()
    fields: list[str] | None = None
    try:
        fields = next(csv.reader([text], delimiter=delimiter, strict=True), [])
    except csv.Error:
        fields = None
    if fields is None or len(fields) != width:
        fields = _literal(text, delimiter)
    longest = max(map(len, fields), default=0)
    if longest > limit:
        return Item(None, number, "field_too_large", text[:RAW_LIMIT],
                    f"line {number}: a field of {longest:,} characters; the limit is {limit:,} (field too large)", True)
    if len(fields) != width:
        return Item(None, number, "ragged_row", text,
                    f"expected {width} fields, found {len(fields)} (line {number}, read by itself: a quote ran "
                    "across line ends)", True)
    return Item(fields, number, split=True)


class _Window:
    """Lines of a file, kept from a point on so that the parser can go back to one of them."""

    def __init__(self, source: Iterator[str]) -> None:
        self.source = source
        self.buf: list[str] = []
        self.base = 0  # index (0-based, in the stretch) of buf[0]
        self.pos = 0  # index of the next line the parser reads

    def __iter__(self) -> _Window:
        return self

    def __next__(self) -> str:
        k = self.pos - self.base
        if k < len(self.buf):
            line = self.buf[k]
        else:
            line = next(self.source)  # StopIteration ends the parse
            self.buf.append(line)
        self.pos += 1
        return line

    def lines(self, start: int, end: int) -> list[str]:
        return self.buf[start - self.base:end - self.base]

    def forget(self, before: int) -> None:
        """Lines before `before` will not be read again (dropped in batches: `del` is linear)."""
        if before - self.base > 4096:
            del self.buf[:before - self.base]
            self.base = before


def careful_records(source: Iterator[str], first_line: int, delimiter: str, width: int) -> Iterator[Item]:
    """The records of the physical lines of `source` (the first is line `first_line` of the
    file), each record that spans several lines checked; where its quote is stray, or the `csv`
    module refuses it, its first line is read by itself (`line_alone`) and parsing goes on from
    the line after it, so that a stray quote costs one line and a real quoted newline further
    down is still read as one record."""
    window = _Window(source)
    reader = csv.reader(window, delimiter=delimiter)
    while True:
        start = window.pos
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            record = None
        end = window.pos
        if record is None or (end - start > 1 and _broken(window.lines(start, end), record, delimiter, width)):
            yield line_alone(window.lines(start, start + 1)[0], first_line + start, delimiter, width)
            window.pos = start + 1
        else:
            yield Item(record, first_line + start)
        window.forget(start)


def tap(source: Iterator[str], sink: list[str]) -> Iterator[str]:
    """The lines of `source`, each also appended to `sink` (the lines a chunk of records used)."""
    append = sink.append
    for line in source:
        append(line)
        yield line
