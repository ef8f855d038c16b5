"""What the dashboard's region figures may show: one decision per count per release, shared by
every page, so that no small count can be recovered by comparing pages.

The overview shows, for a region and for each region directly below it, the counts of
`QUANTITIES` (persons, families, poor and extremely poor persons and families, the families of
each decile and of each programme) and the shares of `SHARES`. A reader knows how they hang
together:

- a region's count is the sum of its children's (and of a rest, when a record's village code is
  not complete); at the top, the nation is the sum of the provinces and of the records with no
  region code at all, a count that names no place and is taken as known;
- the families ranked are the sum of the ten deciles' families;
- a share shown beside its denominator gives the numerator's complement (d - n).

The rule is the scorecards' (`dtsen.quality.suppress`): small counts hidden (rule 1), and
secondary suppression (rule 6). Deciding it over every region of a national release at once is
far too slow, so it is decided region by region, from the top down, and only for the regions a
page needs (then kept for the release):

- the nation's own counts are decided alone (its deciles and complements);
- the counts of a region's children are decided in the region's *local system*: the region's
  counts (as already decided above it: shown ones are known, hidden ones must stay
  underivable), its children's counts, and every equation among them. `protect` hides the small
  children's counts and enough others; a child's count hidden for a neighbour's sake then must
  itself stay underivable, so it is protected in turn (as if small) until nothing more is hidden.

Each count is decided exactly once (in its parent's system), so every page shows the same; a
count hidden in one system is protected in the next one down. What this leaves open is a
combination of equations from two systems about two or more hidden counts of the same region
(each system alone cannot fix them); the scorecards decide their own pages separately, so a
count both products show is protected within each product, not across them.
"""

from __future__ import annotations

import threading
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
PARENT = {child: parent for parent, child in CHILD.items()}
KNOWN = 10**15  # the value given to a count already shown above: never the one to hide
SENSITIVE = 1  # the value given to a count hidden above: protect keeps it underivable, as a small one
Node = tuple[str, str]  # (level, region)


def parent_of(level: str, region: str) -> Node | None:
    if level == "national":
        return None
    up = PARENT[level]
    return up, region[: WIDTH[up]]


@dataclass(frozen=True)
class Figure:
    """A count as the page shows it: `value` None when hidden; `shown` the text."""

    value: int | None
    shown: str


def _parts(key: Key) -> tuple[str, ...]:
    """A key's parts (level, region, quantity), or ("rest", level, region, quantity)."""
    return tuple(str(p) for p in key) if isinstance(key, tuple) else ()


def _own_equations(node: Node, eqs: list[dict[Key, int]], values: dict[Key, int], counts: Mapping[str, int]) -> None:
    """The equations among one region's own counts: deciles sum to the ranked; complements."""
    level, region = node
    for n, d in SHARES.items():
        comp = (level, region, f"{d}-{n}")
        values[comp] = counts[d] - counts[n]
        eqs.append({(level, region, d): 1, (level, region, n): -1, comp: -1})
    eqs.append({(level, region, "families_ranked"): 1, **{(level, region, q): -1 for q in DECILE_FAMILIES}})


