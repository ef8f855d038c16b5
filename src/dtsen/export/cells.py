"""What a spreadsheet cell written by dtsen may hold: the rule every export follows.

Registry data is written into files that people open in Excel or LibreOffice. A cell must never
become a formula there, never lose a code's leading zeros or digits, and never stop the writing
of a file. The rule, per column kind:

text     free text (names, addresses, reasons). Characters a cell cannot hold are removed (see
         below); text whose first character other than a space is ``=``, ``+``, ``-``, ``@``, a tab
         or a carriage return gets a leading ``'`` (the OWASP rule against CSV injection), in CSV
         and XLSX alike, so that the cell is shown as text and stays text when a person edits it
         or saves the sheet as CSV again.
code     identifiers kept as text (NIK, KK, region codes, RT/RW, record keys, dates as text). As
         text, and in CSV a code that Excel would turn into a number or a date (``003``,
         ``3204051705900001``, ``11.01.01``) or that starts with a formula character is written as
         the text literal ``="..."`` (inner quotes doubled): Excel shows exactly the text and runs
         nothing, since the whole value is one string constant. A code longer than 255
         characters (Excel's limit for such a literal) or holding a line break falls back to the
         text rule. In XLSX a code is a text cell with the text number format ``@``.
number   counts, scores, amounts: typed as numbers (XLSX numeric cells, plain digits in CSV).
         NaN and infinities are written as empty cells; an integer of 16 digits or more (beyond
         Excel's 15 significant digits, e.g. a NIK stored as a number) is written as a code, so
         that no digit is lost (in XLSX as the digits in a text cell), as is a float beyond
         Excel's largest number (9.99999999999999E+307); a value that is not a number is written
         by the text rule.

Characters removed from every text and code value: the C0 controls other than tab, line feed
and carriage return (NUL included), DEL and the C1 controls U+0080-U+009F, the non-characters
U+FFFE and U+FFFF, and lone surrogates. XML (and so XLSX) cannot hold most of them, and none
means anything in a name or an address. An XLSX text cell holds at most 32,767 characters
(Excel's limit); longer text is cut there, and its line ends are LF (as XML reads them). Booleans are YA / TIDAK as text and 1 / 0 as numbers;
dates are ISO text (YYYY-MM-DD).

The same rule exists twice, once per value (`csv_cell`, `xlsx_cell`) and once per Arrow column
(`csv_column`) for exports of millions of rows; tests hold both to the same results.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

Kind = Literal["text", "code", "number"]
KINDS: tuple[Kind, ...] = ("text", "code", "number")

FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
EXCEL_CELL_MAX = 32767  # characters in one cell
EXCEL_LITERAL_MAX = 255  # characters in a text literal inside a formula
EXCEL_DIGITS = 15  # significant digits Excel keeps of a number
EXCEL_LARGEST = 9.99999999999999e307  # the largest number an Excel cell holds
YES, NO = "YA", "TIDAK"

# Python's re and RE2 (pyarrow) spell the same classes; keep the two in step.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{7f}-\x{9f}\x{fffe}\x{ffff}]"  # Arrow strings hold no surrogates
_TRIGGER = re.compile(r"^[ \u00a0]*[=+\-@\t\r]")
_TRIGGER_RE2 = r"^[ \x{a0}]*[=+\-@\t\r]"
# Text Excel would read as a number or a date when it opens a CSV (NIK, '003', '2020-01-05').
_COERCES = re.compile(r"^[0-9 .,:/+\-eE%]*[0-9][0-9 .,:/+\-eE%]*$")
_COERCES_RE2 = r"^[0-9 .,:/+\-eE%]*[0-9][0-9 .,:/+\-eE%]*$"
_LINE_BREAK = re.compile(r"[\r\n]")
_BIG_INT = 10**EXCEL_DIGITS


def clean(text: str) -> str:
    """`text` without the characters a cell cannot hold (see the module docstring)."""
    return _ILLEGAL.sub("", text)


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could take `text` for a formula (first non-space character
    ``=``, ``+``, ``-``, ``@``, tab or carriage return)."""
    return _TRIGGER.match(text) is not None


def neutralise(text: str) -> str:
    """`text` with a leading ``'`` when a spreadsheet could take it for a formula."""
    return QUOTE + text if is_formula_like(text) else text


