"""Headcounts first, then flags: how many people are poor in each region, and which families.

A regression's predictions are pulled towards the mean, so flagging a family when its predicted
consumption is under the line (`welfare.flags = "threshold"`, the old rule) empties the tails:
far fewer families are flagged than are poor. With `welfare.flags = "calibrated"` (the default)
the registry first settles how many people are poor and extremely poor in each regency, then
flags that many, the most likely first:

1. **The model's expected count.** Each family's probability of being under each line given its
   prediction and a spread matched to the survey's variance (`p_poor`, `p_extreme`, see
   `probability`); a
   region's expected count is the sum of persons x p over its ranked families. The count uses
   the blend's probabilities whatever model ranks (`pipeline.counting_model`: its tails were
   the best calibrated in the synthetic measurements); the flags follow the ranking model. Its standard
   error has two parts: the count's own spread given the model, sum persons² x p x (1 - p), and
   the model's level, estimated from the survey with variance σ² / n_eff (n_eff: the effective
   number of survey families under the weights), times the count's slope in that level, sum
   persons x φ(z) / σ; and the spread's, Var(σ) from the survey's weighted moments, times the
   count's slope in σ, sum persons x φ(z) x -z / σ. The level and spread errors are shared by
   every region (they add up over regions instead of cancelling); other model errors (a
   regency's own effect, the shape of the tails) are not in it.
2. **The survey's direct estimate**, per regency, province and the whole registry: the share of
   people under the line among the screened survey families (`robust`), weighted by sampling
   weight x persons, times the region's registry persons (a ratio estimator), with its standard
   error by linearisation (sampling with replacement, one stage).
3. **Official headcounts** (`welfare.headcounts`, see `official`) for the provinces and regencies
   they list: share x registry persons.
4. **The target of each regency.** An official figure for the regency if there is one; else the
   survey's estimate if it rests on at least 30 survey families (below that its standard error
   is itself unreliable: three families all poor give a share of 1 with an error of 0) and its
   relative standard error is at most `welfare.headcount_max_rse`;
   (and its standard error is smaller than the model's count's: with a survey of a few hundred
   families the model's count, which borrows strength from the registry, is usually the more
   precise); else the model's expected count, *benchmarked*: scaled so that the regencies of the nearest
   larger region with a fixed figure (official, or a precise survey estimate: first the
   province, then the whole registry) add up to that figure; without any, the expected count
   itself. The source of each figure is recorded (official, survey, model).
5. **Flags.** Within each regency, families are taken in order of predicted consumption
   relative to their line (the same order as p, most likely first; ties by family_id) while the
   people taken stay closest to the target: a family is flagged when the people before it plus
   half its own are fewer than the target. The same for the extreme line; an extremely poor
   family is also poor.

The table `headcounts.parquet` (HEADCOUNT_COLUMNS) gives per regency, province and the whole
registry ("national", region "ALL") and per line: registry persons, the estimate and its source,
standard error and benchmark, the survey's direct estimate and its standard error, the model's
expected count, the official share and year, and the persons and families flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from dtsen.welfare.official import OfficialHeadcount

LINES: tuple[str, ...] = ("poor", "extreme")
FLAG_COLUMN = {"poor": "poor", "extreme": "extreme_poor"}
P_COLUMN = {"poor": "p_poor", "extreme": "p_extreme"}
LINE_COLUMN = {"poor": "poverty_line", "extreme": "extreme_line"}
NATIONAL = "ALL"
NO_REGENCY = ""
HEADCOUNT_COLUMNS: tuple[str, ...] = (
    "level", "region", "line", "persons", "estimate", "share", "source", "standard_error", "benchmark",
    "survey_families", "survey_estimate", "survey_standard_error", "model_estimate", "official_share",
    "official_year", "flagged_persons", "flagged_families",
)  # fmt: skip
HEADCOUNT_SCHEMA = pa.schema([
    ("level", pa.string()), ("region", pa.string()), ("line", pa.string()), ("persons", pa.float64()),
    ("estimate", pa.float64()), ("share", pa.float64()), ("source", pa.string()), ("standard_error", pa.float64()),
    ("benchmark", pa.string()), ("survey_families", pa.int64()), ("survey_estimate", pa.float64()),
    ("survey_standard_error", pa.float64()), ("model_estimate", pa.float64()), ("official_share", pa.float64()),
    ("official_year", pa.int64()), ("flagged_persons", pa.int64()), ("flagged_families", pa.int64()),
])  # fmt: skip
LEVEL_ORDER = {"national": 0, "province": 1, "regency": 2}
MIN_DIRECT_FAMILIES = 30  # fewer survey families: the standard error itself is not to be trusted


def model_totals(ranked: ir.Table, residual_sd: float | None = None) -> pd.DataFrame:
    """Per regency ("" for families without one): registry persons and, per line, the expected
    count (sum persons x p), its variance given the model (sum persons² x p x (1 - p)), and how
    fast it moves with the model's level (`level_`: sum persons x φ(z) / σ, z = ln(line /
    predicted) / σ: the count added per unit of ln consumption the whole prediction is too high)
    and with the spread (`spread_`: sum persons x φ(z) x -z / σ, per unit of σ)."""
    t = ranked.filter(ranked.predicted_consumption.notnull() & (ranked.persons > 0))
    persons = t.persons.cast("float64")
    columns: dict[str, Any] = {"persons": persons.sum()}
    sd = residual_sd if residual_sd and residual_sd > 0 else None
    for line in LINES:
        p = t[P_COLUMN[line]].fill_null(0.0)
        columns[f"expected_{line}"] = (persons * p).sum()
        columns[f"variance_{line}"] = (persons * persons * p * (1.0 - p)).sum()
        if sd is None:
            columns[f"level_{line}"] = ibis.literal(0.0).sum()
            columns[f"spread_{line}"] = ibis.literal(0.0).sum()
        else:
            z = (t[LINE_COLUMN[line]].ln() - t.predicted_consumption.ln()) / sd
            density = (-(z * z) / 2.0).exp() / math.sqrt(2 * math.pi)
            columns[f"level_{line}"] = (persons * density / sd).sum()
            columns[f"spread_{line}"] = (persons * density * -z / sd).sum()
    out = t.group_by(regency=t.regency_code.fill_null(NO_REGENCY)).aggregate(**columns).to_pandas()
    return out.sort_values("regency", kind="stable").reset_index(drop=True)


def spread_variance(survey: pd.DataFrame, spread: float | None) -> float:
    """The variance of the matched spread σ (`probability.matched_spread`): σ² is the survey's
    variance of ln consumption less the predictions', so Var(σ) ≈ Var(s²) / (4σ²), with Var(s²)
    ≈ (m4 - s⁴) / n_eff from the survey's weighted moments."""
    if survey.empty or not spread:
        return 0.0
    w = survey["weight"].to_numpy(dtype=float) * survey["persons"].to_numpy(dtype=float)
    y = np.log(survey["consumption_per_capita"].to_numpy(dtype=float))
    n_eff = w.sum() ** 2 / (w**2).sum() if (w**2).sum() > 0 else 0.0
    if n_eff <= 1:
        return 0.0
    d = y - np.average(y, weights=w)
    s2, m4 = np.average(d**2, weights=w), np.average(d**4, weights=w)
    return float(max(m4 - s2**2, 0.0) / n_eff / (4 * spread**2))


