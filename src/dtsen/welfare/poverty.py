"""Poverty lines as data: national by default, by province and urban/rural area when given.

BPS publishes a poverty line per province, separately for urban (perkotaan) and rural
(perdesaan) areas; the extreme-poverty line (Rp 391,000 per person per month by default) is
national. A project may give both as a CSV file (`[welfare] poverty_lines`)::

    province,area,poverty_line,extreme_line
    32,URBAN,612000,391000
    32,RURAL,548000,            a blank extreme line: the national one
    91,ALL,780000,450000        ALL: the whole province, where no URBAN/RURAL row applies

The file may be UTF-8 (with or without a BOM) or Windows-1252, separated by ``,`` or ``;``
(with ``;`` a line may have a decimal comma). Area is URBAN, RURAL or ALL, or in Indonesian
PERKOTAAN, PERDESAAN or SEMUA (also BPS's "Perkotaan+Perdesaan"), in any case. A Rupiah amount
with thousands points (``595.000``) is refused as ambiguous: write ``595000``. Every mistake is
reported at once with its file and line (`PovertyLineError`).

A family takes the most specific line that exists: (its province, its area) > (its province,
ALL) > national. A family whose area is unknown (urban null) takes its province's ALL line,
else the national one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from dtsen.errors import DtsenError, ProblemLog
from dtsen.ingest.small_table import parse_number, read_records
from dtsen.welfare.settings import EXTREME_LINE, POVERTY_LINE

Area = Literal["URBAN", "RURAL", "ALL"]
AREAS: dict[str, Area] = {
    "URBAN": "URBAN",
    "RURAL": "RURAL",
    "ALL": "ALL",
    "PERKOTAAN": "URBAN",
    "PERDESAAN": "RURAL",
    "SEMUA": "ALL",
    "PERKOTAAN+PERDESAAN": "ALL",
}
COLUMNS = ("province", "area", "poverty_line", "extreme_line")
_REQUIRED = COLUMNS[:3]
_PROVINCE = re.compile(r"^\d{2}$")
_THOUSANDS_POINTS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")


class PovertyLineError(DtsenError):
    """The poverty-line table is wrong; every mistake is listed with its file and line."""


@dataclass(frozen=True)
class ProvinceLine:
    """The lines of one province and area, Rp per person per month."""

    province: str
    area: Area
    poverty_line: float
    extreme_line: float


@dataclass(frozen=True)
class PovertyLines:
    """National lines, and lines by province and area where given."""

    poverty_line: float = POVERTY_LINE
    extreme_line: float = EXTREME_LINE
    by_province: tuple[ProvinceLine, ...] = ()

    def lines_for(self, province: str | None, urban: bool | None) -> tuple[float, float]:
        """(poverty line, extreme line) of one family: the most specific that exists."""
        area = None if urban is None else ("URBAN" if urban else "RURAL")
        found: dict[tuple[str, str], ProvinceLine] = {(r.province, r.area): r for r in self.by_province}
        row = found.get((province or "", area or "")) or found.get((province or "", "ALL"))
        return (row.poverty_line, row.extreme_line) if row else (self.poverty_line, self.extreme_line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "poverty_line": self.poverty_line,
            "extreme_line": self.extreme_line,
            "by_province": [
                {"province": r.province, "area": r.area, "poverty_line": r.poverty_line, "extreme_line": r.extreme_line}
                for r in sorted(self.by_province, key=lambda r: (r.province, r.area))
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PovertyLines:
        return cls(
            poverty_line=float(data["poverty_line"]),
            extreme_line=float(data["extreme_line"]),
            by_province=tuple(
                ProvinceLine(str(r["province"]), r["area"], float(r["poverty_line"]), float(r["extreme_line"]))
                for r in data.get("by_province", [])
            ),
        )


def line_exprs(lines: PovertyLines, t: ir.Table) -> tuple[ir.FloatingValue, ir.FloatingValue]:
    """(poverty_line, extreme_line) for every row of `t` (columns province_code "PP" and urban,
    a boolean that may be null): a CASE over the few lines, no join, the same on every engine."""
    province = t.province_code
    urban = t.urban
    # Within a province the (province, URBAN/RURAL) branches come before (province, ALL); a null
    # `urban` makes the area branches null, which CASE treats as not taken.
    rows = sorted(lines.by_province, key=lambda r: (r.area == "ALL", r.province, r.area))
    conditions: list[ir.BooleanValue] = []
    for r in rows:
        condition = province == r.province
        if r.area == "URBAN":
            condition = condition & urban
        elif r.area == "RURAL":
            condition = condition & ~urban
        conditions.append(condition)
    out: list[ir.FloatingValue] = []
    for national, attribute in ((lines.poverty_line, "poverty_line"), (lines.extreme_line, "extreme_line")):
        if not rows:
            out.append(ibis.literal(national, type="float64"))
            continue
        branches = [
            (c, ibis.literal(getattr(r, attribute), type="float64")) for c, r in zip(conditions, rows, strict=True)
        ]
        out.append(ibis.cases(*branches, else_=ibis.literal(national, type="float64")).cast("float64"))
    return out[0], out[1]


# -- reading the table ---------------------------------------------------------------------------


def _records(path: Path) -> tuple[str, list[tuple[int, list[str]]]]:
    """The delimiter and the non-blank records with their line numbers (the header first)."""
    return read_records(path, PovertyLineError, "the poverty-line table", COLUMNS)


class _Reader:
    def __init__(self, path: Path, decimal_comma: bool, poverty_line: float, extreme_line: float) -> None:
        self.path = path
        self.decimal_comma = decimal_comma
        self.national = (poverty_line, extreme_line)
        self.log = ProblemLog()
        self.seen: dict[tuple[str, Area], int] = {}
        self.rows: list[ProvinceLine] = []

    def _line(self, text: str, what: str, where: str) -> float | None:
        if _THOUSANDS_POINTS.match(text.strip()):
            plain = text.strip().replace(".", "")
            self.log.add(f"{what} {text!r} is ambiguous", where, f"write {plain} without thousands separators")
            return None
        value = parse_number(text, self.decimal_comma)
        if value is None:
            self.log.add(f"{what} {text!r} is not a number" if text else f"{what} is blank", where)
        elif value <= 0:
            self.log.add(f"{what} {text!r} is not positive", where)
            return None
        return value

    def read(self, line: int, province: str, area_text: str, poverty_text: str, extreme_text: str) -> None:
        where = f"{self.path} line {line}"
        ok = True
        if not _PROVINCE.match(province):
            hint = "two digits, e.g. 32"
            if re.fullmatch(r"\d", province):
                hint += "; Excel may have dropped a leading zero"
            self.log.add(f"bad province code {province!r}", where, hint)
            ok = False
        area = AREAS.get(re.sub(r"\s+", "", area_text).upper())
        if area is None:
            self.log.add(f"unknown area {area_text!r}", where, "URBAN, RURAL or ALL (PERKOTAAN, PERDESAAN, SEMUA)")
            ok = False
        poverty = self._line(poverty_text, "poverty line", where)
        extreme = self._line(extreme_text, "extreme line", where) if extreme_text else self.national[1]
        if poverty is not None and extreme is not None and extreme > poverty:
            given = f"{extreme:g}" if extreme_text else f"{extreme:g} (the national one, as the cell is blank)"
            self.log.add(f"the extreme line {given} is above the poverty line {poverty:g}", where)
            ok = False
        if ok and area is not None:
            first = self.seen.get((province, area))
            if first is not None:
                self.log.add(f"duplicate row for province {province}, area {area} (first on line {first})", where)
                return
            self.seen[(province, area)] = line
            if poverty is not None and extreme is not None:
                self.rows.append(ProvinceLine(province, area, poverty, extreme))


def read_poverty_lines(path: Path | None, poverty_line: float, extreme_line: float) -> PovertyLines:
    """The national lines, and the table at `path` when given; raises `PovertyLineError`
    listing every mistake."""
    if not (poverty_line > 0 and extreme_line > 0 and extreme_line <= poverty_line):
        raise PovertyLineError(
            f"national lines must be positive with the extreme line ({extreme_line:g}) not above the "
            f"poverty line ({poverty_line:g})"
        )
    if path is None:
        return PovertyLines(poverty_line, extreme_line)
    delimiter, records = _records(path)
    header_line, header = records[0]
    names = [cell.strip().strip("\ufeff").strip().lower() for cell in header]
    absent = [c for c in _REQUIRED if c not in names]
    if absent:
        raise PovertyLineError(
            f"{path} line {header_line}: the header lacks the column(s) {', '.join(absent)}; "
            f"it must be {','.join(COLUMNS)} (found: {delimiter.join(cell.strip() for cell in header)})"
        )
    at = [names.index(c) if c in names else None for c in COLUMNS]
    width = len(header)
    reader = _Reader(path, delimiter != ",", poverty_line, extreme_line)
    for line, record in records[1:]:
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            hint = "a decimal comma in a comma-separated file? use ';' as the delimiter" if delimiter == "," else ""
            reader.log.add(f"{len(record)} fields but the header has {width}", f"{path} line {line}", hint)
            continue
        cells = [record[i].strip() if i is not None and i < len(record) else "" for i in at]
        reader.read(line, *cells)
    reader.log.raise_if_any(PovertyLineError, f"{path}: the poverty-line table has mistakes")
    return PovertyLines(poverty_line, extreme_line, tuple(reader.rows))
