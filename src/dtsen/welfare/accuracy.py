"""Targeting accuracy: inclusion and exclusion errors at a coverage, person-weighted.

For a coverage c (say 40%), the programme takes the families that a model ranks poorest until
they hold a share c of the people; the target group is the families that truly are the poorest
holding the same share c. Then, counting persons,

inclusion error  share of the people selected who are not in the target group
exclusion error  share of the people in the target group who are not selected

These are the definitions of Alatas et al. (2012) and of the PMT literature since. With equal
sizes of selected and target groups, the two errors are equal up to the rounding at the
boundary family; they differ when families differ in size or some are not ranked at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COVERAGES: tuple[float, ...] = (0.10, 0.20, 0.40)


@dataclass(frozen=True)
class TargetingError:
    coverage: float
    inclusion: float
    exclusion: float
    selected_persons: float
    target_persons: float

    def to_dict(self) -> dict[str, float]:
        return {
            "coverage": self.coverage,
            "inclusion_error": round(self.inclusion, 6),
            "exclusion_error": round(self.exclusion, 6),
            "selected_persons": float(self.selected_persons),
            "target_persons": float(self.target_persons),
        }


def bottom_share(values: np.ndarray, weight: np.ndarray, share: float) -> np.ndarray:
    """Mask of the lowest `values` whose weights add up to `share` of the total weight.

    A family is in when the people ranked before it hold less than the share (so the boundary
    family is in). NaN values are never in: an unranked family cannot be selected.
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weight, dtype=float)
    ok = ~np.isnan(v)
    order = np.argsort(np.where(ok, v, np.inf), kind="stable")
    before = np.concatenate([[0.0], np.cumsum(w[order])[:-1]])
    total = w.sum()
    chosen = np.zeros(len(v), dtype=bool)
    chosen[order] = before < share * total
    return chosen & ok


def targeting_error(
    predicted: np.ndarray, true: np.ndarray, weight: np.ndarray, coverage: float
) -> TargetingError:
    """Inclusion and exclusion errors when the predicted poorest `coverage` are selected.

    `predicted` may hold NaN for families the model could not rank (never selected); `true` is
    the true welfare of the same families (families truly present but missing from the
    registry belong in `true` with NaN in `predicted`).
    """
    w = np.asarray(weight, dtype=float)
    selected = bottom_share(predicted, w, coverage)
    target = bottom_share(true, w, coverage)
    sel, tgt = float(w[selected].sum()), float(w[target].sum())
    inclusion = float(w[selected & ~target].sum()) / sel if sel else 0.0
    exclusion = float(w[target & ~selected].sum()) / tgt if tgt else 0.0
    return TargetingError(coverage, inclusion, exclusion, sel, tgt)


def targeting_errors(
    predicted: np.ndarray, true: np.ndarray, weight: np.ndarray, coverages: tuple[float, ...] = COVERAGES
) -> list[TargetingError]:
    return [targeting_error(predicted, true, weight, c) for c in coverages]
