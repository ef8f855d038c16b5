"""Small-count suppression: the rule every shareable quality page follows.

The rule, with threshold t (`QualitySettings.suppress_below`, 10 by default):

1. A count c is shown as "0" when c = 0, as "<t" when 1 <= c <= t - 1, and as the number
   otherwise (Indonesian digit grouping: 12.345).
2. A share n / d is shown as "–" (an en dash) when d = 0, when n or d is shown as "<t", or when
   the complement d - n is in 1..t - 1: with d and the share on the page, n and d - n could be
   backed out, so a share is shown only when n, d and d - n are each 0 or at least t.
3. A count n shown next to its denominator d (a numerator column) is shown as "–" when d is
   shown as a number (d = 0 or d >= t) and the complement d - n is in 1..t - 1, for the same
   reason; otherwise as in rule 1.
4. A mean over d units (for example the mean age of the newest observation) is shown as "–"
   when d is 0 or shown as "<t".
5. A score combining several shares is shown only when every share in it may be shown.
6. Secondary suppression: no count in 1..t - 1 may be computed from the counts shown, by
   subtraction or any other linear combination, across the levels of a page (a regency total
   minus its districts, a district minus its villages, a total minus the other categories) or
   between pages (a province's share against its regencies). `protect` decides it for a set of
   `LinkedCounts`: the counts, which of them a page shows, and the equations a reader knows
   (sums over regions, n + (d - n) = d, a total over categories). It hides the small counts
   shown (rule 1), then, until nothing small can be derived:
   a. it follows every chain of single subtractions (an equation with one unknown count gives
      it); when a chain reaches a small count, the smallest non-zero count shown that the chain
      used is hidden too (in a group with one hidden count, its next-smallest sibling);
   b. it solves the remaining equations exactly (per connected set of unknown counts, the null
      space of the system): a small count fixed by a combination of equations has the smallest
      count shown in those equations hidden too;
   and starts again. Each round hides at least one more count, so it ends. A share is shown
   only when its numerator and denominator are both shown, so a share never gives back a hidden
   count (rules 2 and 3 follow from 6).

A threshold of 0 or 1 suppresses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DASH = "\u2013"


def is_small(count: int, threshold: int) -> bool:
    """True when a count must not be shown: 1 <= count <= threshold - 1."""
    return 0 < count < threshold


def suppress(count: int, threshold: int) -> str:
    """A count as shown on a shareable page: "0", "<threshold", or the number (12.345)."""
    if is_small(count, threshold):
        return f"<{threshold}"
    return format_count(count)


def share_hidden(numerator: int, denominator: int, threshold: int) -> bool:
    """True when the share numerator / denominator must be shown as "–" (rule 2)."""
    return (
        denominator == 0
        or is_small(numerator, threshold)
        or is_small(denominator, threshold)
        or is_small(denominator - numerator, threshold)
    )


def suppress_share(numerator: int, denominator: int, threshold: int, digits: int = 1) -> str:
    """A share as shown on a shareable page: "99,5%" or "–" (rule 2)."""
    if share_hidden(numerator, denominator, threshold):
        return DASH
    return format_percent(numerator / denominator, digits)


def suppress_numerator(numerator: int, denominator: int, threshold: int) -> str:
    """A count shown beside its denominator: as `suppress`, or "–" when d - n is small (rule 3)."""
    shown = not is_small(numerator, threshold) and not is_small(denominator, threshold)
    if shown and is_small(denominator - numerator, threshold):
        return DASH
    return suppress(numerator, threshold)


def mean_hidden(denominator: int, threshold: int) -> bool:
    """True when a mean over `denominator` units must be shown as "–" (rule 4)."""
    return denominator == 0 or is_small(denominator, threshold)


def format_count(count: int) -> str:
    """An integer with Indonesian digit grouping: 12345 -> "12.345"."""
    return f"{count:,}".replace(",", ".")


def format_decimal(value: float, digits: int = 1) -> str:
    """A decimal number with an Indonesian decimal comma: 2.04 -> "2,0"; NaN -> "–"."""
    if math.isnan(value):
        return DASH
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_percent(share: float, digits: int = 1) -> str:
    """A share as a percentage with a decimal comma: 0.9956 -> "99,6%"."""
    return format_decimal(share * 100, digits) + "%"


# -- secondary suppression (rule 6) ---------------------------------------------------------------
Key = Hashable
Equation = Mapping[Key, int]  # sum(coefficient * count) == 0
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LinkedCounts:
    """Counts that pages show and the equations a reader knows between them.

    values     every count in the equations, shown or not (a complement d - n, the villages a
               page leaves out), with its true value
    shown      the counts the pages would show (directly, or through a share beside its shown
               denominator)
    equations  each a mapping count -> integer coefficient whose weighted sum is 0
    """

    values: Mapping[Key, int]
    shown: frozenset[Key]
    equations: Sequence[Equation] = field(default_factory=tuple)


def protect(counts: LinkedCounts, threshold: int) -> frozenset[Key]:
    """The shown counts to hide (rule 6): the small ones, and enough others that no count in
    1..threshold - 1, shown or not, can be derived from what stays shown."""
    small = {k for k, v in counts.values.items() if is_small(int(v), threshold)}
    hidden = {k for k in counts.shown if k in small}
    if not small:
        return frozenset(hidden)
    equations = [dict(e) for e in counts.equations if e]
    by_cell: dict[Key, list[int]] = {}
    for i, eq in enumerate(equations):
        for k in eq:
            by_cell.setdefault(k, []).append(i)
    while True:
        visible = counts.shown - hidden
        known, derived_by = _propagate(equations, by_cell, visible)
        leaks = sorted((k for k in derived_by if k in small), key=repr)
        if not leaks:
            solved = _determined(equations, by_cell, known, small)
            derived_by |= solved
            leaks = sorted(solved, key=repr)
        if not leaks:
            return frozenset(hidden)
        added: set[Key] = set()
        for leak in leaks:
            support = _support(leak, derived_by, equations, visible)
            if support & added:
                continue  # this round has already broken that chain
            choice = _cheapest(support - hidden, counts.values)
            if choice is not None:
                hidden.add(choice)
                added.add(choice)
        if not added:  # nothing on the chains is shown: hide the smallest count shown at all
            rest = _cheapest(visible - hidden, counts.values)
            if rest is None:
                return frozenset(hidden)
            hidden.add(rest)


def _propagate(
    equations: list[dict[Key, int]], by_cell: dict[Key, list[int]], visible: Iterable[Key]
) -> tuple[set[Key], dict[Key, list[int]]]:
    """Every count derivable by chains of single subtractions: (known, count -> [equation])."""
    known = set(visible)
    unknown = [sum(1 for k in eq if k not in known) for eq in equations]
    queue = [i for i, n in enumerate(unknown) if n == 1]
    derived_by: dict[Key, list[int]] = {}
    while queue:
        i = queue.pop()
        if unknown[i] != 1:
            continue
        cell = next(k for k in equations[i] if k not in known)
        known.add(cell)
        derived_by[cell] = [i]
        for j in by_cell.get(cell, ()):
            unknown[j] -= 1
            if unknown[j] == 1:
                queue.append(j)
    return known, derived_by


def _determined(
    equations: list[dict[Key, int]],
    by_cell: dict[Key, list[int]],
    known: set[Key],
    small: set[Key],
) -> dict[Key, list[int]]:
    """Small counts that a combination of equations fixes although no chain of single
    subtractions reaches them: small count -> the equations of the combination."""
    found: dict[Key, list[int]] = {}
    seen: set[Key] = set()
    for start in sorted((k for k in small if k not in known and k in by_cell), key=repr):
        if start in seen:
            continue
        cells, rows = _component(start, equations, by_cell, known)
        seen |= cells
        if not rows:
            continue
        order = sorted(cells, key=repr)
        column = {k: j for j, k in enumerate(order)}
        a = [{column[k]: float(c) for k, c in equations[i].items() if k in column and c} for i in rows]
        reduced, combination, pivots = _row_reduce(a)
        for r, j in pivots:
            if order[j] in small and len(reduced[r]) == 1:
                found[order[j]] = sorted(rows[e] for e in combination[r])
    return found


def _row_reduce(a: list[dict[int, float]]) -> tuple[list[dict[int, float]], list[dict[int, float]], list[tuple[int, int]]]:
    """Gauss-Jordan elimination on sparse rows (column -> coefficient): the reduced rows R, the
    combinations T (row -> weight, T @ a = R) and the (row, column) of each pivot. A count is
    fixed by the equations exactly when its pivot row holds nothing else. Sparse, because one
    component of a national release's pages links tens of thousands of counts (a dense matrix of
    that size does not fit in memory); columns with the fewest entries are eliminated first, which
    keeps the fill-in of sums over a region hierarchy small."""
    r = [dict(row) for row in a]
    t: list[dict[int, float]] = [{i: 1.0} for i in range(len(r))]
    where: dict[int, set[int]] = {}
    for i, row in enumerate(r):
        for col in row:
            where.setdefault(col, set()).add(i)
    done: set[int] = set()
    pivots: list[tuple[int, int]] = []
    for col in sorted(where, key=lambda c: (len(where[c]), c)):
        free = [i for i in where[col] if i not in done and abs(r[i][col]) > _TOLERANCE]
        if not free:
            continue
        p = min(free, key=lambda i: (len(r[i]), -abs(r[i][col]), i))
        scale = r[p][col]
        r[p] = {c: v / scale for c, v in r[p].items()}
        t[p] = {c: v / scale for c, v in t[p].items()}
        for i in list(where[col]):
            if i == p:
                continue
            factor = r[i].get(col, 0.0)
            if factor == 0.0:
                continue
            _axpy(r[i], -factor, r[p], where, i)
            _axpy(t[i], -factor, t[p], None, i)
        done.add(p)
        pivots.append((p, col))
    return r, t, pivots


def _axpy(row: dict[int, float], factor: float, other: Mapping[int, float], where: dict[int, set[int]] | None,
          i: int) -> None:
    """row += factor * other, dropping entries that cancel (and keeping `where` in step)."""
    for c, v in other.items():
        value = row.get(c, 0.0) + factor * v
        if abs(value) < _TOLERANCE:
            if c in row:
                del row[c]
                if where is not None:
                    where[c].discard(i)
        else:
            if c not in row and where is not None:
                where.setdefault(c, set()).add(i)
            row[c] = value


def _component(
    start: Key, equations: list[dict[Key, int]], by_cell: dict[Key, list[int]], known: set[Key]
) -> tuple[set[Key], list[int]]:
    """The unknown counts linked to `start` through equations, and those equations."""
    cells, rows, stack = {start}, set(), [start]
    while stack:
        cell = stack.pop()
        for i in by_cell.get(cell, ()):
            if i in rows:
                continue
            rows.add(i)
            for k in equations[i]:
                if k not in known and k not in cells:
                    cells.add(k)
                    stack.append(k)
    return cells, sorted(rows)


def _support(
    leak: Key, derived_by: Mapping[Key, list[int]], equations: list[dict[Key, int]], visible: Collection[Key]
) -> set[Key]:
    """The shown counts a derivation of `leak` uses (through the counts it derives on the way)."""
    support: set[Key] = set()
    done: set[Key] = {leak}
    stack = list(derived_by.get(leak, ()))
    seen_rows: set[int] = set()
    while stack:
        i = stack.pop()
        if i in seen_rows:
            continue
        seen_rows.add(i)
        for k in equations[i]:
            if k in done:
                continue
            done.add(k)
            if k in visible:
                support.add(k)
            else:
                stack.extend(derived_by.get(k, ()))
    return support


def _cheapest(cells: Iterable[Key], values: Mapping[Key, int]) -> Key | None:
    """The count to hide: the smallest non-zero one (a zero hides nothing), then by key."""
    return min(cells, key=lambda k: (int(values[k]) == 0, abs(int(values[k])), repr(k)), default=None)