def level_variance(survey: pd.DataFrame, residual_sd: float | None) -> float:
    """The variance of the model's level (its mean ln consumption), σ² / n_eff, where n_eff is the
    effective number of survey families under the weights (sampling weight x persons)."""
    if survey.empty or not residual_sd:
        return 0.0
    w = survey["weight"].to_numpy(dtype=float) * survey["persons"].to_numpy(dtype=float)
    n_eff = w.sum() ** 2 / (w**2).sum() if (w**2).sum() > 0 else 0.0
    return float(residual_sd**2 / n_eff) if n_eff > 0 else 0.0


def direct_estimates(survey: pd.DataFrame, persons: dict[str, float]) -> pd.DataFrame:
    """The survey's weighted estimates per region and line (module docstring, item 2).

    `survey` has per screened survey family: regency_code, persons, consumption_per_capita,
    weight (sampling), poverty_line, extreme_line; `persons` the registry persons per region
    code (regency, province, NATIONAL)."""
    rows: list[dict[str, Any]] = []
    if survey.empty:
        return pd.DataFrame(columns=["region", "line", "survey_families", "share", "share_se", "estimate", "se"])
    regency = survey["regency_code"].fillna(NO_REGENCY).astype(str)
    groups = {NATIONAL: np.ones(len(survey), dtype=bool)}
    for code in sorted(set(regency.str.slice(0, 2)) - {""}):
        groups[code] = (regency.str.slice(0, 2) == code).to_numpy()
    for code in sorted(set(regency) - {NO_REGENCY}):
        groups[code] = (regency == code).to_numpy()
    x_all = survey["persons"].to_numpy(dtype=float) * survey["weight"].to_numpy(dtype=float)
    c = survey["consumption_per_capita"].to_numpy(dtype=float)
    for region, mask in groups.items():
        n = int(mask.sum())
        if n == 0:
            continue
        x = x_all[mask]
        for line in LINES:
            y = (c[mask] < survey[LINE_COLUMN[line]].to_numpy(dtype=float)[mask]).astype(float)
            total = x.sum()
            share = float((x * y).sum() / total) if total > 0 else 0.0
            z = x * (y - share) / total if total > 0 else np.zeros(n)
            se = float(np.sqrt(n / (n - 1) * (z**2).sum())) if n > 1 else float("nan")
            registry = persons.get(region, 0.0)
            rows.append({"region": region, "line": line, "survey_families": n, "share": share, "share_se": se,
                         "estimate": share * registry, "se": se * registry})
    return pd.DataFrame(rows)


