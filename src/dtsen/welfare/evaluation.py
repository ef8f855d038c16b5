"""`dtsen evaluate welfare`: how well the ranking finds the poor, as numbers.

Each view gives inclusion and exclusion errors at 10%, 20% and 40% coverage (see `accuracy`;
person-weighted) and the rank correlation:

held-out survey   every candidate model's cross-validation on the survey, whole regions held
                  out (from the model artefacts), overall and by region, and what `auto` chose
synthetic truth   every true family with a living member, ranked by each model's prediction for
                  the golden family it became; a true family the registry missed is never
                  selected. Also the share of the truly extremely poor whose family sits in
                  predicted desil 1, and errors at 40% coverage by regency.
single source     the same, when the family attributes come from one source alone instead of
                  the integrated registry (families that source does not cover are not
                  ranked): the value of integration as a number, against the best single source.
headcounts        per line (poor, extreme) in the whole registry and each regency: the true
                  number of poor people (synthetic truth), the estimate the ranking used and its
                  source (`headcounts`), and the people flagged; the share of the truly extremely
                  poor whose family is in national desil 1 or flagged extremely poor.
welfare changes   for the true families whose welfare moved since the census (job loss, a new
                  earner, a death, a move; `dtsen.synth.welfare`), per change and view: how far
                  the predicted rank lags the true one (mean of predicted minus true national
                  percentile, person-weighted) and, of those truly in the poorest 40%, the share
                  left out. The census alone still ranks them where they were; current sources
                  should move them: the value of recent sources over the census.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.link.evaluation import load_truth
from dtsen.welfare.accuracy import COVERAGES, bottom_share, targeting_errors
from dtsen.welfare.artefact import ModelArtefact
from dtsen.welfare.headcounts import NATIONAL, records
from dtsen.welfare.pipeline import (
    features_for,
    golden_tables,
    headcounts_path,
    rank,
    ranking_model,
    ranking_path,
    registry_as_of,
    reported_head_as_of,
    welfare_dir,
)
from dtsen.welfare.predictors import family_features
from dtsen.welfare.ranking import person_deciles, predict_log
from dtsen.welfare.selection import weighted_ranks
from dtsen.welfare.single_source import family_sources, load_source_records, single_source_families
from dtsen.welfare.truth import family_truth, load_truth_families

KINDS = ("ols", "boosted", "asset_index", "blend")
CENSUS_SOURCE = "regsosek_keluarga"
CHANGES = ("death", "job_loss", "new_earner", "move")


@dataclass
class WelfareEvaluation:
    survey: dict[str, Any] = field(default_factory=dict)  # kind -> cross-validation metrics
    survey_by_region: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)  # view name -> errors on the truth
    truth_by_regency: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    integration: dict[str, Any] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    headcounts: list[dict[str, Any]] = field(default_factory=list)
    extreme_poor: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "selection": self.selection,
            "held_out_survey": self.survey,
            "held_out_survey_by_region": self.survey_by_region,
            "synthetic_truth": self.truth,
            "synthetic_truth_by_regency": self.truth_by_regency,
            "integration": self.integration,
            "headcounts": self.headcounts,
            "extreme_poor": self.extreme_poor,
            "welfare_changes": self.changes,
        }


def _scored(engine: Engine, model: ModelArtefact, features: ir.Table, truth: ir.Table, work: Path) -> pd.DataFrame:
    """Per true family: true welfare, persons, regency, and the model's prediction (NaN when the
    registry has no golden family for it, or the family is not in `features`)."""
    predicted = engine.materialize(predict_log(engine, model, features, work, 200_000))
    alive = features.filter(features.persons > 0).select("family_id", "persons")
    ranked = alive.inner_join(predicted, "family_id")
    ranked = ranked.mutate(predicted_consumption=ranked.log_predicted.exp())
    ranked = ranked.mutate(decile=person_deciles(ranked, "predicted_consumption"))
    ranked = ranked.select("family_id", "log_predicted", "decile")
    j = truth.left_join(ranked, truth.family_id == ranked.family_id)
    frame = j.select(
        "true_family_id", "true_consumption", "true_persons", "true_poor", "true_extreme_poor", "true_decile",
        "region_code", "welfare_change", "log_predicted", "decile",
    ).to_pandas()  # fmt: skip
    # ties in the prediction are broken by position: the order must not carry the truth
    return frame.sort_values("true_family_id", kind="stable").reset_index(drop=True)


def truth_errors(frame: pd.DataFrame) -> dict[str, Any]:
    predicted = frame["log_predicted"].to_numpy(dtype=float)
    true = np.log(frame["true_consumption"].to_numpy(dtype=float))
    weight = frame["true_persons"].to_numpy(dtype=float)
    extreme = frame["true_extreme_poor"].fillna(False).to_numpy(dtype=bool)
    in_first = (frame["decile"].fillna(99).to_numpy() == 1) & extreme
    matched = ~np.isnan(predicted)
    ok = matched & np.isfinite(true)
    resid = predicted[ok] - true[ok]
    varied = ok.sum() > 2 and predicted[ok].std() > 0 and true[ok].std() > 0
    corr = float(np.corrcoef(predicted[ok], true[ok])[0, 1]) if varied else float("nan")
    return {
        "true_families": len(frame),
        "ranked_families": int(matched.sum()),
        "persons": float(weight.sum()),
        "rank_correlation": round(float(pd.Series(predicted[ok]).rank().corr(pd.Series(true[ok]).rank())), 6)
        if varied else None,
        "correlation_log": round(corr, 6) if not np.isnan(corr) else None,
        "rmse_log": round(float(np.sqrt((resid**2).mean())), 6) if ok.any() else None,
        "extreme_poor_in_desil_1": round(float(weight[in_first].sum() / weight[extreme].sum()), 6)
        if extreme.any() else None,
        "errors": [e.to_dict() for e in targeting_errors(predicted, true, weight, COVERAGES)],
    }


def _by_regency(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    regency = frame["region_code"].fillna("").str.slice(0, 5)
    for code, idx in frame.groupby(regency).indices.items():
        part = frame.iloc[idx]
        predicted = part["log_predicted"].to_numpy(dtype=float)
        true = np.log(part["true_consumption"].to_numpy(dtype=float))
        err = targeting_errors(predicted, true, part["true_persons"].to_numpy(dtype=float), (0.40,))[0]
        ok = ~np.isnan(predicted)
        rho = pd.Series(predicted[ok]).rank().corr(pd.Series(true[ok]).rank()) if ok.sum() > 2 else float("nan")
        rows.append({"regency": code, "families": len(idx), "persons": float(part["true_persons"].sum()),
                     "rank_correlation": round(float(rho), 6) if np.isfinite(rho) else None,
                     "inclusion_40": round(err.inclusion, 6), "exclusion_40": round(err.exclusion, 6)})
    return rows


def change_errors(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per welfare change (module docstring): families, persons, mean rank lag, exclusion at 40%."""
    predicted = frame["log_predicted"].to_numpy(dtype=float)
    true = np.log(frame["true_consumption"].to_numpy(dtype=float))
    weight = frame["true_persons"].to_numpy(dtype=float)
    ok = ~np.isnan(predicted)
    pred_pct = np.full(len(frame), np.nan)
    pred_pct[ok] = weighted_ranks(predicted[ok], weight[ok])
    true_pct = weighted_ranks(true, weight)
    selected = bottom_share(predicted, weight, 0.40)
    target = bottom_share(true, weight, 0.40)
    change = frame["welfare_change"].fillna("").to_numpy(dtype=object)
    rows = []
    for kind in ("", *CHANGES):
        mask = change == kind
        if not mask.any():
            continue
        m_ok = mask & ok
        lag = float(np.average(pred_pct[m_ok] - true_pct[m_ok], weights=weight[m_ok])) if m_ok.any() else None
        poor = mask & target
        left_out = float(weight[poor & ~selected].sum() / weight[poor].sum()) if poor.any() else None
        rows.append({"change": kind or "none", "families": int(mask.sum()), "persons": float(weight[mask].sum()),
                     "rank_lag": round(lag, 6) if lag is not None else None,
                     "exclusion_40": round(left_out, 6) if left_out is not None else None})
    return rows


