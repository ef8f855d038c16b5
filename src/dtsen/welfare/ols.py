"""The PMT by ordinary least squares with regional effects: the established method.

    ln(consumption per capita) = intercept + region effect + sum of predictor weights

A numeric predictor contributes weight x value (a missing value takes the training mean and
the predictor's MISSING weight); a boolean contributes its weight when true; a categorical
contributes the weight of its category, the first category of the catalogue being the
reference (weight 0). A missing boolean or category contributes the MISSING weight. One
intercept shift per region (province or regency) that has at least `min_region_families`
survey families; thinner regions take no shift of their own (the pooled model), and the
artefact lists them.

Fitting is small (the survey has thousands of families) and runs in numpy; applying the model
to every family is one Ibis expression on the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from dtsen.welfare.predictors import Predictor

MISSING = "MISSING"
REGION_COLUMN = {"province": "province_code", "regency": "regency_code"}


@dataclass(frozen=True)
class Coefficients:
    """A linear PMT: everything needed to score a family, as plain data."""

    intercept: float
    predictors: tuple[Predictor, ...]
    # (predictor, category) -> weight; the category is "" for numeric and boolean predictors,
    # MISSING for the weight of an unknown value.
    weights: dict[tuple[str, str], float]
    means: dict[str, float] = field(default_factory=dict)  # numeric predictor -> fill for nulls
    region_level: str = "none"
    regions: dict[str, float] = field(default_factory=dict)  # region code -> effect
    # numeric predictor -> (lowest, highest) value the model takes: a value outside is clipped
    # (robust training, `dtsen.welfare.robust`), so one absurd value cannot throw a family's score
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def weight(self, name: str, category: str = "") -> float:
        return self.weights.get((name, category), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intercept": self.intercept,
            "predictors": [p.name for p in self.predictors],
            "weights": [{"predictor": p, "category": c, "weight": w} for (p, c), w in sorted(self.weights.items())],
            "means": dict(sorted(self.means.items())),
            "region_level": self.region_level,
            "regions": dict(sorted(self.regions.items())),
            "bounds": {k: [lo, hi] for k, (lo, hi) in sorted(self.bounds.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], predictors: tuple[Predictor, ...]) -> Coefficients:
        return cls(
            intercept=float(data["intercept"]),
            predictors=predictors,
            weights={(w["predictor"], w["category"]): float(w["weight"]) for w in data["weights"]},
            means={k: float(v) for k, v in data["means"].items()},
            region_level=str(data["region_level"]),
            regions={k: float(v) for k, v in data["regions"].items()},
            bounds={k: (float(v[0]), float(v[1])) for k, v in data.get("bounds", {}).items()},
        )


# -- the design matrix (numpy, for fitting) ---------------------------------------------------


def design_columns(predictors: tuple[Predictor, ...], frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The (predictor, category) columns of the design: reference categories left out, and a
    MISSING column only where the training data has missing values."""
    columns: list[tuple[str, str]] = []
    for p in predictors:
        if p.kind == "categorical":
            columns += [(p.name, c) for c in p.categories[1:]]
        else:
            columns.append((p.name, ""))
        if frame[p.name].isna().any():
            columns.append((p.name, MISSING))
    return columns


def design_matrix(
    predictors: tuple[Predictor, ...],
    frame: pd.DataFrame,
    columns: list[tuple[str, str]],
    means: dict[str, float],
    bounds: dict[str, tuple[float, float]] | None = None,
) -> np.ndarray:
    kinds = {p.name: p for p in predictors}
    bounds = bounds or {}
    out = np.zeros((len(frame), len(columns)), dtype=float)
    for j, (name, category) in enumerate(columns):
        values = frame[name]
        missing = values.isna().to_numpy()
        if category == MISSING:
            out[:, j] = missing
        elif kinds[name].kind == "categorical":
            out[:, j] = (values == category).fillna(False).to_numpy(dtype=bool)
        elif kinds[name].kind == "boolean":
            out[:, j] = values.fillna(False).astype(bool).to_numpy()
        else:
            lo, hi = bounds.get(name, (-np.inf, np.inf))
            out[:, j] = np.clip(values.astype(float).fillna(means.get(name, 0.0)).to_numpy(), lo, hi)
    return out