@dataclass
class _Target:
    total: float
    source: str
    benchmark: str | None = None
    se: float | None = None  # of a fixed figure (survey); model parts carry the two below
    variance: float = 0.0  # the model's count variance, scaled
    level: float = 0.0  # the model's level slope, scaled
    spread: float = 0.0  # the model's spread slope, scaled


def _members(regencies: list[str], region: str) -> list[str]:
    """The regencies in a region (itself, a province "PP", or NATIONAL)."""
    return [r for r in regencies if region in (NATIONAL, r) or (len(region) == 2 and r[:2] == region)]


@dataclass(frozen=True)
class Shared:
    """The variances of the model's errors that every region shares: its level and its spread."""

    level: float = 0.0
    spread: float = 0.0


def _region_se(members: list[str], variance: dict[str, float], slopes: dict[str, tuple[float, float]],
               shared: Shared) -> float:
    """The standard error of the model's expected count over `members` (shared errors add up)."""
    level = sum(slopes[r][0] for r in members)
    spread = sum(slopes[r][1] for r in members)
    own = sum(variance[r] for r in members)
    return float(np.sqrt(own + level**2 * shared.level + spread**2 * shared.spread))


def _model_se(parts: list[_Target], shared: Shared) -> float:
    """The standard error of a sum of model parts and fixed figures: the shared errors add up."""
    fixed = sum((p.se or 0.0) ** 2 for p in parts if p.source != "model")
    model = sum(p.variance for p in parts if p.source == "model")
    level = sum(p.level for p in parts if p.source == "model")
    spread = sum(p.spread for p in parts if p.source == "model")
    return float(np.sqrt(fixed + model + level**2 * shared.level + spread**2 * shared.spread))


