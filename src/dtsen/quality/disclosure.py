"""What the scorecards disclose: every count their pages show, the equations that link those
counts, and which of them the suppression rule hides.

A regency page (`dtsen.quality.scorecard`) shows, for its regency, the numerator and the
denominator of every indicator; beside them the province's and the nation's shares; for every
district and for the worst villages, the persons and families and the shares of
`REGION_COLUMNS`. A reader also knows how these counts hang together, and `linked_counts` writes
that knowledge down for `dtsen.quality.suppress.protect`:

measures     each indicator counts a numerator quantity out of a denominator quantity
             (`MEASURES`): nik_valid and completeness_nik share the numerator (persons with a
             NIK); the person indicators share the denominator persons, completeness_persons
             counts 5 x persons cells, the family ones families (completeness_families: 17 x
             families), stale_families and staleness_mean_days the dated families.
complements  d - n of every indicator is a count of its own (persons without a NIK), never
             shown but known as soon as n and d are.
categories   completeness_persons = the sum of the five field counts; completeness_families =
             the sum of the seventeen; at region levels the persons with a region code are all
             persons.
regions      every quantity sums up: villages to a district, districts to a regency, regencies
             to a province, provinces (and the persons or families without a region code) to
             the nation. Villages a page does not show enter their district's sum as one
             unknown rest (when it is not 0), with the rest's complements (persons in those
             villages without a NIK) as counts of their own.

Quantities shown only at regency level (duplicates, deceased PBI members, the welfare fields,
...) are modelled at regency, province and nation: their district counts are never shown, and
each district's count of such a quantity is then one of several unknowns in every equation it
enters. A share shown beside its shown denominator discloses its numerator. The province's and
the nation's shares on a regency page disclose their counts only when the denominator is under
`PRECISE_BELOW` (1,000): a share rounded to 0,1% gives n only to within d / 2,000, which is
half a unit or more from there on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from dtsen.quality.indicators import ALL, FAMILY_WELFARE_FIELDS, PERSON_KEY_FIELDS
from dtsen.quality.suppress import (
    DASH,
    Key,
    LinkedCounts,
    format_count,
    is_small,
    protect,
    share_hidden,
    suppress,
)

PRECISE_BELOW = 1000
PERSONS = "persons"
FAMILIES = "families"
DATED = "dated"
# The shares shown as columns of the district and village tables.
REGION_COLUMNS: tuple[str, ...] = ("completeness_persons", "dukcapil_confirmed", "conflicts_persons", "stale_families")
LEVELS: tuple[str, ...] = ("national", "province", "regency", "district", "village")
_PARENT = {"province": "national", "regency": "province", "district": "regency", "village": "district"}
_CHILD = {parent: child for child, parent in _PARENT.items()}


@dataclass(frozen=True)
class Measure:
    """An indicator as quantities: numerator (None: not a count) out of multiplier x denominator."""

    numerator: str | None
    denominator: str
    multiplier: int = 1


MEASURES: dict[str, Measure] = {
    **{f"completeness_{f}": Measure(f"has_{f}", PERSONS) for f in PERSON_KEY_FIELDS},
    "completeness_persons": Measure("person_cells", PERSONS, len(PERSON_KEY_FIELDS)),
    "nik_valid": Measure("has_nik", PERSONS),
    "dukcapil_confirmed": Measure("registry", PERSONS),
    "duplicates_found": Measure("duplicates", "linked_records"),
    "conflicts_persons": Measure("person_conflicts", PERSONS),
    "deceased_pbi": Measure("deceased_pbi", "pbi_members"),
    **{f"completeness_{f}": Measure(f"has_{f}", FAMILIES) for f in FAMILY_WELFARE_FIELDS},
    "completeness_families": Measure("family_cells", FAMILIES, len(FAMILY_WELFARE_FIELDS)),
    "conflicts_families": Measure("family_conflicts", FAMILIES),
    "stale_families": Measure("stale", DATED),
    "staleness_mean_days": Measure(None, DATED),
    "deceased_recipients": Measure("deceased_recipients", "recipients"),
    "field_checked": Measure("field_checked", FAMILIES),
}
# totals over categories: total quantity -> its parts
CATEGORIES: dict[str, tuple[str, ...]] = {
    "person_cells": tuple(f"has_{f}" for f in PERSON_KEY_FIELDS),
    "family_cells": tuple(f"has_{f}" for f in FAMILY_WELFARE_FIELDS),
}
LOW_QUANTITIES: frozenset[str] = frozenset(
    {PERSONS, FAMILIES}
    | {q for i in REGION_COLUMNS for q in (MEASURES[i].numerator, MEASURES[i].denominator) if q is not None}
)


def measure(indicator: str) -> Measure:
    """The indicator's measure; an indicator not in MEASURES counts quantities of its own."""
    return MEASURES.get(indicator, Measure(f"n:{indicator}", f"d:{indicator}"))


