"""Region summaries as they may be shared: counts, deciles, poverty and quality indicators, with
small counts suppressed by the scorecards' rule (`dtsen.quality.suppress`).

A count under the threshold is hidden (`value` None, shown "<10"); a share is hidden when its
numerator, denominator or complement is small; a count shown next to its denominator is hidden
when the complement is small; a mean over a small denominator is hidden. Which figures were
hidden is listed in `suppressed`.

Within a summary, one small decile among ten could be recovered by subtracting the nine others
from the ranked families shown beside them: when exactly one decile's family count is hidden, the
smallest other non-zero one is hidden too (`_hide_second_decile`). Differencing across summaries
(a regency minus its districts) is the general secondary suppression `dtsen.quality.suppress` is
getting from another change; once it is there, `_hide_cells` should call it instead.
"""

from __future__ import annotations

from typing import Any

from dtsen.quality.scorecard import MEANS
from dtsen.quality.suppress import (
    DASH,
    format_decimal,
    is_small,
    mean_hidden,
    share_hidden,
    suppress,
    suppress_numerator,
    suppress_share,
)
from dtsen.serve.aggregates import COUNTS, DECILES
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.models import Count, DecileCount, QualityIndicator, RegionSummary
from dtsen.serve.regions import check_prefix, level_of

# The counts a summary shows, and for each share-like count the denominator it is shown beside.
DENOMINATOR: dict[str, str] = {
    "persons_living": "persons", "persons_deceased": "persons", "persons_with_nik": "persons",
    "families_ranked": "families", "poor_families": "families_ranked", "extreme_families": "families_ranked",
    "poor_persons": "family_persons", "extreme_persons": "family_persons", "pkh_families": "families",
    "bpnt_families": "families", "pbi_jk_families": "families",
}  # fmt: skip


def _count(value: int, threshold: int) -> Count:
    return Count(value=None if is_small(value, threshold) else value, shown=suppress(value, threshold))


def _beside(value: int, denominator: int, threshold: int) -> Count:
    shown = suppress_numerator(value, denominator, threshold)
    hidden = shown == DASH or is_small(value, threshold)
    return Count(value=None if hidden else value, shown=shown)


def _hide_cells(row: dict[str, Any], threshold: int) -> dict[str, Count]:
    """Every count of the region, each by the primary rule (see the module docstring)."""
    out = {}
    for name in COUNTS:
        value = int(row.get(name) or 0)
        denominator = DENOMINATOR.get(name)
        out[name] = _beside(value, int(row.get(denominator) or 0), threshold) if denominator else _count(value, threshold)
    _hide_second_decile(row, out)
    return out


def _hide_second_decile(row: dict[str, Any], counts: dict[str, Count]) -> None:
    """With the ranked families shown, a single hidden decile is their difference from the other
    nine: hide the smallest other non-zero decile as well."""
    if counts["families_ranked"].value is None:
        return
    names = [f"decile_{d}_families" for d in DECILES]
    hidden = [n for n in names if counts[n].value is None and int(row.get(n) or 0) > 0]
    if len(hidden) != 1:
        return
    shown = [n for n in names if counts[n].value is not None and int(row.get(n) or 0) > 0]
    if shown:
        second = min(shown, key=lambda n: (int(row.get(n) or 0), n))
        counts[second] = Count(value=None, shown=DASH)


def _quality(rows: list[dict[str, Any]], threshold: int) -> list[QualityIndicator]:
    out = []
    for r in rows:
        n, d = int(r["numerator"] or 0), int(r["denominator"] or 0)
        value = r["value"]
        if r["indicator"] in MEANS:
            hidden = mean_hidden(d, threshold) or value is None
            shown = DASH if hidden else format_decimal(float(value))
            numerator = Count(value=None, shown="")
        else:
            hidden = share_hidden(n, d, threshold)
            shown = suppress_share(n, d, threshold)
            numerator = _beside(n, d, threshold)
        out.append(QualityIndicator(indicator=r["indicator"], numerator=numerator, denominator=_count(d, threshold),
                                    value=None if hidden else value, shown=shown))
    return out


def region_summary(h: ReleaseHandle, prefix: str, threshold: int = 10) -> RegionSummary:
    """The summary of a region ("" for the whole country) in the handle's release."""
    region = check_prefix(prefix)
    rows = h.rows("SELECT * FROM regions WHERE region = ?", (region,))
    row = rows[0] if rows else dict.fromkeys(COUNTS, 0)
    counts = _hide_cells(row, threshold)
    deciles = [
        DecileCount(decile=d, families=counts[f"decile_{d}_families"], persons=counts[f"decile_{d}_persons"])
        for d in DECILES
    ]
    shown = {k: v for k, v in counts.items() if not k.startswith("decile_")}
    quality: list[QualityIndicator] = []
    if h.has_table("quality"):
        q = h.rows("SELECT indicator, numerator, denominator, value FROM quality "
                   "WHERE level = ? AND region = ? AND source = 'ALL' ORDER BY indicator",
                   (level_of(region), region or "ALL"))
        quality = _quality(q, threshold)
    suppressed = sorted(k for k, v in counts.items() if v.value is None)
    suppressed += [f"quality.{q.indicator}" for q in quality if q.value is None]
    return RegionSummary(release_id=h.release_id, region=region, level=level_of(region), threshold=threshold,
                         counts=shown, deciles=deciles, quality=quality, suppressed=suppressed)
