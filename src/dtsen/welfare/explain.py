"""Why a family has its rank, and what moved it between two runs.

For one family: the contribution of each predictor to its predicted ln consumption per capita,
next to the average contribution over all ranked families, so that "+0.20 for a ceramic floor"
reads against the typical family. For the OLS model the contributions are exact (weight x
value); for the boosted model they are LightGBM's per-feature contributions (TreeSHAP) of the
trees, added to the OLS contributions of the start they learned from; both add up to the
prediction.

Between two runs (this one and an earlier WORK directory), the predictors whose values changed,
each with the change of its contribution under the current model, and the deciles before and
after: "the floor went from TANAH to KERAMIK (+0.20), decile 2 -> 4".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.welfare.artefact import ModelArtefact
from dtsen.welfare.ols import contribution_exprs, region_expr


class ExplainFamilyError(DtsenError):
    """The family or the run to compare with cannot be found."""


@dataclass
class Contribution:
    predictor: str
    value: Any
    contribution: float
    average: float


@dataclass
class FamilyExplanation:
    family_id: int
    model_id: str
    base: float  # intercept (+ region effect) or the boosted model's expected value
    predicted_consumption: float | None
    decile: int | None
    ranking: dict[str, Any]
    contributions: list[Contribution]
    changes: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)


def _one(t: ir.Table, family_id: int, what: str) -> dict[str, Any]:
    rows = t.filter(t.family_id == family_id).to_pyarrow().to_pylist()
    if not rows:
        raise ExplainFamilyError(f"family {family_id} is not in {what}")
    return rows[0]


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def contributions(
    engine: Engine, model: ModelArtefact, features: ir.Table, family_id: int
) -> tuple[float, dict[str, float], dict[str, float]]:
    """(base, this family's contributions, the average contributions of ranked families)."""
    linear: tuple[float, dict[str, float], dict[str, float]] | None = None
    if model.coefficients is not None:
        coef = model.coefficients
        exprs = contribution_exprs(coef, features)
        t = features.select("family_id", "persons", _region=region_expr(coef, features), **exprs)
        mine = _one(t, family_id, "the features")
        live = t.filter(t.persons > 0)
        avg = live.aggregate(**{k: live[k].mean() for k in exprs}).to_pyarrow().to_pylist()[0]
        base = coef.intercept + float(mine["_region"])
        linear = (base, {k: float(mine[k]) for k in exprs}, {k: float(avg[k] or 0.0) for k in exprs})
        if model.kind != "boosted":
            return linear
    from dtsen.welfare.boosted import contributions_boosted, load_booster

    if model.path is None:
        raise ExplainFamilyError(f"model {model.model_id} was never saved")
    booster = load_booster(model.path / "model.txt", model.booster_sha256)
    names = [p.name for p in model.predictors]
    row = features.filter(features.family_id == family_id).select("family_id", *names).to_pandas()
    if row.empty:
        raise ExplainFamilyError(f"family {family_id} is not in the features")
    sample = features.filter(features.persons > 0).select(*names).limit(20_000).to_pandas()
    mine_c = contributions_boosted(booster, model.predictors, row[names])
    avg_c = contributions_boosted(booster, model.predictors, sample)
    base = float(mine_c["base"].iloc[0])
    mine = {k: float(mine_c[k].iloc[0]) for k in names}
    avg = {k: float(avg_c[k].mean()) for k in names}
    if linear is not None:  # trees on top of the OLS start: the two parts add up
        base += linear[0]
        mine = {k: mine[k] + linear[1][k] for k in names}
        avg = {k: avg[k] + linear[2][k] for k in names}
    return base, mine, avg


def explain_family(
    engine: Engine,
    model: ModelArtefact,
    features: ir.Table,
    ranking: ir.Table,
    family_id: int,
    before: tuple[ir.Table, ir.Table] | None = None,
) -> FamilyExplanation:
    """Explain `family_id`'s rank; with `before` = (features, ranking) of an earlier run, also
    what changed and how it moved the family."""
    base, mine, avg = contributions(engine, model, features, family_id)
    values = _one(features, family_id, "the features")
    ranked = _one(ranking, family_id, "the ranking")
    items = [
        Contribution(p.name, _clean(values.get(p.name)), mine[p.name], avg[p.name]) for p in model.predictors
    ]
    items.sort(key=lambda c: -abs(c.contribution - c.average))
    out = FamilyExplanation(
        family_id=family_id,
        model_id=model.model_id,
        base=base,
        predicted_consumption=ranked.get("predicted_consumption"),
        decile=ranked.get("decile"),
        ranking={k: ranked.get(k) for k in ("decile_province", "decile_regency", "rank_province", "rank_regency",
                                            "poor", "extreme_poor", "persons", "region_code")},
        contributions=items,
    )
    if before is not None:
        old_features, old_ranking = before
        old_values = _one(old_features, family_id, "the earlier run's features")
        old_rank = _one(old_ranking, family_id, "the earlier run's ranking")
        old_base, old_mine, _ = contributions(engine, model, _with_values(engine, features, old_values), family_id)
        for p in model.predictors:
            a, b = _clean(old_values.get(p.name)), _clean(values.get(p.name))
            if a != b:
                out.changes.append({"predictor": p.name, "before": a, "after": b,
                                    "effect": mine[p.name] - old_mine[p.name]})
        out.changes.sort(key=lambda c: -abs(c["effect"]))
        out.before = {"decile": old_rank.get("decile"), "predicted_consumption": old_rank.get("predicted_consumption"),
                      "model_id": old_rank.get("model_id"), "region_effect_change": base - old_base}
    return out


def _with_values(engine: Engine, features: ir.Table, values: dict[str, Any]) -> ir.Table:
    """A one-row feature table holding `values` (an earlier run's row), typed like `features`."""
    import pyarrow as pa

    schema = features.schema().to_pyarrow()
    row = pa.Table.from_pylist([{k: values.get(k) for k in schema.names}], schema=schema)
    return engine.from_arrow(row)


def read_run(engine: Engine, work_dir: Path) -> tuple[ir.Table, ir.Table]:
    """(features, ranking) of an earlier run's WORK directory (or its welfare/ directory)."""
    d = Path(work_dir)
    for candidate in (d / "welfare", d):
        f, r = candidate / "features.parquet", candidate / "ranking.parquet"
        if f.exists() and r.exists():
            return engine.read_parquet(f), engine.read_parquet(r)
    raise ExplainFamilyError(f"no ranking under {d}: give the WORK directory of a run that ranked families")
