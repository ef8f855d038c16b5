"""`welfare.model = "auto"`: which PMT ranks the registry, chosen on held-out regions, and why.

Every candidate (OLS, the boosted model, the asset index, the blend) has out-of-fold predictions
for every survey family, whole regions held out (`crossval`). Two scores, both weighted by the
sampling weight times the family's persons:

rank correlation   Spearman's correlation of predicted and measured consumption (weighted
                   mid-ranks): how well the model orders families, which is all a ranking uses.
exclusion error    at 40% coverage (`accuracy`): the share of the poorest 40% of people the
                   model would leave out.

The standard error of each candidate's shortfall against the best (in both scores) comes from
a bootstrap of the held-out regions (families, when there are fewer than ten regions): 200
resamples, seeded. A candidate is *as good as the best* when it falls short of the best by no
more than one standard error in both scores. The choice is the first candidate that is as good
as the best in the order blend, asset index, OLS, boosted (the "one-standard-error rule" of
Breiman et al. 1984, with the blend first): the blend is the hedge, OLS shrunk towards the index
by as much as held-out regions support (share 0 is the index, share 1 is OLS), so another model
is taken only when it is clearly better. With a small survey the differences are noise and the
blend, leaning on the index, is the safer bet; with a survey of thousands the blend is close to
OLS, and the boosted model is taken when its trees rank held-out regions clearly better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dtsen.welfare.accuracy import targeting_error

PREFERENCE: tuple[str, ...] = ("blend", "asset_index", "ols", "boosted")
LABELS = {"asset_index": "asset index", "blend": "blend", "ols": "OLS", "boosted": "boosted"}
BOOTSTRAP = 200
COVERAGE = 0.40


def weighted_ranks(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Mid-ranks as shares of the total weight (ties share their mean), in [0, 1]."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weight, dtype=float)
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    mid = (cum - w[order] / 2.0) / max(cum[-1], 1e-300) if len(v) else cum
    uniq, inverse = np.unique(v[order], return_inverse=True)
    sums = np.bincount(inverse, weights=mid * w[order], minlength=len(uniq))
    mass = np.bincount(inverse, weights=w[order], minlength=len(uniq))
    tied = np.divide(sums, mass, out=np.zeros_like(sums), where=mass > 0)
    out = np.empty(len(v))
    out[order] = tied[inverse]
    return out


def weighted_spearman(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    """Weighted Pearson correlation of the weighted mid-ranks of a and b."""
    w = np.asarray(weight, dtype=float)
    if len(w) < 3 or w.sum() <= 0:
        return float("nan")
    ra, rb = weighted_ranks(a, w), weighted_ranks(b, w)
    ma, mb = np.average(ra, weights=w), np.average(rb, weights=w)
    cov = np.average((ra - ma) * (rb - mb), weights=w)
    var = np.average((ra - ma) ** 2, weights=w) * np.average((rb - mb) ** 2, weights=w)
    return float(cov / np.sqrt(var)) if var > 0 else float("nan")


@dataclass
class Choice:
    chosen: str
    reason: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # per candidate, in PREFERENCE order

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "reason": self.reason, "candidates": self.rows}


def _scores(y: np.ndarray, predicted: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    rho = weighted_spearman(predicted, y, weight)
    exclusion = targeting_error(predicted, y, weight, COVERAGE).exclusion
    return rho, exclusion


def choose(
    oof: dict[str, np.ndarray], y: np.ndarray, weight: np.ndarray, groups: np.ndarray, seed: int
) -> Choice:
    """The first candidate in PREFERENCE order that is as good as the best (module docstring),
    with the figures of all."""
    kinds = [k for k in PREFERENCE if k in oof]
    if not kinds:
        raise ValueError("no candidate model to choose from")
    point = {k: _scores(y, oof[k], weight) for k in kinds}
    best_rho = max(kinds, key=lambda k: (point[k][0], -PREFERENCE.index(k)))
    best_excl = min(kinds, key=lambda k: (point[k][1], -PREFERENCE.index(k)))
    rng = np.random.default_rng(seed)
    labels, members = np.unique(groups.astype(str), return_inverse=True)
    by_group = len(labels) >= 10
    n = len(y)
    draws: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in kinds}  # shortfalls per resample
    for _ in range(BOOTSTRAP):
        if by_group:
            picked = rng.integers(0, len(labels), len(labels))
            counts = np.bincount(picked, minlength=len(labels))
            w = weight * counts[members]
        else:
            w = weight * np.bincount(rng.integers(0, n, n), minlength=n)
        if w.sum() <= 0:
            continue
        sample = {k: _scores(y, oof[k], w) for k in kinds}
        for k in kinds:
            draws[k][0].append(sample[best_rho][0] - sample[k][0])
            draws[k][1].append(sample[k][1] - sample[best_excl][1])
    rows: list[dict[str, Any]] = []
    eligible: list[str] = []
    for k in kinds:
        se_rho = float(np.std(draws[k][0])) if draws[k][0] else 0.0
        se_excl = float(np.std(draws[k][1])) if draws[k][1] else 0.0
        short_rho = point[best_rho][0] - point[k][0]
        short_excl = point[k][1] - point[best_excl][1]
        ok = short_rho <= se_rho + 1e-12 and short_excl <= se_excl + 1e-12
        if ok:
            eligible.append(k)
        rows.append({"model": k, "rank_correlation": round(point[k][0], 6), "exclusion_40": round(point[k][1], 6),
                     "rank_correlation_shortfall": round(short_rho, 6), "rank_correlation_se": round(se_rho, 6),
                     "exclusion_excess": round(short_excl, 6), "exclusion_se": round(se_excl, 6),
                     "as_good_as_best": ok})
    chosen = eligible[0] if eligible else best_rho
    if chosen == best_rho and chosen == best_excl:
        reason = (f"{LABELS[chosen]} ranks held-out regions best (rank correlation {point[chosen][0]:.3f}, "
                  f"exclusion error at 40% {point[chosen][1]:.3f})")
    else:
        reason = (f"{LABELS[chosen]} (rank correlation {point[chosen][0]:.3f}, exclusion error at 40% "
                  f"{point[chosen][1]:.3f}) is within one standard error of the best ({LABELS[best_rho]} "
                  f"{point[best_rho][0]:.3f}; {LABELS[best_excl]} {point[best_excl][1]:.3f}) and comes first "
                  "among such models (blend, asset index, OLS, boosted)")
    return Choice(chosen=chosen, reason=reason, rows=rows)
