"""The region overview (the kepala daerah's page): what the region's figures are in a release, the
regions below it, the headcount of extreme poverty over releases, data quality and ground checks.

A view model only: the route decides who may see which region (the policy) and audits it.
Every count comes through `ReleaseFigures` (suppressed, secondary suppression included); the
quality score is the scorecards' composite score; the ground-check counts come from the
release's `verification_candidates`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.engine import read_parquet_arrow
from dtsen.quality.scorecard import composite_scores
from dtsen.quality.suppress import DASH, format_decimal, suppress
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.regions import level_of, prefix_range
from dtsen.web.charts import Chart, decile_spec, trend_spec
from dtsen.web.messages import Translator
from dtsen.web.state import WebState
from dtsen.web.views.figures import CHILD, DECILE_FAMILIES, Figure, ReleaseFigures

HEADLINE: tuple[str, ...] = ("persons_living", "families", "families_ranked", "poor_persons", "extreme_persons",
                             "poor_families", "extreme_families", "pkh_families", "bpnt_families", "pbi_jk_families")
CHILD_COLUMNS: tuple[str, ...] = ("persons_living", "families", "poor_persons", "extreme_persons")


@dataclass
class ChildRow:
    code: str
    name: str
    figures: dict[str, Figure]
    extreme_share: str
    extreme_change: str  # against the previous release
    score: str


@dataclass
class TrendPoint:
    release_id: str
    extreme: Figure
    poor: Figure


@dataclass
class GroundChecks:
    candidates: str
    risk: str
    random: str
    field_checked: str  # share of families ever checked in the field (quality indicator)


@dataclass
class Overview:
    release_id: str
    region: str
    name: str
    level: str
    child_level: str | None
    threshold: int
    headline: dict[str, Figure]
    shares: dict[str, str]
    deciles: list[tuple[int, Figure]]
    children: list[ChildRow]
    trend: list[TrendPoint]
    score: str
    checks: GroundChecks
    charts: dict[str, Chart] = field(default_factory=dict)
    previous_id: str | None = None


def quality_scores(h: ReleaseHandle, level: str, lo: str, hi: str, threshold: int) -> dict[str, str]:
    """The composite score of each region at `level` within [lo, hi) ("–" when hidden)."""
    if not h.has_table("quality"):
        return {}
    rows = h.rows("SELECT level, region, indicator, numerator, denominator, value FROM quality "
                  "WHERE level = ? AND source = 'ALL' AND region >= ? AND region < ?", (level, lo, hi))
    if not rows:
        return {}
    frame = pd.DataFrame(rows).astype({"numerator": "int64", "denominator": "int64", "value": "float64"})
    scores = composite_scores(frame, threshold)
    out = {}
    for region, score, hidden in zip(scores["region"], scores["score"].astype("float64"), scores["hidden"],
                                     strict=True):
        out[str(region)] = DASH if bool(hidden) or math.isnan(score) else format_decimal(float(score))
    return out


def national_score(h: ReleaseHandle, threshold: int) -> str:
    scores = quality_scores(h, "national", "ALL", "ALL~", threshold)
    return scores.get("ALL", DASH)


def field_checked(h: ReleaseHandle, level: str, region: str, threshold: int) -> str:
    from dtsen.quality.suppress import suppress_share

    if not h.has_table("quality"):
        return DASH
    rows = h.rows("SELECT numerator, denominator FROM quality WHERE level = ? AND region = ? AND source = 'ALL' "
                  "AND indicator = 'field_checked'", (level, region or "ALL"))
    if not rows:
        return DASH
    return suppress_share(int(rows[0]["numerator"]), int(rows[0]["denominator"]), threshold)


def candidates_table(state: WebState, h: ReleaseHandle) -> pa.Table:
    """The release's ground-check candidates (region_code, selection), read once per release."""

    def read() -> pa.Table:
        path = h.release_dir / "verification_candidates.parquet" if h.release_dir is not None else None
        if path is None or not path.exists():
            return pa.table({"region_code": pa.array([], pa.string()), "selection": pa.array([], pa.string())})
        return read_parquet_arrow(path).select(["region_code", "selection"])

    table: pa.Table = state.memo(h.release_id, "candidates", read)
    return table