def fit_ols(
    predictors: tuple[Predictor, ...],
    train: pd.DataFrame,
    target: np.ndarray,
    *,
    region_level: str = "none",
    min_region_families: int = 30,
    ridge: float | None = 0.0,
    weight: np.ndarray | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
) -> tuple[Coefficients, list[str]]:
    """Least squares of `target` on the predictors plus region shifts.

    Returns the coefficients and the regions that were too thin for a shift of their own.
    Columns that the data cannot identify (a category nobody has) get weight 0, not a wild
    value: constant columns are dropped first, and the solution is the minimum-norm one.

    `ridge` adds a penalty on the standardised weights (0: plain OLS; None: the penalty that
    minimises generalised cross-validation, Golub, Heath and Wahba 1979). With thousands of
    survey families GCV picks a penalty near 0 and the fit is OLS; with a few dozen it keeps
    sixty weights from fitting noise.

    `weight` (one per row, e.g. the survey's sampling weight times the family's persons) makes it
    weighted least squares; `bounds` clips numeric predictors (and is kept in the coefficients).
    """
    bounds = dict(bounds or {})
    means = {}
    for p in predictors:
        if p.kind == "numeric":
            lo, hi = bounds.get(p.name, (-np.inf, np.inf))
            mean = float(train[p.name].astype(float).clip(lo, hi).mean())
            means[p.name] = 0.0 if np.isnan(mean) else mean
    columns = design_columns(predictors, train)
    x = design_matrix(predictors, train, columns, means, bounds)
    thin: list[str] = []
    region_names: list[str] = []
    if region_level != "none":
        region = train[REGION_COLUMN[region_level]].fillna("").astype(str)
        counts: dict[str, int] = {str(r): int(n) for r, n in region.value_counts().items()}
        own = sorted(r for r, n in counts.items() if n >= min_region_families and r)
        thin = sorted(r for r, n in counts.items() if n < min_region_families or not r)
        # Effects are deviations from the pooled intercept: with every region having one, the
        # columns would be collinear with the intercept, so the largest region is the base.
        if len(own) > 1 or (own and thin):
            base = max(own, key=lambda r: (counts[r], r)) if not thin else None
            region_names = [r for r in own if r != base]
        dummies = np.column_stack([(region == r).to_numpy(dtype=float) for r in region_names]) if region_names else None
        if dummies is not None:
            x = np.column_stack([x, dummies])
    # constant columns (up to rounding: a district mean is the same float for everyone) carry nothing
    keep = x.std(axis=0) > 1e-9 * np.maximum(1.0, np.abs(x).max(axis=0, initial=0.0))
    intercept, slopes = _solve(x[:, keep], np.asarray(target, dtype=float), ridge, weight)
    full = np.zeros(x.shape[1])
    full[keep] = slopes
    n_design = len(columns)
    weights = {col: float(full[j]) for j, col in enumerate(columns)}
    regions = {r: float(full[n_design + i]) for i, r in enumerate(region_names)}
    coefficients = Coefficients(
        intercept=intercept,
        predictors=predictors,
        weights=weights,
        means=means,
        region_level=region_level,
        regions=regions,
        bounds={k: v for k, v in bounds.items() if k in means},
    )
    return coefficients, thin


RIDGE_GRID = np.concatenate([[0.0], np.logspace(-3, 3, 25)])


