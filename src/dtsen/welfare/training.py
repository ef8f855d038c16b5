"""Training the PMT on the consumption survey: OLS with regional effects and a boosted model.

The training set is every golden family with a measured consumption per capita (the survey
source's `consumption_per_capita`, which survivorship carries onto the golden family) and at
least one living member. Its predictors are the golden values, the same ones the model is
later applied to. Each model is cross-validated with whole regions held out (`crossval`), then
refitted on every survey family and saved as an artefact (`artefact`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
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
from dtsen.welfare.ols import REGION_COLUMN, Coefficients, fit_ols, predict_frame
from dtsen.welfare.predictors import KEY_COLUMNS, Predictor, select_predictors
from dtsen.welfare.settings import WelfareSettings

MIN_SURVEY_FAMILIES = 20
TARGET = "consumption_per_capita"


class SurveyError(DtsenError):
    """The survey cannot train a model (too few families, no consumption)."""


@dataclass
class TrainedModels:
    artefacts: dict[str, ModelArtefact]
    survey_families: int
    fold_level: str
    notes: list[str] = field(default_factory=list)


def training_frame(features: ir.Table, predictors: tuple[Predictor, ...]) -> pd.DataFrame:
    """The survey families as a small pandas frame, in family_id order."""
    t = features.filter(features[TARGET].notnull() & (features[TARGET] > 0) & (features.persons > 0))
    frame = t.select(*KEY_COLUMNS, *(p.name for p in predictors), TARGET).to_pandas()
    return frame.sort_values("family_id", kind="stable").reset_index(drop=True)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A stable fingerprint of the training data (CSV text of the sorted frame)."""
    return hashlib.sha256(frame.to_csv(index=False, float_format="%.10g").encode("utf-8")).hexdigest()


def ridge_of(settings: WelfareSettings) -> float | None:
    return None if settings.ridge == "auto" else float(settings.ridge)