def _parent(level: str, region: str) -> str:
    if level == "province":
        return ALL
    return region[: {"regency": 2, "district": 5, "village": 8}[level]]


def cell(level: str, region: str, quantity: str) -> tuple[str, str, str]:
    return (level, region, quantity)


def complement(level: str, region: str, indicator: str) -> tuple[str, str, str]:
    m = measure(indicator)
    return (level, region, f"{m.denominator}-{m.numerator}")


class Disclosure:
    """The counts of a release's pages and what the suppression rule hides of them."""

    def __init__(
        self,
        frame: pd.DataFrame,
        threshold: int,
        *,
        regency_rows: Iterable[str],
        villages: Collection[str],
    ) -> None:
        """`frame`: the indicator rows (level, region, indicator, numerator, denominator) of the
        geographic levels; `regency_rows`: the indicators a regency page lists with their counts;
        `villages`: the villages the pages show."""
        self.threshold = threshold
        self.rows: dict[tuple[str, str, str], tuple[int, int]] = {
            (lv, rg, ind): (int(n), int(d))
            for lv, rg, ind, n, d in zip(
                frame["level"],
                frame["region"],
                frame["indicator"],
                frame["numerator"],
                frame["denominator"],
                strict=True,
            )
            if lv in LEVELS
        }
        self.counts = linked_counts(self.rows, frozenset(regency_rows), frozenset(villages), threshold)
        self.hidden = protect(self.counts, threshold)

    # -- what a page shows ----------------------------------------------------------------------
    def count(self, level: str, region: str, indicator: str, part: str) -> str:
        """A numerator or denominator as a page shows it: the number, "<t", or "–"."""
        row = self.rows.get((level, region, indicator))
        if row is None:
            return DASH
        value = row[0] if part == "numerator" else row[1]
        m = measure(indicator)
        quantity = m.numerator if part == "numerator" else m.denominator
        if is_small(value, self.threshold):
            return suppress(value, self.threshold)
        if quantity is None or cell(level, region, quantity) in self.hidden:
            return DASH
        return format_count(value)

    def share_shown(self, level: str, region: str, indicator: str) -> bool:
        """True when the share of the indicator may be shown: rule 2, and neither its numerator
        nor its denominator hidden (a share beside its denominator gives the numerator back)."""
        row = self.rows.get((level, region, indicator))
        if row is None or share_hidden(row[0], row[1], self.threshold):
            return False
        m = measure(indicator)
        parts = (m.denominator,) if m.numerator is None else (m.numerator, m.denominator)
        return not any(cell(level, region, q) in self.hidden for q in parts)

    def mean_shown(self, level: str, region: str, indicator: str) -> bool:
        """True when a mean over the indicator's denominator may be shown (rule 4)."""
        row = self.rows.get((level, region, indicator))
        if row is None or row[1] == 0 or is_small(row[1], self.threshold):
            return False
        return cell(level, region, measure(indicator).denominator) not in self.hidden


