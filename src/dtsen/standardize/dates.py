"""Dates written as text, parsed on the engine without ever raising.

`parse_date(raw, formats, as_of)` tries the formats in the given order; the first one whose
*shape* matches the (trimmed) text wins, and the text is then a date or invalid: a later format
is not tried. Day and month may have one or two digits ("1-2-1990"). The parts are checked
(month 1-12, day 1 to the days in that month, leap years included, year `MIN_YEAR`-`MAX_YEAR`)
before a date is built from clamped parts, because DuckDB raises on impossible dates.

Formats (`FORMATS`):
- "DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD" (also with a time, "1990-02-03 00:00:00", as the XLSX
  reader writes datetimes), "YYYYMMDD";
- "DD-MM-YY": the century is 20YY when that date is not after `as_of`, else 19YY;
- "EXCEL_SERIAL": a number of days since 1899-12-30 ("33000" or "33000.0"; a fraction is a time
  of day and is dropped), accepted only from 1900-01-01 to `as_of` + 1 year so that a code or a
  NIK-like number is not taken for a date; at most five digits before the point.

A blank text (null, empty, spaces, or a lone "-" as forms use for "none") is `missing`; any other
text that gives no date is `invalid`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from dtsen.errors import SettingsError

MIN_YEAR = 1800  # earlier years are typing mistakes in this registry (see _REAL_DATE)
MAX_YEAR = 2199
EXCEL_EPOCH = dt.date(1899, 12, 30)

_DMY = r"([0-9]{1,2})"
_TIME = r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
# format -> (shape regex, groups of year, month, day)
_SHAPES: dict[str, tuple[str, int, int, int]] = {
    "DD-MM-YYYY": (f"^{_DMY}-{_DMY}-([0-9]{{4}})$", 3, 2, 1),
    "DD/MM/YYYY": (f"^{_DMY}/{_DMY}/([0-9]{{4}})$", 3, 2, 1),
    "YYYY-MM-DD": (f"^([0-9]{{4}})-{_DMY}-{_DMY}{_TIME}$", 1, 2, 3),
    "DD-MM-YY": (f"^{_DMY}-{_DMY}-([0-9]{{2}})$", 3, 2, 1),
    "YYYYMMDD": ("^([0-9]{4})([0-9]{2})([0-9]{2})$", 1, 2, 3),
}
_SERIAL = r"^([0-9]{1,5})(?:\.[0-9]*)?$"

# A real date "YYYY-MM-DD" with MIN_YEAR <= year <= MAX_YEAR, as one regex: months of 31, 30 and
# 28 days, and 29 February in leap years (divisible by 4; of the century years only 2000).
_YEAR = "(?:1[89]|2[01])[0-9]{2}"
_LEAP = "(?:(?:1[89]|2[01])(?:0[48]|[2468][048]|[13579][26])|2000)"
_REAL_DATE = (
    f"^(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    f"|{_LEAP}-02-29)$"
)
FORMATS: tuple[str, ...] = (*_SHAPES, "EXCEL_SERIAL")


@dataclass(frozen=True)
class ParsedDate:
    """Expressions for one parsed date column."""

    value: ir.DateValue  # the date, or null
    missing: ir.BooleanValue  # the text is null or blank
    invalid: ir.BooleanValue  # the text is present but is not a real date in any allowed format


def _iso(text: ir.StringValue, fmt: str, as_of: dt.date) -> ir.StringValue:
    """The parts of `fmt` found in `text` as "YYYY-MM-DD" (not yet checked to be a real date)."""
    pattern, gy, gm, gd = _SHAPES[fmt]
    year = text.re_extract(pattern, gy)
    month = text.re_extract(pattern, gm).lpad(2, "0")
    day = text.re_extract(pattern, gd).lpad(2, "0")
    if fmt == "DD-MM-YY":
        not_after = ("20" + year + month + day) <= as_of.strftime("%Y%m%d")
        year = ibis.ifelse(not_after, "20" + year, "19" + year)
    return year + "-" + month + "-" + day


def _check_formats(formats: Sequence[str]) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise SettingsError(
            f"date formats {list(formats)!r}: unknown {unknown!r}" if unknown else "date formats: none given",
        )


def prepared_date(raw: ir.StringValue) -> ir.StringValue:
    """The text a date is read from: whitespace runs as one space, trimmed."""
    return raw.re_replace(r"[\s\x{00A0}]+", " ").strip()


def parse_date(
    raw: ir.StringValue, formats: Sequence[str], as_of: dt.date, text: ir.StringValue | None = None
) -> ParsedDate:
    """Parse `raw` with the first format (in `formats` order) whose shape matches it; `text` is
    `prepared_date(raw)`, when the caller has it as a column (it is read in every branch)."""
    _check_formats(formats)
    text = prepared_date(raw) if text is None else text
    missing = raw.isnull() | text.re_search("^-*$")

    # the first format whose shape matches wins; its parts are written as "YYYY-MM-DD", then
    # kept only when that is a real date (so that the cast never sees an impossible one)
    iso = ibis.cases(
        *(
            (text.re_search(_shape(f)), _serial_iso(text, as_of) if f == "EXCEL_SERIAL" else _iso(text, f, as_of))
            for f in formats
        ),
        else_=ibis.null("string"),
    )
    value = iso.re_extract(_REAL_DATE, 0).nullif("").cast("date")
    value = ibis.ifelse(missing, ibis.null("date"), value)
    return ParsedDate(value=value, missing=missing, invalid=~missing & value.isnull())


def _shape(fmt: str) -> str:
    return _SERIAL if fmt == "EXCEL_SERIAL" else _SHAPES[fmt][0]


def _serial_iso(text: ir.StringValue, as_of: dt.date) -> ir.StringValue:
    """An Excel serial day number in range as "YYYY-MM-DD", else a text that is not a date."""
    lo = (dt.date(1900, 1, 1) - EXCEL_EPOCH).days
    hi = (_plus_one_year(as_of) - EXCEL_EPOCH).days
    serial = text.re_extract(_SERIAL, 1).nullif("").cast("int64")
    ok = serial.between(lo, hi).fill_null(False)
    day = ibis.date(EXCEL_EPOCH) + ibis.ifelse(ok, serial, 0).as_interval("D")
    return ibis.ifelse(ok, day.strftime("%Y-%m-%d"), "out of range")


def _plus_one_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def age_at(birth: ir.DateValue, as_of: dt.date) -> ir.IntegerValue:
    """Whole years from `birth` to `as_of` (someone born on 29 February turns a year older on 1 March)."""
    before_birthday = (birth.month() > as_of.month) | ((birth.month() == as_of.month) & (birth.day() > as_of.day))
    return (as_of.year - birth.year() - ibis.ifelse(before_birthday, 1, 0)).cast("int64")