class ReleaseFigures:
    """The counts of every region of a release, and (decided when first asked) which are hidden."""

    def __init__(self, release_id: str, rows: Iterable[Mapping[str, Any]], threshold: int) -> None:
        self.release_id = release_id
        self.threshold = threshold
        self.counts: dict[Node, dict[str, int]] = {}
        for row in rows:
            level, region = str(row["level"]), str(row["region"])
            if level in WIDTH:
                self.counts[(level, region)] = {q: int(row.get(q) or 0) for q in QUANTITIES}
        self.children: dict[Node, list[str]] = {}
        for level, region in sorted(self.counts):
            up = parent_of(level, region)
            if up is not None and up in self.counts:
                self.children.setdefault(up, []).append(region)
        self._hidden: dict[Node, frozenset[str]] = {}  # per region: the quantities hidden
        self._decided: set[Node] = set()  # regions whose children are decided
        self._forced: dict[Node, frozenset[str]] = {}  # counts a system below needs hidden
        self._lock = threading.RLock()

    @classmethod
    def of(cls, handle: ReleaseHandle, threshold: int) -> ReleaseFigures:
        columns = ", ".join(("level", "region", *QUANTITIES))
        return cls(handle.release_id, handle.rows(f"SELECT {columns} FROM regions"), threshold)

    # -- deciding ---------------------------------------------------------------------------------------
    def hidden_of(self, node: Node) -> frozenset[str]:
        """The quantities of `node` that its pages hide (small or secondary)."""
        with self._lock:
            if node not in self._hidden:
                up = parent_of(*node)
                if up is None or up not in self.counts:
                    self._decide_alone(node)
                else:
                    self._decide_children(up)
            return self._hidden.get(node, frozenset())

    def _decide_alone(self, node: Node) -> None:
        counts = self.counts.get(node, dict.fromkeys(QUANTITIES, 0))
        level, region = node
        values: dict[Key, int] = {(level, region, q): v for q, v in counts.items()}
        eqs: list[dict[Key, int]] = []
        _own_equations(node, eqs, values, counts)
        hidden = protect(LinkedCounts(values, frozenset((level, region, q) for q in QUANTITIES), eqs), self.threshold)
        self._hidden[node] = frozenset(_parts(k)[2] for k in hidden)

    def _decide_children(self, node: Node) -> None:
        if node in self._decided:
            return
        above = self.hidden_of(node)  # the region's own counts, decided in its parent's system
        level, region = node
        below = CHILD[level]
        kids = self.children.get(node, [])
        counts = self.counts[node]
        values: dict[Key, int] = {}
        shown: set[Key] = set()
        sensitive: set[Key] = set()
        for q, v in counts.items():
            key = (level, region, q)
            if q in above:
                values[key] = v if is_small(v, self.threshold) else SENSITIVE
                sensitive.add(key)
            else:
                values[key] = KNOWN
                shown.add(key)
        eqs: list[dict[Key, int]] = []
        _own_equations(node, eqs, values, counts)
        before: dict[str, frozenset[str]] = {}
        for kid in kids:
            kc = self.counts[(below, kid)]
            # what was hidden before (decisions only grow) and what a system below needs hidden
            before[kid] = self._hidden.get((below, kid), frozenset()) | self._forced.get((below, kid), frozenset())
            for q, v in kc.items():
                key = (below, kid, q)
                values[key] = v
                if q in before[kid]:
                    sensitive.add(key)
                    if not is_small(v, self.threshold):
                        values[key] = SENSITIVE
                else:
                    shown.add(key)
            _own_equations((below, kid), eqs, values, kc)
        if kids:
            for q in QUANTITIES:
                whole = (level, region, q)
                eq: dict[Key, int] = {whole: 1, **{(below, k, q): -1 for k in kids}}
                rest = counts[q] - sum(self.counts[(below, k)][q] for k in kids)
                if rest != 0 and level != "national":
                    values[("rest", level, region, q)] = rest
                    eq[("rest", level, region, q)] = -1
                eqs.append(eq)
        while True:
            hidden = protect(LinkedCounts(values, frozenset(shown), eqs), self.threshold)
            # a child's count hidden for another's sake must itself stay underivable
            more = [k for k in hidden if _parts(k)[0] == below and k not in sensitive]
            if not more:
                break
            for k in more:
                sensitive.add(k)
                shown.discard(k)
                if not is_small(values[k], self.threshold):
                    values[k] = SENSITIVE
        for kid in kids:
            self._hidden[(below, kid)] = before[kid] | frozenset(
                q for q in QUANTITIES if (below, kid, q) in sensitive or (below, kid, q) in hidden)
        self._decided.add(node)
        forced = frozenset(_parts(k)[2] for k in hidden if _parts(k)[:2] == node and k in shown)
        if forced:  # only the region's own shown counts could protect a child: decide them again, hidden
            self._forced[node] = self._forced.get(node, frozenset()) | forced
            up = parent_of(*node)
            if up is not None and up in self.counts:
                self._decided.discard(up)
                self._decide_children(up)
            else:
                self._hidden[node] = self._hidden.get(node, frozenset()) | forced
            self._decided.discard(node)
            self._decide_children(node)

    # -- what a page shows ---------------------------------------------------------------------------
    def has(self, level: str, region: str) -> bool:
        return (level, region) in self.counts

    def raw(self, level: str, region: str, quantity: str) -> int:
        return self.counts.get((level, region), {}).get(quantity, 0)

    def figure(self, level: str, region: str, quantity: str) -> Figure:
        value = self.raw(level, region, quantity)
        if is_small(value, self.threshold):
            return Figure(None, suppress(value, self.threshold))
        if (level, region) in self.counts and quantity in self.hidden_of((level, region)):
            return Figure(None, DASH)
        return Figure(value, format_count(value))

    def share(self, level: str, region: str, numerator: str) -> str:
        """The share numerator / its denominator, or "–" when it may not be shown."""
        n = self.figure(level, region, numerator)
        d = self.figure(level, region, SHARES[numerator])
        if n.value is None or d.value is None or d.value == 0:
            return DASH
        if is_small(d.value - n.value, self.threshold):
            return DASH
        return format_percent(n.value / d.value)

    def child_regions(self, level: str, region: str) -> list[str]:
        return list(self.children.get((level, region), []))
