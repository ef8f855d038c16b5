"""Robust training: what a handful of absurd survey rows may and may not do to the PMT.

Ingest flags values outside plausible ranges, but a model must not depend on every bad value
having been caught. Before any model sees the survey, `screen_survey` decides which survey
families train it and with what weight, by rules that ignore a few extreme rows (they are
computed from medians and inner quantiles, which five bad rows in hundreds cannot move):

consumption_not_positive  consumption per capita missing, not finite, zero or negative: the row
                          cannot be a measurement (dropped).
consumption_outlier       ln consumption more than 8 robust standard deviations (1.4826 x the
                          median absolute deviation) from the median: a factor of about 30 from
                          the typical family, a keying or unit error, not poverty (dropped).
predictor_outlier         a numeric predictor outside [q2 - 3r, q98 + 3r] of the survey, where q2
                          and q98 are its 2nd and 98th percentiles and r = q98 - q2 (a family of
                          10^9 persons, a floor of 10^9 m²): a point of absurd leverage (dropped).
                          The same bounds clip the predictor when the model scores the registry
                          (`Coefficients.bounds`), so one absurd registry value cannot throw a
                          family's score either.
residual_outlier          after a first (weighted, ridge) OLS fit on the rows kept so far, a
                          residual more than 5 robust standard deviations from zero (dropped).
weight_invalid            a sampling weight that is missing, not finite, zero or negative: the
                          row keeps the median weight (kept).
weight_clipped            a sampling weight outside the same inner-quantile bounds in logs
                          ([q2 - 3r, q98 + 3r] of ln weight): winsorised to the bound (kept).

Every model (OLS, boosted, asset index, blend), the cross-validation and the headcounts use the
screened survey; the artefact lists how many rows each rule took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtsen.welfare.predictors import Predictor

TARGET = "consumption_per_capita"
WEIGHT = "survey_weight"
MAD_SD = 1.4826
TARGET_SDS = 8.0
RESIDUAL_SDS = 5.0
INNER = (0.02, 0.98)
REACH = 3.0
REASONS = (
    "consumption_not_positive",
    "consumption_outlier",
    "predictor_outlier",
    "residual_outlier",
    "weight_invalid",
    "weight_clipped",
)


@dataclass
class Screen:
    """The outcome of `screen_survey` for the rows of one survey frame."""

    kept: np.ndarray  # bool per row: trains the models
    weight: np.ndarray  # cleaned sampling weight per row (1.0 where the survey has none)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # rule -> rows it took or changed
    has_weights: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": len(self.kept),
            "kept": int(self.kept.sum()),
            "reasons": {k: v for k, v in self.reasons.items() if v},
            "sampling_weights": self.has_weights,
            "bounds": {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in sorted(self.bounds.items())},
        }


def robust_sd(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation from the median (the SD for normal data)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 0.0
    return float(MAD_SD * np.median(np.abs(v - np.median(v))))


def inner_bounds(values: np.ndarray) -> tuple[float, float] | None:
    """[q2 - 3r, q98 + 3r] of the finite values (r = q98 - q2); None when r is 0 (a predictor
    with one value in nearly every row has no scale to judge an outlier by)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return None
    lo, hi = (float(q) for q in np.quantile(v, INNER))
    reach = hi - lo
    if not reach > 0:
        return None
    return lo - REACH * reach, hi + REACH * reach


def screen_survey(frame: pd.DataFrame, predictors: tuple[Predictor, ...], ridge: float | None = None) -> Screen:
    """Which rows of the survey frame train the models, their weights and the predictor bounds
    (see the module docstring). `frame` has the predictors, `persons`, the target and, when the
    survey maps one, `survey_weight`."""
    n = len(frame)
    reasons = dict.fromkeys(REASONS, 0)
    y = frame[TARGET].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_y = np.log(y)
    ok = np.isfinite(y) & (y > 0)
    reasons["consumption_not_positive"] = int((~ok).sum())
    centre = float(np.median(log_y[ok])) if ok.any() else 0.0
    spread = robust_sd(log_y[ok])
    outlier = ok & (np.abs(log_y - centre) > TARGET_SDS * spread) if spread > 0 else np.zeros(n, bool)
    reasons["consumption_outlier"] = int(outlier.sum())
    kept = ok & ~outlier
    bounds: dict[str, tuple[float, float]] = {}
    wild = np.zeros(n, bool)
    for p in predictors:
        if p.kind != "numeric":
            continue
        values = frame[p.name].astype(float).to_numpy()
        b = inner_bounds(values[kept])
        if b is None:
            continue
        bounds[p.name] = b
        wild |= np.isfinite(values) & ((values < b[0]) | (values > b[1]))
    reasons["predictor_outlier"] = int((kept & wild).sum())
    kept &= ~wild
    weight, has_weights = _weights(frame, kept, reasons)
    if kept.sum() > 3:
        from dtsen.welfare.ols import fit_ols, predict_frame

        idx = np.flatnonzero(kept)
        part = frame.iloc[idx].reset_index(drop=True)
        coef, _ = fit_ols(predictors, part, log_y[idx], ridge=ridge, bounds=bounds)
        resid = log_y[idx] - predict_frame(coef, part)
        scale = robust_sd(resid)
        if scale > 0:
            far = np.abs(resid - np.median(resid)) > RESIDUAL_SDS * scale
            reasons["residual_outlier"] = int(far.sum())
            kept[idx[far]] = False
    return Screen(kept=kept, weight=weight, bounds=bounds, reasons=reasons, has_weights=has_weights)


def _weights(frame: pd.DataFrame, kept: np.ndarray, reasons: dict[str, int]) -> tuple[np.ndarray, bool]:
    n = len(frame)
    if WEIGHT not in frame.columns or frame[WEIGHT].isna().all():
        return np.ones(n), False
    w = frame[WEIGHT].astype(float).to_numpy()
    valid = np.isfinite(w) & (w > 0)
    reasons["weight_invalid"] = int((kept & ~valid).sum())
    fill = float(np.median(w[valid & kept])) if (valid & kept).any() else 1.0
    w = np.where(valid, w, fill)
    b = inner_bounds(np.log(w[kept]))
    if b is not None:
        log_w = np.log(w)
        outside = (log_w < b[0]) | (log_w > b[1])
        reasons["weight_clipped"] = int((kept & outside).sum())
        w = np.where(outside, np.exp(np.clip(log_w, *b)), w)
    return w, True
