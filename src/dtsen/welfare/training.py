"""Training the PMT on the consumption survey: four candidate models, held-out regions, a choice.

The training set is every golden family with a measured consumption per capita (the survey
source's `consumption_per_capita`, which survivorship carries onto the golden family, with its
sampling weight `survey_weight`) and at least one living member. Its predictors are the golden
values, the same ones the model is later applied to. The survey is screened first
(`robust.screen_survey`: absurd rows do not train anything). Then every candidate is
cross-validated with whole regions held out (`crossval`):

ols          weighted least squares with regional shifts and a GCV ridge (`ols`)
boosted      LightGBM trees that start from the OLS prediction (`boosted`)
asset_index  the first principal component of the predictors over the registry, fitted without
             the survey, calibrated to ln consumption on it (`asset_index`)
blend        OLS shrunk towards the asset index by the share that ranks held-out regions best

Weights: the sampling weight times the family's persons, in every cross-validated score, every
level and every headcount, so that the survey stands for the population's people and not for
its own design. Each model's *shape* (its slopes, trees, index line) is fitted unweighted and
its *level* (the intercept) then moved so that the weighted mean residual over the survey is
zero: weighting the slopes too throws away information when the weights vary (a design that
draws the poorer stratum three times as often gives weights that vary by 4.5) and, measured on
the synthetic regency (100,000 persons, seeds 7-9), raised the exclusion error at 40% coverage
from 0.205 to 0.209-0.221; the level is what the weights must get right, since the headcounts
rest on it (unweighted it was 0.01-0.04 too high in ln consumption). `selection.choose` picks the model for `welfare.model = "auto"`. Each model is
refitted on every screened survey family and saved as an artefact (`artefact`), with its
residual spread (`residual_sd`: the weighted root mean square of the held-out errors) and the
survey's weighted variance of ln consumption (`survey_variance`), from which the ranking takes
the spread that turns predictions into probabilities of being poor (`probability.matched_spread`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.welfare.accuracy import COVERAGES, targeting_errors
from dtsen.welfare.artefact import ModelArtefact, save_artefact
from dtsen.welfare.crossval import region_folds
from dtsen.welfare.ols import REGION_COLUMN, Coefficients, design_columns, fit_ols, predict_frame
from dtsen.welfare.predictors import KEY_COLUMNS, Predictor, select_predictors
from dtsen.welfare.robust import WEIGHT, Screen, screen_survey
from dtsen.welfare.selection import Choice, choose, weighted_spearman
from dtsen.welfare.settings import WelfareSettings

MIN_SURVEY_FAMILIES = 20
TARGET = "consumption_per_capita"
KINDS: tuple[str, ...] = ("ols", "boosted", "asset_index", "blend")
FAMILIES_PER_PARAMETER = 10
LOW_R2 = 0.30
SAME_AS_OLS = 0.01  # boosted predictions within this (RMS, ln) of OLS's: it did not improve on it


class SurveyError(DtsenError):
    """The survey cannot train a model (too few families, no consumption)."""


@dataclass
class TrainedModels:
    artefacts: dict[str, ModelArtefact]
    survey_families: int
    fold_level: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    choice: Choice | None = None
    screen: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> ModelArtefact | None:
        return self.artefacts.get(self.choice.chosen) if self.choice else None


def training_frame(features: ir.Table, predictors: tuple[Predictor, ...]) -> pd.DataFrame:
    """The survey families (a measured consumption, a living member) as a small pandas frame,
    in family_id order, with their sampling weight when the features carry one."""
    t = features.filter(features[TARGET].notnull() & (features.persons > 0))
    extra = [WEIGHT] if WEIGHT in features.columns else []
    frame = t.select(*KEY_COLUMNS, *(p.name for p in predictors), TARGET, *extra).to_pandas()
    return frame.sort_values("family_id", kind="stable").reset_index(drop=True)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A stable fingerprint of the training data (CSV text of the sorted frame)."""
    return hashlib.sha256(frame.to_csv(index=False, float_format="%.10g").encode("utf-8")).hexdigest()


def ridge_of(settings: WelfareSettings) -> float | None:
    return None if settings.ridge == "auto" else float(settings.ridge)


@dataclass
class Survey:
    """The screened survey: the rows that train, ln consumption, weights and predictor bounds."""

    frame: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray  # sampling weight x persons: every fit and every score
    screen: Screen

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        return self.screen.bounds