def plan_targets(
    totals: pd.DataFrame,
    direct: pd.DataFrame,
    official: dict[str, OfficialHeadcount],
    max_rse: float,
    shared: Shared | None = None,
) -> pd.DataFrame:
    """Per regency and line: target persons, source, standard error and benchmark (module
    docstring, item 4); plus the same for provinces and the whole registry (their sums).
    `shared` holds the variances of the model's level and spread (`level_variance`,
    `spread_variance`)."""
    shared = shared or Shared()
    persons = registry_persons(totals)
    survey: dict[tuple[str, str], dict[str, Any]] = {(str(r["region"]), str(r["line"])): r for r in records(direct)}
    regencies = [str(r) for r in totals["regency"]]
    rows: list[dict[str, Any]] = []
    for line in LINES:
        expected = dict(zip(regencies, totals[f"expected_{line}"].astype(float), strict=True))
        variance = dict(zip(regencies, totals[f"variance_{line}"].astype(float), strict=True))
        by_level = (totals[f"level_{line}"].astype(float) if f"level_{line}" in totals.columns
                    else pd.Series(0.0, index=totals.index))
        by_spread = (totals[f"spread_{line}"].astype(float) if f"spread_{line}" in totals.columns
                     else pd.Series(0.0, index=totals.index))
        slopes = {r: (float(a), float(b)) for r, a, b in zip(regencies, by_level, by_spread, strict=True)}

        fixed: dict[str, _Target] = {}
        for region, registry in persons.items():
            o = official.get(region)
            share = o.share(line) if o else None
            if share is not None:
                fixed[region] = _Target(share * registry, "official")
                continue
            s = survey.get((region, line))
            if (s is not None and s["survey_families"] >= MIN_DIRECT_FAMILIES and s["estimate"] > 0
                    and np.isfinite(s["se"]) and s["se"] / s["estimate"] <= max_rse
                    and s["se"] < _region_se(_members(regencies, region), variance, slopes, shared)):
                fixed[region] = _Target(float(s["estimate"]), "survey", se=float(s["se"]))
        target: dict[str, _Target] = {r: fixed[r] for r in regencies if r in fixed}
        # benchmark the rest: to their province's figure, then to the whole registry's
        for level in ("province", "national"):
            anchors = sorted(r for r in fixed if (len(r) == 2 if level == "province" else r == NATIONAL))
            for anchor in anchors:
                members = _members(regencies, anchor)
                settled = sum(target[r].total for r in members if r in target)
                free = [r for r in members if r not in target]
                mass = sum(expected[r] for r in free)
                if not free:
                    continue
                scale = max(fixed[anchor].total - settled, 0.0) / mass if mass > 0 else 1.0
                for r in free:
                    target[r] = _Target(expected[r] * scale, "model", anchor, variance=variance[r] * scale**2,
                                        level=slopes[r][0] * scale, spread=slopes[r][1] * scale)
        for regency in regencies:
            if regency not in target:
                target[regency] = _Target(expected[regency], "model", variance=variance[regency],
                                          level=slopes[regency][0], spread=slopes[regency][1])
        for regency, t in target.items():
            se = t.se if t.source != "model" else _model_se([t], shared)
            rows.append(_row("regency", regency, line, persons[regency], t.total, t.source, se, t.benchmark,
                             survey.get((regency, line)), expected[regency], official.get(regency)))
        for region in sorted(r for r in persons if r != NATIONAL and len(r) == 2):
            members = [r for r in regencies if r[:2] == region]
            rows.append(_aggregate("province", region, line, persons[region], [target[r] for r in members],
                                   fixed.get(region), survey.get((region, line)),
                                   sum(expected[r] for r in members), official.get(region), shared))
        rows.append(_aggregate("national", NATIONAL, line, persons[NATIONAL], list(target.values()),
                               fixed.get(NATIONAL), survey.get((NATIONAL, line)), sum(expected.values()), None,
                               shared))
    return pd.DataFrame(rows)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a small frame as dicts (column name -> value)."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def registry_persons(totals: pd.DataFrame) -> dict[str, float]:
    """Registry persons per regency, province and NATIONAL, from `model_totals`."""
    persons: dict[str, float] = {NATIONAL: float(totals["persons"].sum())}
    for r in records(totals):
        regency, n = str(r["regency"]), float(r["persons"])
        persons[regency] = n
        if regency:
            persons[regency[:2]] = persons.get(regency[:2], 0.0) + n
    return persons


def _row(level: str, region: str, line: str, persons: float, total: float, source: str, se: float | None,
         anchor: str | None, survey: dict[str, Any] | None, expected: float,
         official: OfficialHeadcount | None) -> dict[str, Any]:
    return {
        "level": level, "region": region, "line": line, "persons": persons, "estimate": total,
        "share": total / persons if persons else None, "source": source, "standard_error": se,
        "benchmark": anchor,
        "survey_families": int(survey["survey_families"]) if survey is not None else 0,
        "survey_estimate": float(survey["estimate"]) if survey is not None else None,
        "survey_standard_error": float(survey["se"]) if survey is not None and np.isfinite(survey["se"]) else None,
        "model_estimate": expected,
        "official_share": official.share(line) if official else None,
        "official_year": official.year if official and official.share(line) is not None else None,
    }  # fmt: skip


def _aggregate(level: str, region: str, line: str, persons: float, parts: list[_Target], fixed: _Target | None,
               survey: dict[str, Any] | None, expected: float, official: OfficialHeadcount | None,
               shared: Shared) -> dict[str, Any]:
    total = sum(p.total for p in parts)
    sources = {p.source for p in parts}
    se: float | None
    if fixed is not None:
        source, se = fixed.source, fixed.se
    else:
        source = sources.pop() if len(sources) == 1 else "mixed"
        se = _model_se(parts, shared)
    return _row(level, region, line, persons, total, source, se, None, survey, expected, official)