def headcount_comparison(ranking: ir.Table, truth: ir.Table, headcounts: pd.DataFrame) -> tuple[
        list[dict[str, Any]], dict[str, Any]]:
    """(per national and regency row and line: true persons, estimate, source, flagged; the
    extremely poor found in desil 1 or flagged)."""
    r = ranking.select(_fid=ranking.family_id, _decile=ranking.decile, _extreme=ranking.extreme_poor)
    j = truth.left_join(r, truth.family_id == r._fid)
    frame = j.select("true_persons", "true_poor", "true_extreme_poor", "region_code", "_decile", "_extreme").to_pandas()
    regency = frame["region_code"].fillna("").str.slice(0, 5)
    persons = frame["true_persons"].to_numpy(dtype=float)
    true = {line: frame[column].fillna(False).to_numpy(dtype=bool)
            for line, column in (("poor", "true_poor"), ("extreme", "true_extreme_poor"))}
    totals: dict[tuple[str, str], float] = {}
    for line, flag in true.items():
        totals[(NATIONAL, line)] = float(persons[flag].sum())
        for code, idx in frame.groupby(regency).indices.items():
            totals[(str(code), line)] = float(persons[idx][flag[idx]].sum())
    rows = []
    for h in records(headcounts[headcounts["level"].isin(["national", "regency"])]):
        key = (str(h["region"]), str(h["line"]))
        t = totals.get(key)
        rows.append({"level": h["level"], "region": key[0], "line": key[1], "persons": float(h["persons"]),
                     "true": t, "estimate": round(float(h["estimate"]), 1), "source": h["source"],
                     "survey_estimate": None if pd.isna(h["survey_estimate"]) else round(float(h["survey_estimate"]), 1),
                     "flagged": int(h["flagged_persons"]),
                     "flagged_error": round(int(h["flagged_persons"]) / t - 1.0, 6) if t else None})
    extreme = true["extreme"]
    found = extreme & ((frame["_decile"].fillna(99).to_numpy() == 1) | frame["_extreme"].fillna(False).to_numpy(bool))
    flagged = extreme & frame["_extreme"].fillna(False).to_numpy(bool)
    total = float(persons[extreme].sum())
    summary = {
        "true_persons": total,
        "in_desil_1_or_flagged": round(float(persons[found].sum()) / total, 6) if total else None,
        "flagged": round(float(persons[flagged].sum()) / total, 6) if total else None,
    }
    return rows, summary


