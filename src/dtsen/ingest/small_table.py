"""Small tables people write by hand in Excel (coefficients, poverty lines): read every record
with its line number, and numbers with a decimal point or, where the delimiter allows, a
decimal comma. Reading errors name the file and line; they are raised as the caller's error.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from dtsen.errors import DtsenError, InputFileError
from dtsen.ingest.csv_reader import detect_delimiter, detect_encoding

_POINT_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_COMMA_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d*),\d+([eE][+-]?\d+)?$")


def parse_number(text: str, decimal_comma: bool) -> float | None:
    """A finite number written with a decimal point, or (when allowed) a decimal comma with
    optional thousands points (``1.234,5``); None when `text` is not such a number."""
    s = text.strip()
    if decimal_comma and "," in s:
        if not _COMMA_NUMBER.match(s):
            return None
        s = s.replace(".", "").replace(",", ".")
    elif not _POINT_NUMBER.match(s):
        return None
    value = float(s)
    return value if math.isfinite(value) else None


def read_records(
    path: Path, error: type[DtsenError], what: str, header: tuple[str, ...]
) -> tuple[str, list[tuple[int, list[str]]]]:
    """The delimiter and the non-blank records with their line numbers (the header first).

    UTF-8, UTF-8 with BOM or Windows-1252; `,` `;` `|` or tab. `what` names the table in
    messages ("the coefficient table"); an empty file names the `header` it needs."""
    try:
        encoding = detect_encoding(path)
        delimiter, _ = detect_delimiter(path, encoding)
        with path.open("r", encoding=encoding, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            try:
                records = [(reader.line_num, record) for record in reader]
            except csv.Error as e:
                if "field larger than field limit" in str(e):
                    raise error(f"{path} line {reader.line_num}: a field is longer than "
                                f"{csv.field_size_limit():,} characters (field too large)") from None
                raise error(
                    f"{path} line {reader.line_num}: cannot be parsed ({e}); perhaps a quote is never closed"
                ) from None
    except InputFileError as e:
        raise error(f"cannot read {what}: {e}") from None
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror or e})") from None
    records = [(n, r) for n, r in records if any(cell.strip() for cell in r)]
    if not records:
        raise error(f"{path}: {what} is empty; it needs the header {','.join(header)}")
    return delimiter, records