def linked_counts(
    rows: Mapping[tuple[str, str, str], tuple[int, int]],
    regency_rows: frozenset[str],
    villages: frozenset[str],
    threshold: int,
) -> LinkedCounts:
    """The counts of every page of a release and the equations between them (module docstring)."""
    values: dict[Key, int] = {}
    shown: set[Key] = set()
    equations: list[dict[Key, int]] = []
    regions: dict[str, set[str]] = {lv: set() for lv in LEVELS}
    for level, region, _ in rows:
        if level != "village" or region in villages:
            regions[level].add(region)

    def modelled(level: str, quantity: str) -> bool:
        return level in ("national", "province", "regency") or quantity in LOW_QUANTITIES

    def put(key: Key, value: int) -> None:
        values.setdefault(key, value)

    # quantities and complements of each region
    quantities: dict[tuple[str, str], set[str]] = {}
    for (level, region, indicator), (n, d) in rows.items():
        if region not in regions[level]:
            continue
        m = measure(indicator)
        have = quantities.setdefault((level, region), set())
        if modelled(level, m.denominator):
            put(cell(level, region, m.denominator), d // m.multiplier if m.multiplier > 1 else d)
            have.add(m.denominator)
        if m.numerator is not None and modelled(level, m.numerator):
            put(cell(level, region, m.numerator), n)
            have.add(m.numerator)
            c = complement(level, region, indicator)
            if c not in values:
                put(c, d - n)
                equations.append(
                    {cell(level, region, m.denominator): m.multiplier, cell(level, region, m.numerator): -1, c: -1}
                )
    for (level, region), have in quantities.items():
        for total, parts in CATEGORIES.items():
            if total in have and all(p in have for p in parts):
                equations.append({cell(level, region, total): 1, **{cell(level, region, p): -1 for p in parts}})
        if level != "national" and "has_region_code" in have and PERSONS in have:
            equations.append({cell(level, region, "has_region_code"): 1, cell(level, region, PERSONS): -1})

    # sums over regions: a parent is the sum of its children (and of a rest, when that is not 0)
    indicators_of: dict[tuple[str, str], list[str]] = {}
    for level, region, indicator in sorted(rows):
        indicators_of.setdefault((level, region), []).append(indicator)
    children: dict[tuple[str, str], list[str]] = {}
    for level in ("province", "regency", "district", "village"):
        for region in regions[level]:
            children.setdefault((_PARENT[level], _parent(level, region)), []).append(region)
    for (level, region), have in sorted(quantities.items()):
        below = _CHILD.get(level)
        if below is None:
            continue
        kids = sorted(children.get((level, region), []))
        for q in sorted(have):
            if not modelled(below, q):
                continue
            whole = cell(level, region, q)
            eq: dict[Key, int] = {whole: 1}
            for kid in kids:
                if q in quantities.get((below, kid), set()):
                    eq[cell(below, kid, q)] = -1
            rest = values[whole] - sum(values[k] for k in eq if k != whole)
            if rest != 0:  # villages a page leaves out, persons without a region code
                key = ("rest", level, region, q)
                put(key, rest)
                eq[key] = -1
            if len(eq) > 1:
                equations.append(eq)
        # the regions left out are counts too: their complements (persons in the villages a
        # page leaves out who are not confirmed) as well as their totals
        for indicator in indicators_of.get((level, region), ()):
            m = measure(indicator)
            if m.numerator is None or not (modelled(below, m.numerator) and modelled(below, m.denominator)):
                continue
            num, den = ("rest", level, region, m.numerator), ("rest", level, region, m.denominator)
            rest_c = ("rest", level, region, f"{m.denominator}-{m.numerator}")
            if rest_c in values or (num not in values and den not in values):
                continue
            put(rest_c, m.multiplier * values.get(den, 0) - values.get(num, 0))
            eq = {k: v for k, v in ((den, m.multiplier), (num, -1)) if k in values}
            equations.append({**eq, rest_c: -1})

    # what the pages show
    for (level, region, indicator), (n, d) in rows.items():
        if region not in regions[level]:
            continue
        m = measure(indicator)
        if level == "regency" and indicator in regency_rows:
            shown.add(cell(level, region, m.denominator))
            if m.numerator is not None:
                shown.add(cell(level, region, m.numerator))
        elif level in ("district", "village") and indicator in (*REGION_COLUMNS, "nik_valid", "conflicts_families"):
            shown.add(cell(level, region, m.denominator))
            if indicator in REGION_COLUMNS and m.numerator is not None:
                shown.add(cell(level, region, m.numerator))
        elif level in ("province", "national") and indicator in regency_rows and d < PRECISE_BELOW:
            if m.numerator is None or share_hidden(n, d, threshold):
                continue  # a mean, or a share never shown: no count disclosed
            shown.add(cell(level, region, m.denominator))
            if m.numerator is not None:
                shown.add(cell(level, region, m.numerator))
    return LinkedCounts(values, frozenset(k for k in shown if k in values), equations)