def _solve(
    x: np.ndarray, y: np.ndarray, ridge: float | None, weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """(intercept, slopes) of (weighted) least squares with an optional ridge on standardised
    columns. Weights are normalised to mean 1, so the penalty means the same with or without."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    w = w / w.mean() if len(w) and w.mean() > 0 else np.ones(len(y))
    y_mean = float(np.average(y, weights=w)) if len(y) else 0.0
    if x.shape[1] == 0:
        return y_mean, np.zeros(0)
    mean = np.average(x, axis=0, weights=w)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    scale = np.where(scale > 0, scale, 1.0)
    root = np.sqrt(w)[:, None]
    xs = (x - mean) / scale * root
    yc = (y - y_mean) * root[:, 0]
    u, d, vt = np.linalg.svd(xs, full_matrices=False)
    d = np.where(d > d.max() * 1e-10, d, 0.0)  # drop directions the data cannot identify
    uty = u.T @ yc
    n = len(y)

    def coef(lam: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(d > 0, d / (d**2 + lam), 0.0)
        return np.asarray(vt.T @ (shrink * uty))

    if ridge is None:
        best, best_gcv = 0.0, np.inf
        for lam in RIDGE_GRID * n:
            h = np.where(d > 0, d**2 / (d**2 + lam), 0.0) if lam > 0 else (d > 0).astype(float)
            df = float(h.sum())
            rss = float(((yc - u @ (h * uty)) ** 2).sum())
            gcv = n * rss / max(n - df - 1, 1e-9) ** 2
            if gcv < best_gcv:
                best, best_gcv = lam, gcv
        lam = best
    else:
        lam = float(ridge) * n
    b = coef(lam) / scale
    return float(y_mean - mean @ b), b


def predict_frame(coefficients: Coefficients, frame: pd.DataFrame) -> np.ndarray:
    """The model's ln(consumption per capita) for a small frame (used in cross-validation)."""
    columns = list(coefficients.weights)
    x = design_matrix(coefficients.predictors, frame, columns, coefficients.means, coefficients.bounds)
    y = coefficients.intercept + x @ np.array([coefficients.weights[c] for c in columns])
    if coefficients.region_level != "none" and coefficients.regions:
        region = frame[REGION_COLUMN[coefficients.region_level]].fillna("").astype(str)
        y = y + region.map(coefficients.regions).fillna(0.0).to_numpy(dtype=float)
    return np.asarray(y, dtype=float)


# -- the score as an Ibis expression (every family, on the engine) ----------------------------


def contribution_exprs(coefficients: Coefficients, t: ir.Table) -> dict[str, ir.FloatingValue]:
    """Per predictor: its contribution to ln(consumption per capita), as an expression."""
    out: dict[str, ir.FloatingValue] = {}
    for p in coefficients.predictors:
        col = t[p.name]
        miss = coefficients.weight(p.name, MISSING)
        if p.kind == "numeric":
            w = coefficients.weight(p.name)
            fill = coefficients.means.get(p.name, 0.0)
            value = col.cast("float64")
            if p.name in coefficients.bounds:
                lo, hi = coefficients.bounds[p.name]
                value = value.clip(lower=lo, upper=hi)
            expr = col.isnull().ifelse(ibis.literal(w * fill + miss), value * w)
        elif p.kind == "boolean":
            w = coefficients.weight(p.name)
            expr = col.isnull().ifelse(ibis.literal(miss), col.ifelse(ibis.literal(w), ibis.literal(0.0)))
        else:
            cases = [(c, coefficients.weight(p.name, c)) for c in p.categories if coefficients.weight(p.name, c)]
            known = col.isin(list(p.categories))
            by_category = col.cases(*cases, else_=0.0) if cases else ibis.literal(0.0)
            expr = known.fill_null(False).ifelse(by_category, ibis.literal(miss))
        out[p.name] = expr.cast("float64")
    return out


def region_expr(coefficients: Coefficients, t: ir.Table) -> ir.FloatingValue:
    if coefficients.region_level == "none" or not coefficients.regions:
        return ibis.literal(0.0)
    col = t[REGION_COLUMN[coefficients.region_level]]
    return col.cases(*coefficients.regions.items(), else_=0.0).fill_null(0.0).cast("float64")


def score_expr(coefficients: Coefficients, t: ir.Table) -> ir.FloatingValue:
    """ln(consumption per capita) predicted for every row of the feature table `t`."""
    total: ir.FloatingValue = ibis.literal(coefficients.intercept) + region_expr(coefficients, t)
    for expr in contribution_exprs(coefficients, t).values():
        total = total + expr
    return total
