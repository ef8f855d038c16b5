"""Official headcounts as data: BPS's poverty rate (P0) per province or regency, by year.

`[welfare] headcounts = "kemiskinan_bps.csv"`::

    region,year,poor_share,extreme_share
    32,2024,7.46,0.9             a province, shares in percent
    32.04,2024,6.12,             a regency (dotted, or 3204); extreme blank: not given
    32.04,2023,6.55,1.1          an older year: the latest year of a region is the one used

Shares are percentages when any share in the file is above 1 (BPS publishes percentages), else
fractions (0.0746).

The file may be UTF-8 (with or without a BOM) or Windows-1252, separated by ``,`` or ``;`` (with
``;`` a decimal comma). Every mistake is reported at once with its file and line
(`HeadcountError`). An official share takes precedence over the survey's estimate for its
region (`headcounts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dtsen.errors import DtsenError, ProblemLog
from dtsen.ingest.small_table import parse_number, read_records

COLUMNS = ("region", "year", "poor_share", "extreme_share")
_REQUIRED = ("region", "year", "poor_share")
_PROVINCE = re.compile(r"^\d{2}$")
_REGENCY = re.compile(r"^(\d{2})\.?(\d{2})$")


class HeadcountError(DtsenError):
    """The official headcount table is wrong; every mistake is listed with its file and line."""


@dataclass(frozen=True)
class OfficialHeadcount:
    """The official shares of one region (a province "PP" or a regency "PP.KK") in one year."""

    region: str
    year: int
    poor_share: float
    extreme_share: float | None
    line: int

    def share(self, line: str) -> float | None:
        return self.poor_share if line == "poor" else self.extreme_share


def _region(text: str) -> str | None:
    t = text.strip()
    if _PROVINCE.match(t):
        return t
    m = _REGENCY.match(t)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def _number(text: str, decimal_comma: bool, what: str, where: str, log: ProblemLog) -> float | None:
    value = parse_number(text, decimal_comma)
    if value is None:
        log.add(f"{what} {text!r} is not a number" if text else f"{what} is blank", where)
        return None
    if not 0 <= value <= 100:
        log.add(f"{what} {text!r} is not a share (0-1) or a percentage (0-100)", where)
        return None
    return value


def read_headcounts(path: Path) -> dict[str, OfficialHeadcount]:
    """The latest year's shares of every region in the table; raises `HeadcountError` listing
    every mistake."""
    delimiter, records = read_records(path, HeadcountError, "the headcount table", COLUMNS)
    header_line, header = records[0]
    names = [cell.strip().strip("\ufeff").strip().lower() for cell in header]
    absent = [c for c in _REQUIRED if c not in names]
    if absent:
        raise HeadcountError(
            f"{path} line {header_line}: the header lacks the column(s) {', '.join(absent)}; "
            f"it must be {','.join(COLUMNS)}"
        )
    at = [names.index(c) if c in names else None for c in COLUMNS]
    log = ProblemLog()
    decimal_comma = delimiter != ","
    parsed: list[tuple[int, str, int, float, float | None]] = []
    for line, record in records[1:]:
        where = f"{path} line {line}"
        cells = [record[i].strip() if i is not None and i < len(record) else "" for i in at]
        region_text, year_text, poor_text, extreme_text = cells
        region = _region(region_text)
        if region is None:
            log.add(f"bad region code {region_text!r}", where, "a province (32) or a regency (32.04 or 3204)")
        year = int(year_text) if re.fullmatch(r"\d{4}", year_text) else None
        if year is None:
            log.add(f"bad year {year_text!r}", where, "four digits, e.g. 2024")
        poor = _number(poor_text, decimal_comma, "poor_share", where, log)
        extreme = _number(extreme_text, decimal_comma, "extreme_share", where, log) if extreme_text else None
        if poor is not None and extreme is not None and extreme > poor:
            log.add(f"extreme_share {extreme_text} is above poor_share {poor_text}", where)
            continue
        if region is None or year is None or poor is None:
            continue
        parsed.append((line, region, year, poor, extreme))
    unit = 100.0 if any(p > 1 or (e or 0) > 1 for _, _, _, p, e in parsed) else 1.0
    found: dict[tuple[str, int], int] = {}
    rows: dict[str, OfficialHeadcount] = {}
    for line, region, year, poor_value, extreme_value in parsed:
        where = f"{path} line {line}"
        poor = poor_value / unit
        extreme = None if extreme_value is None else extreme_value / unit
        first = found.get((region, year))
        if first is not None:
            log.add(f"duplicate row for region {region}, year {year} (first on line {first})", where)
            continue
        found[(region, year)] = line
        if region not in rows or rows[region].year < year:
            rows[region] = OfficialHeadcount(region, year, poor, extreme, line)
    log.raise_if_any(HeadcountError, f"{path}: the headcount table has mistakes")
    return rows
