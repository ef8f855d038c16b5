"""What the dashboard's region figures may show, decided once for all its pages of a release.

The overview shows, for a region and for each region directly below it, the counts of
`QUANTITIES` (persons, families, poor and extremely poor persons and families, the families of
each decile and of each programme) and the shares of `SHARES`. Every region at every level can
be one page's headline and another page's row, so what may be shown is decided once over the
whole release with the scorecards' rule (`dtsen.quality.suppress`): small counts hidden
(rule 1), and secondary suppression (rule 6) over what a reader knows:

- a region's count is the sum of its children's (and of a rest, when a record's village code is
  not complete); at the top, the nation is the sum of the provinces and of the records with no
  region code at all, a count that names no place and is taken as known (so that the nation
  shown beside its provinces does not hide a regency's headline);
- the families ranked are the sum of the ten deciles' families;
- a share shown beside its denominator gives the numerator's complement (d - n).

Shares are shown only when the numerator and the denominator may be (rule 2 included). The
scorecards decide their own pages the same way but separately: a count both products show is
protected within each product, not across them (a known gap, named in the README).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dtsen.quality.suppress import DASH, Key, LinkedCounts, format_count, format_percent, is_small, protect, suppress
from dtsen.serve.handle import ReleaseHandle

DECILE_FAMILIES: tuple[str, ...] = tuple(f"decile_{d}_families" for d in range(1, 11))
QUANTITIES: tuple[str, ...] = (
    "persons_living", "families", "family_persons", "families_ranked", "poor_families", "poor_persons",
    "extreme_families", "extreme_persons", "pkh_families", "bpnt_families", "pbi_jk_families", *DECILE_FAMILIES,
)  # fmt: skip
# numerator -> denominator of the shares the pages show
SHARES: dict[str, str] = {
    "poor_persons": "family_persons", "extreme_persons": "family_persons",
    "poor_families": "families_ranked", "extreme_families": "families_ranked",
}  # fmt: skip
WIDTH = {"national": 0, "province": 2, "regency": 5, "district": 8, "village": 13}
CHILD = {"national": "province", "province": "regency", "regency": "district", "district": "village"}


def parent_of(level: str, region: str) -> tuple[str, str] | None:
    if level == "national":
        return None
    up = {"province": "national", "regency": "province", "district": "regency", "village": "district"}[level]
    return up, region[: WIDTH[up]]


@dataclass(frozen=True)
class Figure:
    """A count as the page shows it: `value` None when hidden; `shown` the text."""

    value: int | None
    shown: str


class ReleaseFigures:
    """The counts of every region of a release and which of them are hidden."""

    def __init__(self, release_id: str, rows: Iterable[Mapping[str, Any]], threshold: int) -> None:
        self.release_id = release_id
        self.threshold = threshold
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        for row in rows:
            level, region = str(row["level"]), str(row["region"])
            if level in WIDTH:
                self.counts[(level, region)] = {q: int(row.get(q) or 0) for q in QUANTITIES}
        self.children: dict[tuple[str, str], list[str]] = {}
        for level, region in sorted(self.counts):
            up = parent_of(level, region)
            if up is not None and up in self.counts:
                self.children.setdefault(up, []).append(region)
        self.hidden = protect(self._linked(), threshold)

    @classmethod
    def of(cls, handle: ReleaseHandle, threshold: int) -> ReleaseFigures:
        columns = ", ".join(("level", "region", *QUANTITIES))
        return cls(handle.release_id, handle.rows(f"SELECT {columns} FROM regions"), threshold)

    def _linked(self) -> LinkedCounts:
        values: dict[Key, int] = {}
        shown: set[Key] = set()
        equations: list[dict[Key, int]] = []
        for (level, region), counts in self.counts.items():
            for q, v in counts.items():
                values[(level, region, q)] = v
                shown.add((level, region, q))
            for n, d in SHARES.items():
                comp = (level, region, f"{d}-{n}")
                values[comp] = counts[d] - counts[n]
                equations.append({(level, region, d): 1, (level, region, n): -1, comp: -1})
            equations.append({(level, region, "families_ranked"): 1,
                              **{(level, region, q): -1 for q in DECILE_FAMILIES}})
        for (level, region), kids in self.children.items():
            below = CHILD[level]
            for q in QUANTITIES:
                whole = (level, region, q)
                eq: dict[Key, int] = {whole: 1, **{(below, k, q): -1 for k in kids}}
                rest = values[whole] - sum(values[(below, k, q)] for k in kids)
                if rest != 0 and level != "national":
                    key = ("rest", level, region, q)
                    values[key] = rest
                    eq[key] = -1
                equations.append(eq)
        return LinkedCounts(values=values, shown=frozenset(shown), equations=equations)

    # -- what a page shows ---------------------------------------------------------------------------
    def has(self, level: str, region: str) -> bool:
        return (level, region) in self.counts

    def raw(self, level: str, region: str, quantity: str) -> int:
        return self.counts.get((level, region), {}).get(quantity, 0)

    def figure(self, level: str, region: str, quantity: str) -> Figure:
        value = self.raw(level, region, quantity)
        if is_small(value, self.threshold):
            return Figure(None, suppress(value, self.threshold))
        if (level, region, quantity) in self.hidden:
            return Figure(None, DASH)
        return Figure(value, format_count(value))

    def share(self, level: str, region: str, numerator: str) -> str:
        """The share numerator / its denominator, or "–" when it may not be shown."""
        n = self.figure(level, region, numerator)
        d = self.figure(level, region, SHARES[numerator])
        if n.value is None or d.value is None or d.value == 0:
            return DASH
        comp = d.value - n.value
        if is_small(comp, self.threshold):
            return DASH
        return format_percent(n.value / d.value)

    def child_regions(self, level: str, region: str) -> list[str]:
        return list(self.children.get((level, region), []))
