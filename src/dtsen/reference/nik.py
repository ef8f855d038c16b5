"""NIK (Nomor Induk Kependudukan) parsing and validation, as Ibis expressions.

A NIK is 16 digits `PPKKCC DDMMYY SSSS`: the district (kecamatan) of first registration, the
birth date with 40 added to the day for women, and a serial 0001-9999. A valid format does
not mean the NIK exists; only Dukcapil can confirm that.

Excel damages NIKs in two ways, both detected here. Per value: the number is shown as a float
(`3.20405E+15`, `3204051234567890.0`). Per column: every value was stored as a
15-significant-digit float and so ends in 0 (`flag_rounded_column`). Damaged values are never
repaired: they are quarantined.

The 16-digit cleaning and the damage checks are shared with the nomor KK (`dtsen.reference.kk`)
through `digits16_parts` and `check_digits16`. Every expression has a pure-Python twin
(`check_nik`) for single values; tests hold the two to the same answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import ibis
import ibis.expr.types as ir

from dtsen.reference.regions import WHITESPACE, RegionMaster, strip_whitespace, strip_whitespace_expr

# Separators removed inside a number: whitespace, dots and dashes. No backslashes anywhere:
# every pattern must mean the same to Python, RE2 (DuckDB) and Java (Spark).
_SEPARATORS = "[" + WHITESPACE + ".-]"
# Excel's text marker: a leading apostrophe typed to keep the digits as text.
_TEXT_MARKER = "^'"
# A float written by Excel: scientific notation (3.20405E+15, 3,20405E+15, 3.20405e15), a
# decimal part of zeros only (3204051234567890.0), or 15+ integer digits and a decimal part.
_EXCEL_FLOAT = "^([0-9]+([.,][0-9]*)?[eE][+-]?[0-9]+|[0-9]+[.,]0+|[0-9]{15,}[.,][0-9]+)$"
_SIXTEEN = "^[0-9]{16}$"
_EXCEL_FLOAT_RE = re.compile(_EXCEL_FLOAT)
_SEPARATORS_RE = re.compile(_SEPARATORS)
_SIXTEEN_RE = re.compile(_SIXTEEN)


# -- shared with the nomor KK --------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Digits16Parts:
    """A raw 16-digit identifier (NIK or KK) cleaned, with its format checks (Ibis expressions)."""

    clean: ir.StringValue  # 16 digits, or null when missing, damaged or not 16 digits
    missing: ir.BooleanValue  # null or blank
    excel_damaged: ir.BooleanValue  # a float form written by Excel
    bad_format: ir.BooleanValue  # present, not damaged, not 16 digits after cleaning
    district_code: ir.StringValue  # dotted PP.KK.CC from the first 6 digits, null unless clean


def _trimmed(raw: ir.StringValue) -> ir.StringValue:
    return strip_whitespace_expr(raw.cast("string")).re_replace(_TEXT_MARKER, "")


def _digits(raw: ir.StringValue) -> ir.StringValue:
    """The raw value without whitespace, dots and dashes (digits when the value is a number)."""
    return _trimmed(raw).re_replace(_SEPARATORS, "")


def digits16_text(raw: ir.StringValue) -> tuple[ir.StringValue, ir.StringValue]:
    """The two cleaned texts every check reads: (trimmed, digits). `trimmed` is the value without
    surrounding whitespace and Excel's text marker; `digits` also without inner whitespace, dots
    and dashes.

    Most values are already 16 plain digits: one cheap match sends them past the cleaning (the
    engines evaluate a CASE branch only for the rows that take it). A caller with many checks
    computes these once, as columns, and passes them to `digits16_parts` / `nik_parts`, so that
    the regexes are not repeated in every expression that reads them.
    """
    plain = raw.re_search(_SIXTEEN).fill_null(False)
    return ibis.ifelse(plain, raw, _trimmed(raw)), ibis.ifelse(plain, raw, _digits(raw))


def digits16_parts(
    raw: ir.StringValue, text: tuple[ir.StringValue, ir.StringValue] | None = None
) -> Digits16Parts:
    """Clean a raw NIK or KK column: strip whitespace, dots and dashes; detect Excel damage.

    `text` is `digits16_text(raw)`, when the caller has it as columns already."""
    t, digits = text if text is not None else digits16_text(raw)
    missing = (raw.isnull() | (t == "")).fill_null(True)
    damaged = (~missing & t.re_search(_EXCEL_FLOAT)).fill_null(False)
    ok = ~damaged & digits.re_search(_SIXTEEN).fill_null(False)
    clean = ibis.ifelse(ok, digits, ibis.null("string"))
    bad_format = ~missing & ~damaged & ~ok
    dotted = digits.substr(0, 2) + "." + digits.substr(2, 2) + "." + digits.substr(4, 2)
    district = ibis.ifelse(ok, dotted, ibis.null("string"))
    return Digits16Parts(clean, missing, damaged, bad_format, district)


@dataclass(frozen=True)
class Digits16Check:
    """The pure-Python twin of `Digits16Parts` for one value."""

    clean: str | None
    missing: bool
    excel_damaged: bool
    bad_format: bool
    district_code: str | None


def check_digits16(s: str | None) -> Digits16Check:
    """`digits16_parts` for a single value."""
    t = re.sub(_TEXT_MARKER, "", strip_whitespace(s)) if s is not None else ""
    missing = t == ""
    damaged = not missing and _EXCEL_FLOAT_RE.search(t) is not None
    digits = _SEPARATORS_RE.sub("", t)
    ok = not damaged and _SIXTEEN_RE.search(digits) is not None
    clean = digits if ok else None
    district = f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}" if ok else None
    return Digits16Check(clean, missing, damaged, not missing and not damaged and not ok, district)


def flag_rounded_column(
    table: ir.Table, clean_col: str, by: Sequence[str], share: float = 0.5, min_count: int = 5
) -> ir.Table:
    """Add `<clean_col>_rounded`: True for values ending in 0 in a group Excel rounded.

    A column stored as a 15-significant-digit float has every 16-digit value ending in 0.
    A group (`by`, e.g. `["_source", "_file"]`) is taken as rounded when at least `min_count`
    of its values end in 0 and they are more than `share` of its non-null values. Genuine
    NIKs end in 0 about one time in ten, so a clean file is flagged with a probability below
    0.1% at the defaults (the worst case is a file of 9 values). Works for NIK and KK alike.
    """
    return flag_rounded_columns(table, [clean_col], by, share, min_count)


def flag_rounded_columns(
    table: ir.Table, clean_cols: Sequence[str], by: Sequence[str], share: float = 0.5, min_count: int = 5
) -> ir.Table:
    """`flag_rounded_column` for several columns at once: one aggregate, one join."""
    # A group-by joined back, not a window: one file is one huge window partition, which an
    # engine sorts on one core, while an aggregate runs in parallel.
    keys = list(by)
    if not keys:
        table, keys = table.mutate(_rk_all=ibis.literal(1)), ["_rk_all"]
    sums: dict[str, ir.Value] = {}
    for c in clean_cols:
        col = table[c]
        sums[f"_n_zero{c}"] = ibis.ifelse((col.right(1) == "0").fill_null(False), 1, 0).sum()
        sums[f"_n_present{c}"] = ibis.ifelse(col.notnull(), 1, 0).sum()
    counts = table.group_by(keys).aggregate(**sums)
    counts = counts.select(
        *[counts[k].name(f"_rk_{k}") for k in keys],
        **{
            f"_rk_hit{c}": (counts[f"_n_zero{c}"] >= min_count) & (counts[f"_n_zero{c}"] > counts[f"_n_present{c}"] * share)
            for c in clean_cols
        },
    )
    joined = table.left_join(counts, [table[k] == counts[f"_rk_{k}"] for k in keys])
    flags = {
        f"{c}_rounded": (joined[c].right(1) == "0").fill_null(False) & joined[f"_rk_hit{c}"].fill_null(False)
        for c in clean_cols
    }
    out = joined.mutate(**flags).drop(*[f"_rk_{k}" for k in keys], *[f"_rk_hit{c}" for c in clean_cols])
    return out.drop("_rk_all") if "_rk_all" in out.columns else out


# -- NIK ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class NikParts:
    """A NIK column parsed and checked; every field is an Ibis expression over the same table."""

    clean: ir.StringValue
    missing: ir.BooleanValue
    excel_damaged: ir.BooleanValue
    bad_format: ir.BooleanValue
    bad_date: ir.BooleanValue  # 16 digits, but DDMMYY is not a real date (women: day + 40)
    bad_serial: ir.BooleanValue  # serial 0000
    district_code: ir.StringValue
    birth_date: ir.DateValue  # null unless a real date; 20YY unless that is after as_of
    sex: ir.StringValue  # 'L' or 'P', null unless the day is 01-31 or 41-71


def nik_parts(
    raw: ir.StringValue, as_of: dt.date, text: tuple[ir.StringValue, ir.StringValue] | None = None
) -> NikParts:
    """Parse a raw NIK column: cleaning, Excel damage, format, birth date, sex, serial, district.

    The date logic reads the digits with TRY_CAST and every result is gated by `clean`, so the
    expressions stay small when compiled (Ibis inlines each use of a sub-expression); `text`
    is `digits16_text(raw)` when the caller has it as columns already.
    """
    text = text if text is not None else digits16_text(raw)
    base = digits16_parts(raw, text)
    clean = base.clean
    present = clean.notnull()
    n6 = text[1].substr(6, 6).try_cast("int32")  # DDMMYY; equals clean's when clean is set
    dd = n6 // 10000
    mm = (n6 // 100) % 100
    yy = n6 % 100
    day = dd % 40  # 41-71 (women) -> 1-31; 32-40 and 72-79 -> 32-40 or 0, caught below
    day_ok = present & day.between(1, 31) & (dd < 80)
    # 20YY unless that date is after as_of (compared as YYMMDD numbers, no date is built).
    is_20 = (yy * 10000 + mm * 100 + day) <= (as_of.year - 2000) * 10000 + as_of.month * 100 + as_of.day
    year = yy + ibis.ifelse(is_20, 2000, 1900)
    leap = (yy % 4 == 0) & ((yy != 0) | is_20)  # 1900 <= year <= 2099
    month_days = 31 - ibis.ifelse(mm == 2, ibis.ifelse(leap, 2, 3), 0) - ibis.ifelse(mm.isin([4, 6, 9, 11]), 1, 0)
    real = (day_ok & mm.between(1, 12) & (day <= month_days)).fill_null(False)
    # make_date gets a null day unless the date is real: DuckDB raises on an impossible date.
    birth = ibis.date(year, mm, ibis.ifelse(real, day, ibis.null("int64")))
    sex = ibis.ifelse(day_ok, ibis.ifelse(dd > 40, "P", "L"), ibis.null("string"))
    return NikParts(
        clean=clean,
        missing=base.missing,
        excel_damaged=base.excel_damaged,
        bad_format=base.bad_format,
        bad_date=(present & ~real).fill_null(False),
        bad_serial=(clean.right(4) == "0000").fill_null(False),
        district_code=base.district_code,
        birth_date=birth,
        sex=sex,
    )


class NikDateSex(Protocol):
    """What the mismatch checks read: `NikParts`, or the same two columns once materialised."""

    @property
    def birth_date(self) -> ir.DateValue: ...

    @property
    def sex(self) -> ir.StringValue: ...


def nik_birth_date_mismatch(parts: NikDateSex, recorded_birth_date: ir.DateValue) -> ir.BooleanValue:
    """True when the NIK's birth date and the recorded one differ in day, month or 2-digit year.

    False when either is missing (the NIK cannot know the century, so only YY is compared).
    """
    nik = parts.birth_date
    rec = recorded_birth_date
    differ = (nik.day() != rec.day()) | (nik.month() != rec.month()) | (nik.year() % 100 != rec.year() % 100)
    return (nik.notnull() & rec.notnull() & differ).fill_null(False)


def nik_sex_mismatch(parts: NikDateSex, recorded_sex: ir.StringValue) -> ir.BooleanValue:
    """True when the NIK says L and the record says P, or the other way round.

    False when either side is missing or the recorded value is not L/P (another check).
    """
    rec = strip_whitespace_expr(recorded_sex).upper()
    return (parts.sex.notnull() & rec.isin(["L", "P"]) & (rec != parts.sex)).fill_null(False)


@dataclass(frozen=True)
class NikCheck:
    """One NIK checked in Python (for `dtsen nik CHECK`): parts and reason codes."""

    raw: str | None
    clean: str | None
    missing: bool
    excel_damaged: bool
    bad_format: bool
    bad_date: bool
    bad_serial: bool
    district_code: str | None
    birth_date: dt.date | None
    sex: str | None
    reasons: list[str] = field(default_factory=list)  # codes from dtsen.ingest.reasons


def _nik_date(clean: str, as_of: dt.date) -> tuple[dt.date | None, str | None]:
    dd, mm, yy = int(clean[6:8]), int(clean[8:10]), int(clean[10:12])
    sex = "L" if 1 <= dd <= 31 else "P" if 41 <= dd <= 71 else None
    day = dd - 40 if sex == "P" else dd
    year = 2000 + yy if (2000 + yy, mm, day) <= (as_of.year, as_of.month, as_of.day) else 1900 + yy
    if sex is None:
        return None, None
    try:
        return dt.date(year, mm, day), sex
    except ValueError:
        return None, sex


def check_nik(s: str | None, as_of: dt.date, master: RegionMaster | None = None) -> NikCheck:
    """`nik_parts` for one value, with its reason codes; `master` adds the district check."""
    base = check_digits16(s)
    birth, sex, bad_date, bad_serial = None, None, False, False
    if base.clean is not None:
        birth, sex = _nik_date(base.clean, as_of)
        bad_date = birth is None
        bad_serial = base.clean[12:16] == "0000"
    reasons: list[str] = []
    if base.missing:
        reasons.append("nik_missing")
    if base.excel_damaged:
        reasons.append("nik_excel_damaged")
    if base.bad_format:
        reasons.append("nik_bad_format")
    if master is not None and master.is_loaded and base.district_code and master.get(base.district_code) is None:
        reasons.append("nik_bad_region")
    if bad_date:
        reasons.append("nik_bad_date")
    if bad_serial:
        reasons.append("nik_bad_serial")
    return NikCheck(
        raw=s,
        clean=base.clean,
        missing=base.missing,
        excel_damaged=base.excel_damaged,
        bad_format=base.bad_format,
        bad_date=bad_date,
        bad_serial=bad_serial,
        district_code=base.district_code,
        birth_date=birth,
        sex=sex,
        reasons=reasons,
    )