def regency_targets(plan: pd.DataFrame) -> pd.DataFrame:
    """(regency, target_poor, target_extreme) from a plan: what `flag_families` reaches."""
    r = plan[plan["level"] == "regency"].pivot(index="region", columns="line", values="estimate")
    return pd.DataFrame({"regency": [str(i) for i in r.index], "target_poor": r["poor"].to_numpy(dtype=float),
                         "target_extreme": r["extreme"].to_numpy(dtype=float)})


def flag_families(ranked: ir.Table, targets: ir.Table) -> ir.Table:
    """The ranked families with `poor` and `extreme_poor` replaced by the calibrated flags
    (module docstring, item 5). `targets` has regency, target_poor, target_extreme."""
    t = ranked.mutate(_regency=ranked.regency_code.fill_null(NO_REGENCY))
    j = t.left_join(targets, t._regency == targets.regency)
    j = j.drop(*[c for c in j.columns if c.endswith("_right") or c == "regency"])
    ranked_alive = j.predicted_consumption.notnull() & (j.persons > 0)
    flags: dict[str, ir.BooleanValue] = {}
    for line in LINES:
        ratio = ranked_alive.ifelse(j.predicted_consumption / j[LINE_COLUMN[line]], ibis.null("float64"))
        persons = ranked_alive.ifelse(j.persons, 0).cast("float64")
        window = ibis.cumulative_window(group_by=j._regency, order_by=[ratio, j.family_id])
        before = persons.sum().over(window) - persons
        target = j[f"target_{line}"].fill_null(0.0)
        flags[line] = (ranked_alive & (before + persons / 2.0 < target)).fill_null(False)
    j = j.mutate(_poor=flags["poor"], _extreme=flags["extreme"])
    j = j.mutate(poor=j._poor | j._extreme, extreme_poor=j._extreme)
    return j.select(*ranked.columns)


def flagged_counts(ranked: ir.Table) -> pd.DataFrame:
    """Per regency: persons and families flagged poor and extremely poor."""
    t = ranked
    columns: dict[str, Any] = {}
    for line in LINES:
        flag = t[FLAG_COLUMN[line]].fill_null(False)
        columns[f"persons_{line}"] = flag.ifelse(t.persons, 0).cast("int64").sum()
        columns[f"families_{line}"] = flag.cast("int64").sum()
    out = t.group_by(regency=t.regency_code.fill_null(NO_REGENCY)).aggregate(**columns).to_pandas()
    return out.sort_values("regency", kind="stable").reset_index(drop=True)


def headcount_table(plan: pd.DataFrame, flagged: pd.DataFrame) -> pd.DataFrame:
    """The plan with the persons and families flagged, per level, region and line (HEADCOUNT_COLUMNS)."""
    out = plan.copy()
    persons: dict[tuple[str, str], int] = {}
    families: dict[tuple[str, str], int] = {}
    for r in records(flagged):
        regency = str(r["regency"])
        regions = {regency, NATIONAL} | ({regency[:2]} if regency else set())
        for line in LINES:
            for region in regions:
                key = (region, line)
                persons[key] = persons.get(key, 0) + int(r[f"persons_{line}"])
                families[key] = families.get(key, 0) + int(r[f"families_{line}"])
    keys = [(str(r), str(ln)) for r, ln in zip(out["region"], out["line"], strict=True)]
    out["flagged_persons"] = [persons.get(k, 0) for k in keys]
    out["flagged_families"] = [families.get(k, 0) for k in keys]
    out = out.assign(_order=out["level"].map(LEVEL_ORDER)).sort_values(["_order", "region", "line"], kind="stable")
    return out.drop(columns="_order")[list(HEADCOUNT_COLUMNS)].reset_index(drop=True)


def headcount_arrow(table: pd.DataFrame) -> pa.Table:
    """The headcount table as Arrow, with its schema (HEADCOUNT_SCHEMA) whatever the values."""
    frame = table[list(HEADCOUNT_COLUMNS)].astype(object).where(table[list(HEADCOUNT_COLUMNS)].notna(), None)
    return pa.Table.from_pylist(frame.to_dict("records"), schema=HEADCOUNT_SCHEMA)
