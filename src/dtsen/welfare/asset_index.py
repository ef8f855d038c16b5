"""The asset index and the blend: two linear PMTs that need little or no survey to fit.

asset index  the first principal component of the predictors over the registry itself, fitted
             without the survey (Filmer and Pritchett 2001): every categorical predictor
             becomes one indicator column per category (the reference left out), a boolean
             0/1, a numeric its value (winsorised at its 1st and 99th percentiles for the fit),
             a missing value the mean of its columns (it moves the index neither way); columns
             are standardised and the index is the
             leading eigenvector of their correlation matrix. On standardised indicators this
             is close to multiple correspondence analysis. The survey is used for one thing
             only: a weighted least-squares line of ln consumption on the index (two numbers),
             which turns the index into Rupiah and fixes its sign. With a hundred survey
             families an index ranks about as well as the registry's own structure allows;
             OLS with sixty weights may not.
blend        lambda x OLS + (1 - lambda) x the index, lambda in 0, 0.1, ..., 1 chosen by the
             cross-validated rank correlation: OLS shrunk towards the index as far as the survey
             says it should be.

Both are linear in the predictors, so they are `Coefficients` like OLS: scored by one engine
expression, explained exactly, exported as a coefficient table.

The registry sample: every living family, or, above SAMPLE_MAX families, those whose family_id
is a multiple of a step (the same families on every engine).
"""

from __future__ import annotations

import math

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from dtsen.welfare.ols import MISSING, Coefficients, design_columns, design_matrix
from dtsen.welfare.predictors import Predictor

SAMPLE_MAX = 200_000
WINSOR = (0.01, 0.99)
BLEND_GRID = tuple(round(0.1 * i, 1) for i in range(11))


def registry_sample(features: ir.Table, predictors: tuple[Predictor, ...]) -> pd.DataFrame:
    """The registry families the index is fitted on (see the module docstring), in family_id order."""
    living = features.filter(features.persons > 0)
    n = int(living.count().execute())
    step = max(1, math.ceil(n / SAMPLE_MAX))
    if step > 1:
        living = living.filter(living.family_id % step == 0)
    frame = living.select("family_id", *(p.name for p in predictors)).to_pandas()
    return frame.sort_values("family_id", kind="stable").reset_index(drop=True)


def fit_index(
    sample: pd.DataFrame, predictors: tuple[Predictor, ...], bounds: dict[str, tuple[float, float]]
) -> tuple[Coefficients, float]:
    """The standardised first principal component as linear coefficients (mean 0, SD 1 over the
    sample), and the share of the variance it explains.

    A missing value takes the column means of its predictor (it adds nothing to the index): with
    indicators of missingness among the columns, the families a census missed, whose dwelling
    and assets are all unknown together, would make the first component about missingness."""
    means: dict[str, float] = {}
    for p in predictors:
        if p.kind == "numeric":
            lo, hi = bounds.get(p.name, (-np.inf, np.inf))
            mean = float(sample[p.name].astype(float).clip(lo, hi).mean())
            means[p.name] = 0.0 if np.isnan(mean) else mean
    columns = [c for c in design_columns(predictors, sample) if c[1] != MISSING]
    x = design_matrix(predictors, sample, columns, means, bounds)
    for j, (name, category) in enumerate(columns):
        if category == "" and name in means:
            lo, hi = np.quantile(x[:, j], WINSOR)
            x[:, j] = np.clip(x[:, j], lo, hi)
    centre = np.zeros(len(columns))
    for j, (name, category) in enumerate(columns):
        known = sample[name].notna().to_numpy()
        centre[j] = x[known, j].mean() if known.any() else 0.0
        x[~known, j] = centre[j]
        if category == "" and name in means:
            means[name] = float(centre[j])  # scoring fills a missing value with it too
    scale = x.std(axis=0)
    keep = scale > 1e-12
    z = (x[:, keep] - centre[keep]) / scale[keep]
    corr = (z.T @ z) / max(len(z), 1)
    values, vectors = np.linalg.eigh(corr)
    v = vectors[:, -1]
    # a deterministic sign (the calibration on the survey fixes the meaning): largest loading positive
    if v[np.argmax(np.abs(v))] < 0:
        v = -v
    index = z @ v
    sd = float(index.std()) or 1.0
    loading = np.zeros(len(columns))
    loading[keep] = v / scale[keep] / sd
    weights = {col: float(loading[j]) for j, col in enumerate(columns)}
    # a missing value scores as the centre of its predictor's columns
    for p in predictors:
        if p.kind == "numeric":
            continue
        at = [j for j, (name, _) in enumerate(columns) if name == p.name]
        weights[(p.name, MISSING)] = float(sum(loading[j] * centre[j] for j in at))
    intercept = float(-(centre * loading).sum())
    explained = float(values[-1] / values.sum()) if values.sum() > 0 else 0.0
    coef = Coefficients(intercept=intercept, predictors=predictors, weights=weights, means=means,
                        bounds={k: v for k, v in bounds.items() if k in means})
    return coef, explained


def calibrate(index: Coefficients, index_values: np.ndarray, y: np.ndarray, weight: np.ndarray) -> Coefficients:
    """The index turned into ln consumption: a + b x index, by weighted least squares on the survey."""
    w = np.asarray(weight, dtype=float)
    x = np.asarray(index_values, dtype=float)
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    var = float(np.average((x - xm) ** 2, weights=w))
    b = float(np.average((x - xm) * (y - ym), weights=w) / var) if var > 0 else 0.0
    a = float(ym - b * xm)
    return scaled(index, b, a)


def scaled(coef: Coefficients, factor: float, shift: float = 0.0) -> Coefficients:
    """factor x coef + shift, as coefficients."""
    return Coefficients(
        intercept=shift + factor * coef.intercept,
        predictors=coef.predictors,
        weights={k: factor * w for k, w in coef.weights.items()},
        means=dict(coef.means),
        region_level=coef.region_level,
        regions={k: factor * v for k, v in coef.regions.items()},
        bounds=dict(coef.bounds),
    )


def blend(ols: Coefficients, index: Coefficients, share: float) -> Coefficients:
    """share x OLS + (1 - share) x index as one set of coefficients (both on the same predictors).

    A missing numeric value is filled with each model's own mean; the blend keeps OLS's mean and
    folds the difference into the MISSING weight, so it scores every family exactly as the
    weighted sum of the two models does."""
    lam = float(share)
    weights: dict[tuple[str, str], float] = {}
    for key in {*ols.weights, *index.weights}:
        weights[key] = lam * ols.weights.get(key, 0.0) + (1.0 - lam) * index.weights.get(key, 0.0)
    means = dict(ols.means)
    for name in {*ols.means, *index.means}:
        fill_ols = ols.weight(name) * ols.means.get(name, 0.0) + ols.weight(name, MISSING)
        fill_index = index.weight(name) * index.means.get(name, 0.0) + index.weight(name, MISSING)
        means.setdefault(name, index.means.get(name, 0.0))
        combined = lam * fill_ols + (1.0 - lam) * fill_index
        weights[(name, MISSING)] = combined - weights.get((name, ""), 0.0) * means[name]
    # a MISSING weight for a column the data had no missing values in changes nothing where
    # values are present; keep the design's column order stable
    ordered = {k: weights[k] for k in sorted(weights)}
    return Coefficients(
        intercept=lam * ols.intercept + (1.0 - lam) * index.intercept,
        predictors=ols.predictors,
        weights=ordered,
        means=means,
        region_level=ols.region_level,
        regions={k: lam * v for k, v in ols.regions.items()},
        bounds=dict(ols.bounds),
    )