def _code_literal(text: str) -> bool:
    """True when a code goes into CSV as ="..." (Excel would change it, and the literal fits)."""
    return (
        (is_formula_like(text) or _COERCES.match(text) is not None)
        and len(text) <= EXCEL_LITERAL_MAX
        and _LINE_BREAK.search(text) is None
    )


def as_text(value: Any) -> str:
    """A non-null value as the text a person reads: booleans YA / TIDAK, dates ISO, floats
    without a spurious '.0' when whole."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < _BIG_INT else repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _number(value: Any) -> int | float | None:
    """The value as a number for a number column, or None when it is not one (or not finite)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal)  # bool is an int


def csv_cell(value: Any, kind: Kind, digits: int | None = None) -> str:
    """The CSV text of one cell (before the CSV quoting the writer adds)."""
    if value is None:
        return ""
    if kind == "number" and _is_number(value):
        number = _number(value)
        if number is None:
            return ""
        if isinstance(number, int):
            return csv_cell(str(number), "code") if abs(number) >= _BIG_INT else str(number)
        return repr(round(number, digits) if digits is not None else number)
    text = clean(as_text(value))
    if kind == "code" and _code_literal(text):
        return '="' + text.replace('"', '""') + '"'
    return neutralise(text)


def xlsx_cell(value: Any, kind: Kind) -> tuple[Any, bool]:
    """(value, is_text) of one XLSX cell: a number for a number column, else neutralised text."""
    if value is None:
        return None, False
    if kind == "number" and _is_number(value):
        number = _number(value)
        if number is None:
            return None, False
        if isinstance(number, int) and abs(number) >= _BIG_INT:
            return str(number), True  # every digit kept, as text (a number, never a formula)
        if isinstance(number, float) and abs(number) > EXCEL_LARGEST:
            return repr(number), True
        return number, False
    text = neutralise(clean(as_text(value)))
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as every XML reader would read it
    return (text[:EXCEL_CELL_MAX] if text else None), bool(text)


# -- the same rule on Arrow columns ------------------------------------------------------------
def _prefixed(prefix: str, text: pa.Array, suffix: str = "") -> pa.Array:
    return pc.binary_join_element_wise(prefix, text, suffix, "")


def _neutralised(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.match_substring_regex(text, _TRIGGER_RE2), _prefixed(QUOTE, text), text)


def _to_text(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, YES, NO)
    if pa.types.is_floating(column.type):
        return pc.if_else(pc.is_finite(column), column.cast(pa.string()), pa.scalar(None, pa.string()))
    return column.cast(pa.string())


def csv_column(column: pa.Array | pa.ChunkedArray, kind: Kind) -> pa.Array:
    """An Arrow column as the writer puts it into CSV: numbers stay numeric (non-finite floats
    and integers of 16 digits or more as for `csv_cell`), text and codes become strings."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if kind == "number" and (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        if pa.types.is_floating(array.type):
            return pc.if_else(pc.is_finite(array), array, pa.scalar(None, array.type))
        big = pc.fill_null(pc.greater_equal(pc.abs(array.cast(pa.int64())), _BIG_INT), False)
        if not pc.any(big).as_py():
            return array
        return pc.if_else(big, csv_column(array.cast(pa.string()), "code"), array.cast(pa.string()))
    if kind == "number" and pa.types.is_boolean(array.type):
        return array.cast(pa.int8())
    text = pc.replace_substring_regex(_to_text(array), _ILLEGAL_RE2, "")
    if kind != "code":
        return _neutralised(text)
    literal = pc.and_(
        pc.or_(pc.match_substring_regex(text, _TRIGGER_RE2), pc.match_substring_regex(text, _COERCES_RE2)),
        pc.and_(
            pc.less_equal(pc.utf8_length(text), EXCEL_LITERAL_MAX),
            pc.invert(pc.match_substring_regex(text, r"[\r\n]")),
        ),
    )
    wrapped = _prefixed('="', pc.replace_substring(text, '"', '""'), '"')
    return pc.if_else(pc.fill_null(literal, False), wrapped, _neutralised(text))


__all__ = [
    "EXCEL_CELL_MAX",
    "EXCEL_LITERAL_MAX",
    "FORMULA_TRIGGERS",
    "KINDS",
    "Kind",
    "as_text",
    "clean",
    "csv_cell",
    "csv_column",
    "is_formula_like",
    "neutralise",
    "xlsx_cell",
]