def prepare_survey(features: ir.Table, predictors: tuple[Predictor, ...], settings: WelfareSettings) -> Survey:
    raw = training_frame(features, predictors)
    screen = screen_survey(raw, predictors, ridge_of(settings))
    kept = screen.kept
    frame = raw[kept].reset_index(drop=True)
    if len(frame) < MIN_SURVEY_FAMILIES:
        dropped = f" ({len(raw) - len(frame)} more were screened out as implausible)" if len(raw) > len(frame) else ""
        raise SurveyError(
            f"the survey source {settings.survey!r} gives {len(frame)} golden families with a consumption per "
            f"capita{dropped}; at least {MIN_SURVEY_FAMILIES} are needed to train a PMT (map its consumption column "
            "to `consumption_per_capita`, ingest and link it)"
        )
    y = np.log(frame[TARGET].to_numpy(dtype=float))
    weight = screen.weight[kept] * frame["persons"].to_numpy(dtype=float)
    return Survey(frame=frame, y=y, weight=weight, screen=screen)


def level_shift(y: np.ndarray, predicted: np.ndarray, weight: np.ndarray) -> float:
    """How far up the predictions must move for the weighted mean residual to be 0: the level
    of the population the survey stands for, not of its design."""
    return float(np.average(y - predicted, weights=weight)) if len(y) else 0.0


def shifted(coef: Coefficients | None, shift: float, predictors: tuple[Predictor, ...]) -> Coefficients:
    """`coef` with its intercept moved by `shift` (a bare intercept when there is none)."""
    if coef is None:
        return Coefficients(intercept=shift, predictors=predictors, weights={})
    return replace(coef, intercept=coef.intercept + shift)


def _ols(settings: WelfareSettings, predictors: tuple[Predictor, ...], survey: Survey,
         rows: np.ndarray) -> Coefficients:
    """OLS on the survey rows: the shape unweighted, the level weighted (`train_models`)."""
    part = survey.frame[rows].reset_index(drop=True)
    coef, _ = fit_ols(predictors, part, survey.y[rows], region_level=settings.region_level,
                      min_region_families=settings.min_region_families, ridge=ridge_of(settings),
                      bounds=survey.bounds)
    return shifted(coef, level_shift(survey.y[rows], predict_frame(coef, part), survey.weight[rows]), predictors)


def _boosted(settings: WelfareSettings, predictors: tuple[Predictor, ...], survey: Survey,
             rows: np.ndarray) -> tuple[Coefficients, Any]:
    """The boosted model on the survey rows, its start's intercept moved to the weighted level."""
    part = survey.frame[rows].reset_index(drop=True)
    start, booster = fit_boosted_model(predictors, part, survey.y[rows], settings, bounds=survey.bounds)
    fitted = _boosted_predict(start, booster, predictors)(part)
    return shifted(start, level_shift(survey.y[rows], fitted, survey.weight[rows]), predictors), booster


def fit_boosted_model(
    predictors: tuple[Predictor, ...],
    train: pd.DataFrame,
    y: np.ndarray,
    settings: WelfareSettings,
    weight: np.ndarray | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
) -> tuple[Coefficients | None, Any]:
    """(the OLS start or None, the booster): with `boosted.start = "ols"` the trees learn what the
    OLS model leaves (gradient boosting from the linear fit), else they start from zero."""
    from dtsen.welfare.boosted import fit_boosted

    start = None
    if settings.boosted.start == "ols":
        start, _ = fit_ols(predictors, train, y, region_level=settings.region_level,
                           min_region_families=settings.min_region_families, ridge=ridge_of(settings),
                           weight=weight, bounds=bounds)
    init = predict_frame(start, train) if start is not None else None
    booster = fit_boosted(predictors, train, y, settings.boosted, settings.seed, init_score=init, weight=weight)
    return start, booster


def start_of(start: Coefficients | None, frame: pd.DataFrame) -> np.ndarray:
    return predict_frame(start, frame) if start is not None else np.zeros(len(frame))


def _boosted_predict(start: Coefficients | None, booster: Any, predictors: tuple[Predictor, ...]
                     ) -> Callable[[pd.DataFrame], np.ndarray]:
    from dtsen.welfare.boosted import predict_frame_boosted

    return lambda frame: start_of(start, frame) + predict_frame_boosted(booster, predictors, frame)