def _fit_predict(kind: str, settings: WelfareSettings, predictors: tuple[Predictor, ...]) -> Callable[..., Any]:
    """fit(train, y) -> predict(frame) for one model kind."""

    def fit(train: pd.DataFrame, y: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
        if kind == "ols":
            coef, _ = fit_ols(predictors, train, y, region_level=settings.region_level,
                              min_region_families=settings.min_region_families, ridge=ridge_of(settings))
            return lambda frame: predict_frame(coef, frame)
        from dtsen.welfare.boosted import predict_frame_boosted

        start, booster = fit_boosted_model(predictors, train, y, settings)
        return lambda frame: start_of(start, frame) + predict_frame_boosted(booster, predictors, frame)

    return fit


def fit_boosted_model(
    predictors: tuple[Predictor, ...], train: pd.DataFrame, y: np.ndarray, settings: WelfareSettings
) -> tuple[Coefficients | None, Any]:
    """(the OLS start or None, the booster): with `boosted.start = "ols"` the trees learn what the
    OLS model leaves (gradient boosting from the linear fit), else they start from zero."""
    from dtsen.welfare.boosted import fit_boosted

    start = None
    if settings.boosted.start == "ols":
        start, _ = fit_ols(predictors, train, y, region_level=settings.region_level,
                           min_region_families=settings.min_region_families, ridge=ridge_of(settings))
    init = predict_frame(start, train) if start is not None else None
    return start, fit_boosted(predictors, train, y, settings.boosted, settings.seed, init_score=init)


def start_of(start: Coefficients | None, frame: pd.DataFrame) -> np.ndarray:
    return predict_frame(start, frame) if start is not None else np.zeros(len(frame))


def fit_metrics(y: np.ndarray, predicted: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    """R² and RMSE of ln consumption, and inclusion/exclusion errors at each coverage."""
    resid = y - predicted
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "families": len(y),
        "r2": round(1.0 - float((resid**2).sum()) / ss_tot, 6) if ss_tot else 0.0,
        "rmse_log": round(float(np.sqrt((resid**2).mean())), 6),
        "errors": [e.to_dict() for e in targeting_errors(predicted, y, weight, COVERAGES)],
    }


def cross_validate(
    kind: str, settings: WelfareSettings, predictors: tuple[Predictor, ...], train: pd.DataFrame
) -> tuple[np.ndarray, str]:
    """Out-of-fold ln consumption for every survey family, folds by region."""
    folds, level = region_folds(train, settings.folds, settings.seed)
    y = np.log(train[TARGET].to_numpy(dtype=float))
    fit = _fit_predict(kind, settings, predictors)
    out = np.full(len(train), np.nan)
    for k in range(settings.folds):
        held = folds == k
        if not held.any() or held.all():
            continue
        predict = fit(train[~held].reset_index(drop=True), y[~held])
        out[held] = predict(train[held].reset_index(drop=True))
    return out, level


def _by_region(train: pd.DataFrame, y: np.ndarray, predicted: np.ndarray, column: str) -> list[dict[str, Any]]:
    rows = []
    weight = train["persons"].to_numpy(dtype=float)
    for region, idx in train.groupby(train[column].fillna("")).indices.items():
        err = targeting_errors(predicted[idx], y[idx], weight[idx], (0.40,))[0]
        resid = y[idx] - predicted[idx]
        rows.append({"region": region, "families": len(idx), "rmse_log": round(float(np.sqrt((resid**2).mean())), 6),
                     "exclusion_40": round(err.exclusion, 6), "inclusion_40": round(err.inclusion, 6)})
    return rows


def train_models(
    engine: Engine,
    features: ir.Table,
    settings: WelfareSettings,
    work_dir: Path,
    *,
    survey_as_of: dt.date | None = None,
    kinds: tuple[str, ...] = ("ols", "boosted"),
) -> TrainedModels:
    """Cross-validate, refit on the whole survey and save one artefact per model kind."""
    predictors = select_predictors(settings.predictors, where="[welfare] predictors")
    train = training_frame(features, predictors)
    if len(train) < MIN_SURVEY_FAMILIES:
        raise SurveyError(
            f"the survey source {settings.survey!r} gives {len(train)} golden families with a consumption per "
            f"capita; at least {MIN_SURVEY_FAMILIES} are needed to train a PMT (map its consumption column to "
            "`consumption_per_capita`, ingest and link it)"
        )
    y = np.log(train[TARGET].to_numpy(dtype=float))
    weight = train["persons"].to_numpy(dtype=float)
    sha = frame_sha256(train)
    artefacts: dict[str, ModelArtefact] = {}
    notes: list[str] = []
    level = "none"
    for kind in kinds:
        oof, level = cross_validate(kind, settings, predictors, train)
        metrics = {
            "cross_validation": {"folds": settings.folds, "held_out_by": level, **fit_metrics(y, oof, weight)},
            "by_region": _by_region(train, y, oof, REGION_COLUMN.get(settings.region_level, "regency_code")),
        }
        training = {"survey": settings.survey, "survey_as_of": str(survey_as_of) if survey_as_of else None,
                    "families": len(train), "persons": int(weight.sum()), "sha256": sha}
        model_settings = settings.model_dump(mode="json", exclude={"model", "coefficients", "poverty_lines"})
        booster_text: str | None = None
        if kind == "ols":
            coef, thin = fit_ols(predictors, train, y, region_level=settings.region_level,
                                 min_region_families=settings.min_region_families, ridge=ridge_of(settings))
            metrics["in_sample"] = fit_metrics(y, predict_frame(coef, train), weight)
            fallback = {"pooled_regions": thin, "min_region_families": settings.min_region_families,
                        "region_level": settings.region_level}
            if thin and settings.region_level != "none":
                notes.append(f"{len(thin)} {settings.region_level}(s) with fewer than {settings.min_region_families} "
                             f"survey families take the pooled model: {', '.join(thin[:10])}"
                             f"{' ...' if len(thin) > 10 else ''}")
            artefact = ModelArtefact(kind="ols", predictors=predictors, training=training, metrics=metrics,
                                     fallback=fallback, settings=model_settings, coefficients=coef)
        else:
            from dtsen.welfare.boosted import predict_frame_boosted

            start, booster = fit_boosted_model(predictors, train, y, settings)
            fitted = start_of(start, train) + predict_frame_boosted(booster, predictors, train)
            metrics["in_sample"] = fit_metrics(y, fitted, weight)
            booster_text = booster.model_to_string()
            artefact = ModelArtefact(kind="boosted", predictors=predictors, training=training, metrics=metrics,
                                     fallback={"start": settings.boosted.start}, settings=model_settings,
                                     coefficients=start)
        save_artefact(artefact, work_dir, booster_text)
        artefacts[kind] = artefact
    return TrainedModels(artefacts=artefacts, survey_families=len(train), fold_level=level, notes=notes)


def external_artefact(
    engine: Engine, features: ir.Table, settings: WelfareSettings, coefficients: Coefficients, source: Path, work_dir: Path
) -> ModelArtefact:
    """An artefact for a coefficient table a ministry supplied, scored (not fitted) on the survey."""
    predictors = coefficients.predictors
    metrics: dict[str, Any] = {}
    train = training_frame(features, predictors)
    if len(train):
        y = np.log(train[TARGET].to_numpy(dtype=float))
        metrics["on_survey"] = fit_metrics(y, predict_frame(coefficients, train), train["persons"].to_numpy(dtype=float))
    with open(source, "rb") as fh:
        table_sha = hashlib.sha256(fh.read()).hexdigest()
    artefact = ModelArtefact(kind="external", predictors=predictors,
                             training={"coefficients_file": str(source), "sha256": table_sha},
                             metrics=metrics, settings={}, coefficients=coefficients)
    save_artefact(artefact, work_dir)
    return artefact