def evaluate_welfare(engine: Engine, settings: Settings, truth_dir: Path | None = None) -> WelfareEvaluation:
    """Score every model on the held-out survey and the synthetic truth, the integrated registry
    against each single family source, the headcounts and flags of the current ranking, and the
    families whose welfare changed since the census."""
    out = WelfareEvaluation()
    families, features = features_for(engine, settings)
    models: dict[str, ModelArtefact] = {}
    for kind in KINDS:
        settings_kind = settings.model_copy(update={"welfare": settings.welfare.model_copy(update={"model": kind})})
        models[kind] = ranking_model(engine, settings_kind, features)
        out.models[kind] = models[kind].model_id
        out.survey[kind] = models[kind].metrics.get("cross_validation", {})
        out.survey_by_region[kind] = models[kind].metrics.get("by_region", [])
    out.selection = models["ols"].metrics.get("selection", {})
    directory = truth_dir or settings.project.root / "truth"
    links = engine.read_parquet(settings.work_dir / "link" / "links.parquet")
    truth = engine.materialize(
        family_truth(engine, links, load_truth(engine, directory), load_truth_families(engine, directory))
    )
    work = welfare_dir(settings) / "evaluation"
    work.mkdir(parents=True, exist_ok=True)
    for kind, model in models.items():
        frame = _scored(engine, model, features, truth, work)
        out.truth[f"registry/{kind}"] = truth_errors(frame)
        out.truth_by_regency[f"registry/{kind}"] = _by_regency(frame)
        out.changes[f"registry/{kind}"] = change_errors(frame)
    # the value of integration: the ranking model on one source's family attributes alone
    chosen = out.selection.get("chosen")
    kind = settings.welfare.model if settings.welfare.model in KINDS else (chosen if chosen in KINDS else "ols")
    _, persons = golden_tables(engine, settings)
    as_of = registry_as_of(settings)
    singles: dict[str, Any] = {}
    for source in family_sources(settings):
        staged = load_source_records(engine, settings, source)
        single = single_source_families(engine, links, staged, families, source)
        single_features = engine.materialize(family_features(single, persons, as_of, reported_head_as_of(settings)))
        frame = _scored(engine, models[kind], single_features, truth, work)
        singles[source] = truth_errors(frame)
        out.truth[f"{source} alone/{kind}"] = singles[source]
        if source == CENSUS_SOURCE:
            out.changes[f"{source} alone/{kind}"] = change_errors(frame)
    if singles:
        best = min(singles, key=lambda s: _error_at(singles[s], 0.40))
        registry = out.truth[f"registry/{kind}"]
        out.integration = {
            "model": kind,
            "best_single_source": best,
            "exclusion_40_registry": _error_at(registry, 0.40),
            "exclusion_40_best_single_source": _error_at(singles[best], 0.40),
            "exclusion_reduction_40": round(_error_at(singles[best], 0.40) - _error_at(registry, 0.40), 6),
        }
    if not (ranking_path(settings).exists() and headcounts_path(settings).exists()):
        rank(engine, settings)
    headcounts = engine.read_parquet(headcounts_path(settings)).to_pandas()
    out.headcounts, out.extreme_poor = headcount_comparison(engine.read_parquet(ranking_path(settings)), truth,
                                                            headcounts)
    return out


def _error_at(view: dict[str, Any], coverage: float) -> float:
    for e in view["errors"]:
        if abs(e["coverage"] - coverage) < 1e-9:
            return float(e["exclusion_error"])
    raise KeyError(coverage)