def fit_metrics(y: np.ndarray, predicted: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    """Weighted R², RMSE of ln consumption, rank correlation, and inclusion/exclusion errors at
    each coverage."""
    resid = y - predicted
    w = np.asarray(weight, dtype=float)
    mean = float(np.average(y, weights=w)) if len(y) else 0.0
    ss_tot = float((w * (y - mean) ** 2).sum())
    rho = weighted_spearman(predicted, y, w)
    return {
        "families": len(y),
        "r2": round(1.0 - float((w * resid**2).sum()) / ss_tot, 6) if ss_tot else 0.0,
        "rmse_log": round(float(np.sqrt(np.average(resid**2, weights=w))), 6) if len(y) else 0.0,
        "rank_correlation": round(rho, 6) if np.isfinite(rho) else None,
        "errors": [e.to_dict() for e in targeting_errors(predicted, y, w, COVERAGES)],
    }


def _by_region(train: pd.DataFrame, y: np.ndarray, predicted: np.ndarray, weight: np.ndarray,
               column: str) -> list[dict[str, Any]]:
    rows = []
    for region, idx in train.groupby(train[column].fillna("")).indices.items():
        err = targeting_errors(predicted[idx], y[idx], weight[idx], (0.40,))[0]
        resid = y[idx] - predicted[idx]
        rho = weighted_spearman(predicted[idx], y[idx], weight[idx])
        rows.append({"region": region, "families": len(idx),
                     "rmse_log": round(float(np.sqrt(np.average(resid**2, weights=weight[idx]))), 6),
                     "rank_correlation": round(rho, 6) if np.isfinite(rho) else None,
                     "exclusion_40": round(err.exclusion, 6), "inclusion_40": round(err.inclusion, 6)})
    return rows


@dataclass
class _Fitted:
    """A candidate: held-out and final predictions, the final model, what to save."""

    oof: np.ndarray
    fitted: np.ndarray
    coefficients: Coefficients | None = None
    booster_text: str | None = None
    fallback: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _cross_validated(fit: Callable[[np.ndarray], Callable[[pd.DataFrame], np.ndarray]], survey: Survey,
                     folds: np.ndarray, k: int) -> np.ndarray:
    out = np.full(len(survey.y), np.nan)
    for fold in range(k):
        held = folds == fold
        if not held.any() or held.all():
            continue
        predict = fit(~held)
        out[held] = predict(survey.frame[held].reset_index(drop=True))
    return out


def _candidates(features: ir.Table, settings: WelfareSettings, predictors: tuple[Predictor, ...],
                survey: Survey, folds: np.ndarray, kinds: tuple[str, ...]) -> dict[str, _Fitted]:
    out: dict[str, _Fitted] = {}
    everyone = np.ones(len(survey.y), dtype=bool)
    need_ols = "ols" in kinds or "blend" in kinds
    if need_ols:

        def fit_ols_rows(rows: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
            coef = _ols(settings, predictors, survey, rows)
            return lambda frame: predict_frame(coef, frame)

        coef = _ols(settings, predictors, survey, everyone)
        thin = sorted(set(survey.frame[REGION_COLUMN[settings.region_level]].fillna("").astype(str))
                      - set(coef.regions)) if settings.region_level != "none" else []
        counts = survey.frame[REGION_COLUMN.get(settings.region_level, "regency_code")].fillna("").astype(str)
        thin = [r for r in thin if (counts == r).sum() < settings.min_region_families or not r]
        out["ols"] = _Fitted(oof=_cross_validated(fit_ols_rows, survey, folds, settings.folds),
                             fitted=predict_frame(coef, survey.frame), coefficients=coef,
                             fallback={"pooled_regions": thin, "min_region_families": settings.min_region_families,
                                       "region_level": settings.region_level})
    if "boosted" in kinds:
        from dtsen.welfare.boosted import splits

        def fit_boost_rows(rows: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
            start, booster = _boosted(settings, predictors, survey, rows)
            return _boosted_predict(start, booster, predictors)

        start, booster = _boosted(settings, predictors, survey, everyone)
        out["boosted"] = _Fitted(oof=_cross_validated(fit_boost_rows, survey, folds, settings.folds),
                                 fitted=_boosted_predict(start, booster, predictors)(survey.frame),
                                 coefficients=start, booster_text=booster.model_to_string(),
                                 fallback={"start": settings.boosted.start}, extra={"splits": splits(booster)})
    if "asset_index" in kinds or "blend" in kinds:
        from dtsen.welfare.asset_index import calibrate, fit_index, registry_sample

        sample = registry_sample(features, predictors)
        index, explained = fit_index(sample, predictors, survey.bounds)
        values = predict_frame(index, survey.frame)

        def calibrated_on(rows: np.ndarray) -> Coefficients:
            coef = calibrate(index, values[rows], survey.y[rows], np.ones(int(rows.sum())))
            shift = level_shift(survey.y[rows], predict_frame(coef, survey.frame[rows]), survey.weight[rows])
            return shifted(coef, shift, predictors)

        def fit_index_rows(rows: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
            coef = calibrated_on(rows)
            return lambda frame: predict_frame(coef, frame)

        calibrated = calibrated_on(everyone)
        out["asset_index"] = _Fitted(oof=_cross_validated(fit_index_rows, survey, folds, settings.folds),
                                     fitted=predict_frame(calibrated, survey.frame), coefficients=calibrated,
                                     extra={"registry_families": len(sample), "explained_variance": round(explained, 6)})
    if "blend" in kinds and "ols" in out and "asset_index" in out:
        from dtsen.welfare.asset_index import BLEND_GRID, blend

        ols, idx = out["ols"], out["asset_index"]
        scores = {lam: weighted_spearman(lam * ols.oof + (1 - lam) * idx.oof, survey.y, survey.weight)
                  for lam in BLEND_GRID}
        share = max(BLEND_GRID, key=lambda lam: (round(scores[lam], 9), -lam))
        assert ols.coefficients is not None and idx.coefficients is not None
        coef = blend(ols.coefficients, idx.coefficients, share)
        out["blend"] = _Fitted(oof=share * ols.oof + (1 - share) * idx.oof, fitted=predict_frame(coef, survey.frame),
                               coefficients=coef, fallback={"ols_share": share},
                               extra={"ols_share": share})
    return {k: v for k, v in out.items() if k in kinds}


def train_models(
    engine: Engine,
    features: ir.Table,
    settings: WelfareSettings,
    work_dir: Path,
    *,
    survey_as_of: dt.date | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> TrainedModels:
    """Screen the survey, cross-validate every candidate, choose, refit and save one artefact
    per model kind."""
    predictors = select_predictors(settings.predictors, where="[welfare] predictors")
    survey = prepare_survey(features, predictors, settings)
    folds, level = region_folds(survey.frame, settings.folds, settings.seed)
    fitted = _candidates(features, settings, predictors, survey, folds, kinds)
    groups = survey.frame[level].fillna("").astype(str).to_numpy() if level != "family" else \
        survey.frame["family_id"].astype(str).to_numpy()
    choice = choose({k: f.oof for k, f in fitted.items()}, survey.y, survey.weight, groups,
                    settings.seed) if fitted else None
    sha = frame_sha256(survey.frame)
    training = {"survey": settings.survey, "survey_as_of": str(survey_as_of) if survey_as_of else None,
                "families": len(survey.frame), "persons": int(survey.frame["persons"].sum()), "sha256": sha,
                "sampling_weights": survey.screen.has_weights, "screen": survey.screen.to_dict()}
    model_settings = settings.model_dump(mode="json", exclude={"model", "coefficients", "poverty_lines",
                                                              "headcounts", "flags", "headcount_max_rse"})
    region_column = REGION_COLUMN.get(settings.region_level, "regency_code")
    mean_y = float(np.average(survey.y, weights=survey.weight))
    survey_variance = float(np.average((survey.y - mean_y) ** 2, weights=survey.weight))
    artefacts: dict[str, ModelArtefact] = {}
    for kind, f in fitted.items():
        resid = survey.y - f.oof
        metrics: dict[str, Any] = {
            "cross_validation": {"folds": settings.folds, "held_out_by": level,
                                 **fit_metrics(survey.y, f.oof, survey.weight)},
            "by_region": _by_region(survey.frame, survey.y, f.oof, survey.weight, region_column),
            "in_sample": fit_metrics(survey.y, f.fitted, survey.weight),
            "residual_sd": round(float(np.sqrt(np.average(resid**2, weights=survey.weight))), 6),
            "survey_variance": round(survey_variance, 6),
            **f.extra,
        }
        if choice is not None:
            metrics["selection"] = choice.to_dict()
        artefact = ModelArtefact(kind=kind, predictors=predictors, training=training, metrics=metrics,
                                 fallback=f.fallback, settings=model_settings, coefficients=f.coefficients)
        save_artefact(artefact, work_dir, f.booster_text)
        artefacts[kind] = artefact
    notes, warnings = _notes(settings, predictors, survey, fitted, artefacts, choice)
    return TrainedModels(artefacts=artefacts, survey_families=len(survey.frame), fold_level=level, notes=notes,
                         warnings=warnings, choice=choice, screen=survey.screen.to_dict())


def _notes(settings: WelfareSettings, predictors: tuple[Predictor, ...], survey: Survey,
           fitted: dict[str, _Fitted], artefacts: dict[str, ModelArtefact], choice: Choice | None
           ) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    warnings: list[str] = []
    n = len(survey.frame)
    parameters = len(design_columns(predictors, survey.frame)) + 1
    ols = artefacts.get("ols")
    if ols is not None and ols.coefficients is not None:
        parameters += len(ols.coefficients.regions)
        thin = ols.fallback.get("pooled_regions", [])
        if thin and settings.region_level != "none":
            notes.append(f"{len(thin)} {settings.region_level}(s) with fewer than {settings.min_region_families} "
                         f"survey families take the pooled model: {', '.join(thin[:10])}"
                         f"{' ...' if len(thin) > 10 else ''}")
    if n < FAMILIES_PER_PARAMETER * parameters:
        warnings.append(
            f"Survei kecil / small survey: {n:,} families for the {parameters} weights of OLS (fewer than "
            f"{FAMILIES_PER_PARAMETER} per weight); OLS and the boosted model can fit noise, the asset index "
            "and the blend need less of the survey"
        )
    reference = artefacts.get(choice.chosen) if choice else ols
    if reference is not None:
        r2 = reference.metrics["cross_validation"]["r2"]
        if r2 < LOW_R2:
            warnings.append(f"Cross-validated R² is low ({r2:.2f} for {reference.kind}, held-out regions): "
                            "the PMT explains little of consumption; rank with care and check in the field")
    if "boosted" in fitted and "ols" in fitted:
        gap = float(np.sqrt(np.average((fitted["boosted"].oof - fitted["ols"].oof) ** 2, weights=survey.weight)))
        made = int(fitted["boosted"].extra.get("splits", 0))
        rho_b = artefacts["boosted"].metrics["cross_validation"]["rank_correlation"] or 0.0
        rho_o = artefacts["ols"].metrics["cross_validation"]["rank_correlation"] or 0.0
        if made == 0 or gap < SAME_AS_OLS:
            warnings.append(
                f"The boosted model cannot improve on OLS here: its trees made {made} split(s) on {n:,} survey "
                f"families (boosted.min_leaf = {settings.boosted.min_leaf}); its predictions differ from OLS's by "
                f"{gap:.3f} (RMS, ln), so it is OLS"
            )
        elif rho_b <= rho_o:
            notes.append(f"The boosted model does not rank held-out regions better than OLS "
                         f"(rank correlation {rho_b:.3f} against {rho_o:.3f})")
    reasons = survey.screen.to_dict()["reasons"]
    dropped = {k: v for k, v in reasons.items() if not k.startswith("weight")}
    if dropped:
        notes.append(f"{sum(dropped.values())} survey famil{'y' if sum(dropped.values()) == 1 else 'ies'} screened "
                     f"out as implausible: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    changed = {k: v for k, v in reasons.items() if k.startswith("weight")}
    if changed:
        notes.append("sampling weights repaired: " + ", ".join(f"{k} {v}" for k, v in changed.items()))
    if not survey.screen.has_weights:
        notes.append("the survey has no sampling weights (map its weight column to `survey_weight`): every "
                     "survey family stands for the same number of families")
    if choice is not None:
        notes.append(f"auto: {choice.reason}")
    return notes, warnings


def external_artefact(
    engine: Engine, features: ir.Table, settings: WelfareSettings, coefficients: Coefficients, source: Path, work_dir: Path
) -> ModelArtefact:
    """An artefact for a coefficient table a ministry supplied, scored (not fitted) on the survey."""
    predictors = coefficients.predictors
    metrics: dict[str, Any] = {}
    raw = training_frame(features, predictors)
    if len(raw):
        screen = screen_survey(raw, predictors, ridge_of(settings))
        train = raw[screen.kept].reset_index(drop=True)
        if len(train):
            y = np.log(train[TARGET].to_numpy(dtype=float))
            weight = screen.weight[screen.kept] * train["persons"].to_numpy(dtype=float)
            predicted = predict_frame(coefficients, train)
            metrics["on_survey"] = fit_metrics(y, predicted, weight)
            metrics["residual_sd"] = round(float(np.sqrt(np.average((y - predicted) ** 2, weights=weight))), 6)
    with open(source, "rb") as fh:
        table_sha = hashlib.sha256(fh.read()).hexdigest()
    artefact = ModelArtefact(kind="external", predictors=predictors,
                             training={"coefficients_file": str(source), "sha256": table_sha},
                             metrics=metrics, settings={}, coefficients=coefficients)
    save_artefact(artefact, work_dir)
    return artefact
