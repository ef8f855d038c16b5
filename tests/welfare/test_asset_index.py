"""The asset index finds a planted single factor without the survey, ignores missingness, and
the blend scores exactly as the weighted sum of its two models, in numpy and on the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.welfare.asset_index import blend, calibrate, fit_index, registry_sample
from dtsen.welfare.ols import fit_ols, predict_frame, score_expr
from dtsen.welfare.predictors import PREDICTORS, select_predictors

NAMES = ["has_car", "has_fridge", "has_motorbike", "floor_type", "log_floor_area_pc", "log_kwh", "head_age"]


def households(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Assets and housing driven by one latent wealth (head_age: noise only)."""
    rng = np.random.default_rng(seed)
    wealth = rng.normal(0, 1, n)
    floors = np.array(PREDICTORS["floor_type"].categories)
    frame = pd.DataFrame({
        "family_id": np.arange(1, n + 1, dtype=np.int64),
        "persons": rng.integers(1, 7, n),
        "has_car": wealth + rng.normal(0, 0.8, n) > 1.2,
        "has_fridge": wealth + rng.normal(0, 0.8, n) > -0.2,
        "has_motorbike": wealth + rng.normal(0, 0.8, n) > -0.8,
        "floor_type": floors[np.clip(np.round(wealth + rng.normal(0, 0.7, n) + 2.5), 0, 4).astype(int)],
        "log_floor_area_pc": 2.5 + 0.4 * wealth + rng.normal(0, 0.3, n),
        "log_kwh": 4.5 + 0.5 * wealth + rng.normal(0, 0.4, n),
        "head_age": rng.integers(20, 80, n).astype(float),
    })
    return frame, wealth


def test_the_index_recovers_the_planted_wealth_without_the_survey() -> None:
    frame, wealth = households(5_000, seed=1)
    predictors = select_predictors(NAMES)
    index, explained = fit_index(frame, predictors, {})
    values = predict_frame(index, frame)
    assert abs(np.corrcoef(values, wealth)[0, 1]) > 0.9
    # standardised over the registry (up to the winsorising of the fit)
    assert values.mean() == pytest.approx(0.0, abs=1e-3) and values.std() == pytest.approx(1.0, rel=1e-2)
    assert 0.3 < explained < 1.0
    # noise gets (almost) no weight; wealth markers do
    assert abs(index.weight("head_age")) * frame.head_age.std() < 0.1
    assert abs(index.weight("log_kwh")) * frame.log_kwh.std() > 0.2


def test_missing_values_do_not_become_the_index() -> None:
    frame, wealth = households(5_000, seed=2)
    # one family in five: nothing known about the dwelling or assets (a census that missed them)
    gone = np.arange(len(frame)) % 5 == 0
    for name in NAMES[:-1]:
        frame[name] = frame[name].astype(object).where(~gone, None)
    frame["log_floor_area_pc"] = frame["log_floor_area_pc"].astype(float)
    frame["log_kwh"] = frame["log_kwh"].astype(float)
    index, _ = fit_index(frame, select_predictors(NAMES), {})
    values = predict_frame(index, frame)
    assert abs(np.corrcoef(values[~gone], wealth[~gone])[0, 1]) > 0.85
    # a family with nothing known sits in the middle, not at an extreme
    assert np.abs(values[gone]).max() < 0.5


def test_calibration_and_blend_score_alike_in_numpy_and_on_the_engine(duck: Engine) -> None:
    frame, wealth = households(2_000, seed=3)
    frame["province_code"] = np.where(np.arange(len(frame)) % 2 == 0, "32", "33")
    frame["log_floor_area_pc"] = frame["log_floor_area_pc"].where(np.arange(len(frame)) % 7 != 0)
    y = 13.5 + 0.3 * wealth + np.random.default_rng(4).normal(0, 0.3, len(frame))
    predictors = select_predictors(NAMES)
    bounds = {"log_kwh": (3.0, 6.0)}
    index, _ = fit_index(frame, predictors, bounds)
    calibrated = calibrate(index, predict_frame(index, frame), y, np.ones(len(y)))
    assert np.average(predict_frame(calibrated, frame)) == pytest.approx(y.mean(), abs=1e-9)
    ols, _ = fit_ols(predictors, frame, y, region_level="province", min_region_families=10, bounds=bounds)
    mixed = blend(ols, calibrated, 0.3)
    expected = 0.3 * predict_frame(ols, frame) + 0.7 * predict_frame(calibrated, frame)
    assert predict_frame(mixed, frame) == pytest.approx(expected, abs=1e-9)
    table = duck.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    on_engine = table.select("family_id", s=score_expr(mixed, table)).to_pandas().sort_values("family_id")
    assert on_engine.s.to_numpy() == pytest.approx(expected, abs=1e-9)


def test_the_registry_sample_takes_every_nth_family_above_the_cap(duck: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import dtsen.welfare.asset_index as module

    frame, _ = households(1_000, seed=5)
    frame.loc[frame.family_id % 10 == 0, "persons"] = 0  # nobody alive: never in the sample
    table = duck.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    assert len(registry_sample(table, select_predictors(NAMES))) == 900
    monkeypatch.setattr(module, "SAMPLE_MAX", 300)
    sample = registry_sample(table, select_predictors(NAMES))
    assert (sample.family_id % 3 == 0).all() and len(sample) == len(frame[(frame.family_id % 3 == 0)
                                                                         & (frame.persons > 0)])