def ground_checks(state: WebState, h: ReleaseHandle, region: str, threshold: int) -> GroundChecks:
    t = candidates_table(state, h)
    lo, hi = prefix_range(region)
    inside = t.filter(pc.and_(pc.greater_equal(t["region_code"], lo), pc.less(t["region_code"], hi)))
    risk = int(pc.sum(pc.equal(inside["selection"], "risk")).as_py() or 0)
    total = inside.num_rows
    return GroundChecks(candidates=suppress(total, threshold), risk=suppress(risk, threshold),
                        random=suppress(total - risk, threshold),
                        field_checked=field_checked(h, level_of(region), region, threshold))


def build_overview(state: WebState, h: ReleaseHandle, region: str, t: Translator) -> Overview:
    """The overview of `region` (a checked prefix; "" the whole country) in release `h`."""
    threshold = state.settings.quality.suppress_below
    figs = state.figures(h)
    level = level_of(region)
    headline = {q: figs.figure(level, region, q) for q in HEADLINE}
    shares = {q: figs.share(level, region, q) for q in ("poor_persons", "extreme_persons")}
    deciles = [(d, figs.figure(level, region, DECILE_FAMILIES[d - 1])) for d in range(1, 11)]

    # over releases: each release's own figures (computed once per release)
    ids = state.release_ids()
    upto = [r for r in ids if r <= h.release_id]
    trend: list[TrendPoint] = []
    previous: ReleaseFigures | None = None
    for rid in upto:
        rf = figs if rid == h.release_id else state.figures(state.earlier(rid))
        trend.append(TrendPoint(rid, rf.figure(level, region, "extreme_persons"), rf.figure(level, region, "poor_persons")))
        if rid < h.release_id:
            previous = rf
    previous_id = upto[-2] if len(upto) > 1 else None

    child_level = CHILD.get(level)
    children: list[ChildRow] = []
    if child_level is not None:
        lo, hi = prefix_range(region)
        scores = quality_scores(h, child_level, lo, hi, threshold)
        for code in figs.child_regions(level, region):
            now = figs.figure(child_level, code, "extreme_persons")
            change = DASH
            if previous is not None:
                before = previous.figure(child_level, code, "extreme_persons") if previous.has(child_level, code) \
                    else Figure(0, "0")
                if now.value is not None and before.value is not None:
                    diff = now.value - before.value
                    change = f"{diff:+d}" if diff else "0"
            children.append(ChildRow(
                code=code, name=state.region_name(code),
                figures={q: figs.figure(child_level, code, q) for q in CHILD_COLUMNS},
                extreme_share=figs.share(child_level, code, "extreme_persons"), extreme_change=change,
                score=scores.get(code, DASH)))

    if region:
        score = quality_scores(h, level, region, region + "~", threshold).get(region, DASH)
    else:
        score = national_score(h, threshold)
    model = Overview(
        release_id=h.release_id, region=region, name=state.region_name(region), level=level, child_level=child_level,
        threshold=threshold, headline=headline, shares=shares, deciles=deciles, children=children, trend=trend,
        score=score, checks=ground_checks(state, h, region, threshold), previous_id=previous_id)
    model.charts = _charts(state, model, upto, t)
    return model


def _charts(state: WebState, m: Overview, releases: list[str], t: Translator) -> dict[str, Chart]:
    charts = state.charts
    rows: list[dict[str, Any]] = [{"desil": d, "keluarga": f.value} for d, f in m.deciles if f.value is not None]
    hidden = [str(d) for d, f in m.deciles if f.value is None]
    alt = t("chart.deciles_alt", region=m.name, release=m.release_id)
    if hidden:
        alt += " " + t("chart.hidden_deciles", deciles=", ".join(hidden))
    out = {"deciles": charts.render(decile_spec(rows, t("chart.deciles_title"), t("chart.decile"), t("chart.families")),
                                    alt)}
    points: list[dict[str, Any]] = []
    for p in m.trend:
        if p.extreme.value is not None:
            points.append({"rilis": p.release_id, "seri": t("chart.series_extreme"), "jiwa": p.extreme.value})
        if p.poor.value is not None:
            points.append({"rilis": p.release_id, "seri": t("chart.series_poor"), "jiwa": p.poor.value})
    out["trend"] = charts.render(trend_spec(points, releases, t("chart.trend_title"), t("chart.persons")),
                                 t("chart.trend_alt", region=m.name))
    return out
