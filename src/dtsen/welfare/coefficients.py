"""External PMT coefficients: a table a ministry estimated itself, applied as given.

The official model's weights are not public; a ministry may hand dtsen its own table, and
dtsen's own OLS model can be exported to the same format, edited, and read back. The format is
a CSV file (UTF-8, UTF-8 with a BOM, or Windows-1252; ``,`` or ``;`` as the delimiter, as
Indonesian Excel writes) with the header ``predictor,category,weight`` (any case; further
columns, such as a note, are ignored)::

    predictor,category,weight
    intercept,,13.2                 exactly once
    log_size,,-0.31                 a numeric or boolean predictor
    floor_type,TANAH,0              a categorical predictor: one row per catalogue category
    floor_type,KERAMIK,0.22           (the reference, the first, may have weight 0)
    floor_type,MISSING,-0.05        optional: the weight of an unknown value (default 0)
    mean,head_age,45.2              optional: the fill value of a numeric predictor's nulls (default 0)
    region,32,0.04                  optional: region effects, all "PP" (province) or all "PP.KK" (regency)

With ``;`` as the delimiter a weight may have a decimal comma (``0,12``, also ``1.234,5``); a
decimal point is read everywhere. Predictor names and categories are matched without regard to
case. Every mistake is reported at once, each with the file and line (`CoefficientTableError`).

A categorical predictor's reference category with weight 0 is implicit in `Coefficients` (as in
`fit_ols`), so that a table written by `write_coefficients` reads back to equal coefficients.
A model with a region level but no region effects reads back with level "none" (the same scores).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from dtsen.errors import DtsenError, ProblemLog
from dtsen.export import Column, write_csv
from dtsen.ingest.small_table import parse_number, read_records
from dtsen.welfare.ols import MISSING, Coefficients
from dtsen.welfare.predictors import PREDICTORS, Predictor

COLUMNS = ("predictor", "category", "weight")
INTERCEPT = "intercept"
REGION = "region"
MEAN = "mean"
_KEYWORDS = (INTERCEPT, REGION, MEAN)
_REGION_LEVELS = (("province", re.compile(r"^\d{2}$")), ("regency", re.compile(r"^\d{2}\.\d{2}$")))


class CoefficientTableError(DtsenError):
    """A coefficient table cannot be read or applied; every mistake is listed with its line."""


@dataclass(frozen=True)
class _Row:
    line: int
    predictor: str
    category: str
    weight: str
    too_wide: tuple[str, str] | None = None  # (message, hint) for a record wider than the header


def _read_rows(path: Path) -> tuple[str, list[_Row]]:
    """The delimiter and the non-blank records below the header, with their line numbers."""
    delimiter, records = read_records(path, CoefficientTableError, "the coefficient table", COLUMNS)
    header_line, header = records[0]
    names = [cell.strip().strip("\ufeff").strip().lower() for cell in header]
    absent = [c for c in COLUMNS if c not in names]
    if absent:
        raise CoefficientTableError(
            f"{path} line {header_line}: the header lacks the column(s) {', '.join(absent)}; "
            f"it must be {','.join(COLUMNS)} (found: {delimiter.join(cell.strip() for cell in header)})"
        )
    at = [names.index(c) for c in COLUMNS]
    width = len(header)
    rows: list[_Row] = []
    for line, record in records[1:]:
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            hint = "a decimal comma in a comma-separated file? use ';' as the delimiter" if delimiter == "," else ""
            rows.append(_Row(line, "", "", "", (f"{len(record)} fields but the header has {width}", hint)))
            continue
        cells = [record[i].strip() if i < len(record) else "" for i in at]
        rows.append(_Row(line, cells[0], cells[1], cells[2]))
    return delimiter, rows


def _unknown_hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}"


class _Reader:
    """Reads the rows into the parts of `Coefficients`, logging every mistake."""

    def __init__(self, path: Path, decimal_comma: bool) -> None:
        self.path = path
        self.decimal_comma = decimal_comma
        self.log = ProblemLog()
        self.seen: dict[tuple[str, str], int] = {}
        self.intercept: float | None = None
        self.weights: dict[tuple[str, str], float] = {}
        self.named: dict[str, int] = {}  # predictor -> first line naming it
        self.categories: dict[str, set[str]] = {}  # predictor -> categories with a row
        self.means: dict[str, tuple[float, int]] = {}
        self.regions: dict[str, float] = {}
        self.level: tuple[str, str, int] | None = None  # level, first code, its line

    def where(self, line: int) -> str:
        return f"{self.path} line {line}"

    def read(self, row: _Row) -> None:
        if row.too_wide:
            self.log.add(row.too_wide[0], self.where(row.line), row.too_wide[1])
            return
        name = row.predictor.lower()
        category = row.category.lower() if name == MEAN else row.category.upper()
        key = (name, category)
        if key in self.seen:
            what = f"{name},{row.category}" if row.category else name
            self.log.add(f"duplicate row for {what} (first on line {self.seen[key]})", self.where(row.line))
            return
        self.seen[key] = row.line
        weight = parse_number(row.weight, self.decimal_comma)
        if weight is None:
            shown = repr(row.weight) if row.weight else "blank"
            self.log.add(f"weight {shown} is not a number", self.where(row.line))
        if name == INTERCEPT:
            self._intercept(row, weight)
        elif name == REGION:
            self._region(row, weight)
        elif name == MEAN:
            self._mean(row, category, weight)
        elif name in PREDICTORS:
            self._predictor(row, PREDICTORS[name], category, weight)
        else:
            shown = repr(row.predictor) if row.predictor else "blank"
            hint = _unknown_hint(name, [*_KEYWORDS, *PREDICTORS])
            self.log.add(f"unknown predictor {shown}", self.where(row.line), hint)

    def _intercept(self, row: _Row, weight: float | None) -> None:
        if row.category:
            self.log.add(f"the intercept takes no category (got {row.category!r})", self.where(row.line))
        elif weight is not None:
            self.intercept = weight

    def _region(self, row: _Row, weight: float | None) -> None:
        code = row.category
        level = next((lvl for lvl, pattern in _REGION_LEVELS if pattern.match(code)), None)
        if level is None:
            hint = "'PP' for a province, 'PP.KK' for a regency"
            if re.fullmatch(r"\d{2}\.\d", code):
                hint += f"; Excel may have turned {code}0 into a number: format the column as text"
            self.log.add(f"bad region code {code!r}", self.where(row.line), hint)
            return
        if self.level is None:
            self.level = (level, code, row.line)
        elif self.level[0] != level:
            first_level, first_code, first_line = self.level
            self.log.add(
                f"region {code} is a {level} code but line {first_line} gave the {first_level} code "
                f"{first_code}; region effects must all be provinces or all regencies",
                self.where(row.line),
            )
            return
        if weight is not None:
            self.regions[code] = weight

    def _mean(self, row: _Row, name: str, value: float | None) -> None:
        predictor = PREDICTORS.get(name)
        if predictor is None:
            shown = repr(row.category) if row.category else "blank"
            hint = _unknown_hint(name, [p.name for p in PREDICTORS.values() if p.kind == "numeric"])
            self.log.add(f"mean of an unknown predictor {shown}", self.where(row.line), hint)
        elif predictor.kind != "numeric":
            self.log.add(
                f"mean of {name}, which is {predictor.kind}: only numeric predictors have one", self.where(row.line)
            )
        elif value is not None:
            self.means[name] = (value, row.line)

    def _predictor(self, row: _Row, p: Predictor, category: str, weight: float | None) -> None:
        self.named.setdefault(p.name, row.line)
        self.categories.setdefault(p.name, set()).add(category)
        if category == MISSING:
            pass
        elif p.kind == "categorical" and category not in p.categories:
            shown = f"unknown category {row.category!r}" if category else "no category"
            self.log.add(f"{shown} of {p.name}", self.where(row.line), f"categories: {', '.join(p.categories)}")
            return
        elif p.kind != "categorical" and category:
            self.log.add(
                f"unknown category {row.category!r} of {p.name}",
                self.where(row.line),
                f"{p.name} is {p.kind}: leave the category blank, or write {MISSING} for the weight of an unknown value",
            )
            return
        if weight is not None:
            self.weights[(p.name, category)] = weight

    def finish(self) -> Coefficients:
        if INTERCEPT not in {name for name, _ in self.seen}:
            self.log.add(f"no intercept row ({INTERCEPT},,<weight>)", str(self.path))
        for name, line in self.named.items():
            p = PREDICTORS[name]
            given = self.categories[name]
            needed = p.categories if p.kind == "categorical" else ("",)
            missing = [c for c in needed if c not in given]
            if p.kind != "categorical" and missing:
                self.log.add(f"{name} has no weight row ({name},,<weight>)", self.where(line))
            elif missing:
                self.log.add(
                    f"{name} lacks the categories {', '.join(missing)}",
                    self.where(line),
                    f"every category needs a row; the reference {p.categories[0]} may have weight 0",
                )
        for name, (_, line) in self.means.items():
            if name not in self.named:
                self.log.add(f"mean of {name}, which has no weight row", self.where(line))
        self.log.raise_if_any(CoefficientTableError, f"{self.path}: the coefficient table has mistakes")
        predictors = tuple(p for p in PREDICTORS.values() if p.name in self.named)
        reference = {(p.name, p.categories[0]) for p in predictors if p.kind == "categorical"}
        weights = {k: w for k, w in self.weights.items() if not (k in reference and w == 0.0)}
        return Coefficients(
            intercept=self.intercept if self.intercept is not None else 0.0,
            predictors=predictors,
            weights=weights,
            means={name: value for name, (value, _) in self.means.items()},
            region_level=self.level[0] if self.level else "none",
            regions=self.regions,
        )


def read_coefficients(path: Path) -> Coefficients:
    """Read a coefficient table; raises `CoefficientTableError` listing every mistake."""
    delimiter, rows = _read_rows(path)
    reader = _Reader(path, decimal_comma=delimiter != ",")
    for row in rows:
        reader.read(row)
    return reader.finish()


def _table_rows(coefficients: Coefficients) -> list[tuple[str, str, float]]:
    """The rows of the table, in a fixed order; raises when something cannot be written."""
    log = ProblemLog()
    names = {p.name for p in coefficients.predictors}
    rows: list[tuple[str, str, float]] = [(INTERCEPT, "", coefficients.intercept)]
    for p in coefficients.predictors:
        known = PREDICTORS.get(p.name)
        if known is None or known.kind != p.kind or known.categories != p.categories:
            log.add(f"predictor {p.name} is not the catalogue's")
        categories = p.categories if p.kind == "categorical" else ("",)
        rows += [(p.name, c, coefficients.weight(p.name, c)) for c in categories]
        if (p.name, MISSING) in coefficients.weights:
            rows.append((p.name, MISSING, coefficients.weights[(p.name, MISSING)]))
    for name, category in sorted(coefficients.weights):
        known = PREDICTORS.get(name)
        writable = known is not None and (category == MISSING or category in (known.categories or ("",)))
        if name not in names or not writable:
            log.add(f"weight of ({name!r}, {category!r}) belongs to no predictor category of the model")
    for name, value in sorted(coefficients.means.items()):
        if name in names and PREDICTORS[name].kind == "numeric":
            rows.append((MEAN, name, value))
    if coefficients.regions:
        pattern = dict(_REGION_LEVELS).get(coefficients.region_level)
        for code, effect in sorted(coefficients.regions.items()):
            if pattern is None or not pattern.match(code):
                log.add(f"region code {code!r} is not a {coefficients.region_level} code")
            rows.append((REGION, code, effect))
    bad = [f"{n},{c}" for n, c, w in rows if not math.isfinite(w)]
    if bad:
        log.add(f"weights that are not finite numbers: {', '.join(bad)}")
    log.raise_if_any(CoefficientTableError, "the coefficients cannot be written as a table")
    return rows


def write_coefficients(coefficients: Coefficients, path: Path) -> None:
    """Write the coefficients as a table (`dtsen.export.write_csv`: UTF-8 with a byte-order mark,
    comma-separated) that `read_coefficients` reads back to equal coefficients; floats are written
    with Python's shortest exact repr."""
    rows = _table_rows(coefficients)
    columns = (Column(COLUMNS[0]), Column(COLUMNS[1]), Column(COLUMNS[2], "number"))
    write_csv(path, columns, ((name, category, float(weight)) for name, category, weight in rows))
