"""`welfare.model = "auto"`: weighted rank correlation with known answers, and the choice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from dtsen.welfare.selection import PREFERENCE, choose, weighted_ranks, weighted_spearman


def test_weighted_ranks_are_mid_ranks_of_the_weight() -> None:
    # weights 1, 2, 1: shares of 4; mid-ranks 0.125, 0.5, 0.875; a tie shares its mean
    assert weighted_ranks(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0])) == pytest.approx([0.875, 0.125, 0.5])
    tied = weighted_ranks(np.array([1.0, 1.0, 5.0]), np.array([1.0, 3.0, 4.0]))
    assert tied[0] == tied[1] == pytest.approx(0.25)  # the first half of the weight, its middle
    assert tied[2] == pytest.approx(0.75)


def test_weighted_spearman_is_spearman_with_equal_weights_and_counts_copies() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=200)
    b = a + rng.normal(size=200)
    assert weighted_spearman(a, b, np.ones(200)) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    # an integer weight is the same as repeating the row (ranks of copies tie)
    w = rng.integers(1, 4, 200)
    repeated = spearmanr(np.repeat(a, w), np.repeat(b, w)).statistic
    assert weighted_spearman(a, b, w.astype(float)) == pytest.approx(repeated, abs=1e-9)
    assert weighted_spearman(a, -a, np.ones(200)) == pytest.approx(-1.0)


def _oof(n: int, noise: dict[str, float], seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.normal(13.5, 0.5, n)
    return y, {k: y + rng.normal(0, s, n) for k, s in noise.items()}


def test_a_clearly_better_model_is_chosen_and_says_why() -> None:
    y, oof = _oof(3_000, {"blend": 0.35, "asset_index": 0.5, "ols": 0.35, "boosted": 0.15}, seed=1)
    groups = np.array([f"r{i % 40}" for i in range(len(y))])
    choice = choose(oof, y, np.ones(len(y)), groups, seed=4)
    assert choice.chosen == "boosted"
    assert "boosted ranks held-out regions best" in choice.reason.lower()
    assert [r["model"] for r in choice.rows] == list(PREFERENCE)
    boosted = next(r for r in choice.rows if r["model"] == "boosted")
    blend = next(r for r in choice.rows if r["model"] == "blend")
    assert boosted["rank_correlation_shortfall"] == 0.0 and boosted["as_good_as_best"]
    assert blend["rank_correlation_shortfall"] > 3 * blend["rank_correlation_se"] and not blend["as_good_as_best"]


def test_differences_within_noise_keep_the_blend() -> None:
    # a small survey: OLS happens to score a little better, within a standard error
    y, oof = _oof(120, {"blend": 0.30, "asset_index": 0.40, "ols": 0.30, "boosted": 0.31}, seed=2)
    oof["ols"] = 0.97 * oof["ols"] + 0.03 * y  # a hair better
    choice = choose(oof, y, np.ones(len(y)), np.array([f"r{i % 12}" for i in range(120)]), seed=4)
    assert choice.chosen == "blend"
    assert "within one standard error" in choice.reason
    ols = next(r for r in choice.rows if r["model"] == "ols")
    assert ols["rank_correlation"] >= next(r for r in choice.rows if r["model"] == "blend")["rank_correlation"]


def test_the_choice_is_reproducible_and_weighted() -> None:
    y, oof = _oof(400, {"blend": 0.3, "ols": 0.3, "asset_index": 0.5}, seed=9)
    groups = np.array([f"r{i % 20}" for i in range(400)])
    w = np.where(y < 13.5, 5.0, 1.0)
    first, again = choose(oof, y, w, groups, seed=1), choose(oof, y, w, groups, seed=1)
    assert first.to_dict() == again.to_dict()
    row = next(r for r in first.rows if r["model"] == "ols")
    assert row["rank_correlation"] == pytest.approx(weighted_spearman(oof["ols"], y, w), abs=1e-6)
