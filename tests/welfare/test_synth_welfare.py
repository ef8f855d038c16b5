"""The synthetic population's welfare: a survey whose weights are needed, and welfare that moved
between the census and now (so that recent sources have something to catch)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from dtsen.synth.geography import load_geography
from dtsen.synth.names import load_pools
from dtsen.synth.regsosek import census_date
from dtsen.synth.susenas import selection_probabilities
from dtsen.synth.truth import Truth, build_truth
from dtsen.synth.welfare import CHANGES, EXTREME_SHARE, POOR_SHARE

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def truth() -> Truth:
    rng = np.random.default_rng(21)
    geo = load_geography(None, None, 60_000, rng)
    return build_truth(rng, geo, load_pools(None, 21), 60_000, AS_OF)


def test_selection_probabilities_add_up_and_favour_rural_and_poor() -> None:
    rng = np.random.default_rng(1)
    proxy = rng.normal(size=10_000)
    urban = rng.random(10_000) < 0.5
    prob = selection_probabilities(proxy, urban, 300)
    assert prob.sum() == pytest.approx(300.0)
    poor = proxy <= np.quantile(proxy, 0.4)
    # rural x1.5, poorer stratum x3: the ratios of the probabilities, exactly
    assert prob[~urban & poor].mean() / prob[urban & ~poor].mean() == pytest.approx(4.5)
    assert prob[~urban & ~poor].mean() / prob[urban & ~poor].mean() == pytest.approx(1.5)
    # tiny populations: nobody above 1, still adding up to k
    capped = selection_probabilities(proxy[:40], urban[:40], 35)
    assert capped.max() <= 1.0 and capped.sum() == pytest.approx(35.0)


def test_the_survey_needs_its_weights(truth: Truth) -> None:
    from dtsen.synth.susenas import susenas

    ext = susenas(truth, np.random.default_rng(4))
    weight = np.array(ext.columns["WEIND"].to_pylist(), dtype=float)
    persons = np.array(ext.columns["JML_ART"].to_pylist(), dtype=float)
    kapita = np.array(ext.columns["KAPITA"].to_pylist(), dtype=float)
    assert ext.spec.columns["WEIND"] == "survey_weight"
    assert "R1806" not in ext.spec.columns  # the survey's own dwelling answers are not mapped
    poor = kapita < 595_000
    weighted = (weight * persons * poor).sum() / (weight * persons).sum()
    unweighted = (persons * poor).sum() / persons.sum()
    assert abs(weighted - POOR_SHARE) < 0.03  # about right with the weights
    assert unweighted > 1.4 * POOR_SHARE  # measurably biased without them
    assert 0.006 * len(truth.fam.kk) < len(weight) < 0.014 * len(truth.fam.kk)  # about 1%


def test_welfare_moves_between_the_census_and_now(truth: Truth) -> None:
    w, f, p = truth.wel, truth.fam, truth.per
    living = f.living.astype(float)
    assert (living * w.poor).sum() / living.sum() == pytest.approx(POOR_SHARE, abs=0.002)
    assert (living * w.extreme_poor).sum() / living.sum() == pytest.approx(EXTREME_SHARE, abs=0.002)
    kinds = {c: (w.change == i + 1) for i, c in enumerate(CHANGES)}
    assert 0.05 < (w.change > 0).mean() < 0.2
    assert all(mask.sum() > 50 for mask in kinds.values())
    census = w.at_census()
    # the census saw the old dwelling of those who moved, and only theirs
    moved = kinds["move"]
    assert (census.floor[moved] != w.floor[moved]).mean() > 0.2
    unchanged = w.change == 0
    for name in ("floor", "wall", "roof", "water", "sanitation", "floor_area", "electricity_va", "motorbike"):
        assert (getattr(census, name)[unchanged] == getattr(w, name)[unchanged]).all(), name
    # a job loss: the head does not work now, and spends less on electricity than the frame expects
    lost = kinds["job_loss"]
    assert (p.occupation[f.head[lost]] == 0).all()
    # a new earner: some moved a PLN band up since the census, none down
    found = kinds["new_earner"]
    assert (w.electricity_va[found] >= census.electricity_va[found]).all()
    assert (w.electricity_va[found] > census.electricity_va[found]).any()
    # deaths after the census of someone aged 15-64
    day = truth.days(census_date(AS_OF))
    died = p.deceased & (p.death > day) & (p.age >= 15)
    assert set(np.flatnonzero(kinds["death"])) <= set(p.family[died])
    # the consumption moved the way the change says: job losses end up poorer than their frame
    proxy_rank = np.argsort(np.argsort(w.proxy)) / len(w.proxy)
    now_rank = np.argsort(np.argsort(np.log(w.consumption))) / len(w.consumption)
    assert (now_rank - proxy_rank)[lost].mean() < -0.05
    assert (now_rank - proxy_rank)[found].mean() > 0.05
