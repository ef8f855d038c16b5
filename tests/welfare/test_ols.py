"""OLS recovers the coefficients of data generated from a known linear model; the engine
expression scores exactly as the fitted model does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.welfare.ols import MISSING, fit_ols, predict_frame, score_expr
from dtsen.welfare.predictors import PREDICTORS, select_predictors

PREDICTOR_NAMES = ["log_size", "floor_type", "has_car", "head_age"]
INTERCEPT = 13.2
TRUE: dict[tuple[str, str], float] = {
    ("log_size", ""): -0.30,
    ("floor_type", "BAMBU"): 0.03,
    ("floor_type", "KAYU"): 0.06,
    ("floor_type", "SEMEN"): 0.10,
    ("floor_type", "KERAMIK"): 0.20,
    ("has_car", ""): 0.35,
    ("head_age", ""): 0.004,
}
REGION_EFFECT = {"11": 0.0, "32": 0.25, "33": -0.15}


def make_frame(n: int, seed: int, thin: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floors = np.array(PREDICTORS["floor_type"].categories)
    province = rng.choice(["11", "32", "33"], n)
    if thin:
        province[:thin] = "99"  # a thin province
    return pd.DataFrame(
        {
            "family_id": np.arange(1, n + 1),
            "province_code": province,
            "regency_code": [p + ".01" for p in province],
            "district_code": [p + ".01.01" for p in province],
            "region_code": [p + ".01.01.2001" for p in province],
            "persons": rng.integers(1, 8, n),
            "log_size": np.log(rng.integers(1, 8, n)),
            "floor_type": rng.choice(floors, n),
            "has_car": rng.random(n) < 0.2,
            "head_age": rng.integers(18, 90, n).astype(float),
        }
    )


def truth(frame: pd.DataFrame) -> np.ndarray:
    y = np.full(len(frame), INTERCEPT)
    y += TRUE[("log_size", "")] * frame.log_size + TRUE[("has_car", "")] * frame.has_car
    y += TRUE[("head_age", "")] * frame.head_age
    y += frame.floor_type.map({c: TRUE.get(("floor_type", c), 0.0) for c in PREDICTORS["floor_type"].categories})
    y += frame.province_code.map(REGION_EFFECT).fillna(0.0)
    return np.array(y, dtype=float)


def test_exact_recovery_without_noise() -> None:
    frame = make_frame(400, seed=1)
    predictors = select_predictors(PREDICTOR_NAMES)
    coef, thin = fit_ols(predictors, frame, truth(frame), region_level="province", min_region_families=10)
    assert thin == []
    # the largest province is the base; effects are relative to it
    base = str(frame.province_code.value_counts().idxmax())
    assert coef.intercept == pytest.approx(INTERCEPT + REGION_EFFECT[base], abs=1e-8)
    for key, value in TRUE.items():
        assert coef.weights[key] == pytest.approx(value, abs=1e-8), key
    for region, effect in coef.regions.items():
        assert effect == pytest.approx(REGION_EFFECT[region] - REGION_EFFECT[base], abs=1e-8)
    assert ("floor_type", "TANAH") not in coef.weights  # the reference category


def test_recovery_with_noise_and_thin_region_fallback() -> None:
    frame = make_frame(20_000, seed=2, thin=12)
    rng = np.random.default_rng(3)
    y = truth(frame) + rng.normal(0, 0.3, len(frame))
    predictors = select_predictors(PREDICTOR_NAMES)
    coef, thin = fit_ols(predictors, frame, y, region_level="province", min_region_families=30)
    assert thin == ["99"]  # 12 families: pooled model, recorded
    assert "99" not in coef.regions
    for key, value in TRUE.items():
        assert coef.weights[key] == pytest.approx(value, abs=0.02), key
    # with a thin region present, every other region has a shift against the pooled intercept
    assert set(coef.regions) == {"11", "32", "33"}
    assert coef.regions["32"] - coef.regions["11"] == pytest.approx(0.25, abs=0.02)
    assert coef.regions["33"] - coef.regions["11"] == pytest.approx(-0.15, abs=0.02)


def test_missing_values_get_their_own_weight() -> None:
    frame = make_frame(3_000, seed=4)
    frame.loc[:299, "floor_type"] = "TANAH"  # effect 0, then hidden: unknown floors are 0.05 poorer
    frame.loc[300:399, "head_age"] = 40.0  # hidden ages were all 40
    y = truth(frame)
    y[:300] -= 0.05
    frame.loc[:299, "floor_type"] = None
    frame.loc[300:399, "head_age"] = np.nan
    predictors = select_predictors(PREDICTOR_NAMES)
    coef, _ = fit_ols(predictors, frame, y, region_level="province", min_region_families=10)
    assert coef.weights[("floor_type", MISSING)] == pytest.approx(-0.05, abs=1e-8)
    np.testing.assert_allclose(predict_frame(coef, frame), y, atol=1e-8)
    # the rows with an unknown age land exactly on the contribution of 40 years
    age = TRUE[("head_age", "")]
    filled = coef.means["head_age"] * coef.weights[("head_age", "")] + coef.weights[("head_age", MISSING)]
    assert filled == pytest.approx(40 * age, abs=1e-8)


def test_engine_score_matches_numpy(engine: Engine) -> None:
    frame = make_frame(300, seed=5, thin=5)
    frame.loc[:9, "floor_type"] = None
    frame["has_car"] = frame["has_car"].astype("boolean")
    frame.loc[10:19, "has_car"] = pd.NA
    frame.loc[20:29, "head_age"] = np.nan
    frame.loc[30:34, "floor_type"] = "MARMER"  # not in the vocabulary: treated as unknown
    rng = np.random.default_rng(6)
    y = truth(frame.fillna({"head_age": 50.0})) + rng.normal(0, 0.1, len(frame))
    predictors = select_predictors(PREDICTOR_NAMES)
    coef, _ = fit_ols(predictors, frame, y, region_level="province", min_region_families=10)
    table = engine.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    got = (
        table.select("family_id", y=score_expr(coef, table)).to_pyarrow().to_pandas().sort_values("family_id")
    )
    np.testing.assert_allclose(got.y.to_numpy(), predict_frame(coef, frame), rtol=0, atol=1e-9)


def test_a_column_constant_up_to_rounding_is_dropped_not_blown_up() -> None:
    """One district: its district mean is the same float for every family, and summing it
    leaves a standard deviation of ~1e-17, which must not be scaled up into noise."""
    frame = make_frame(200, seed=7)
    frame["district_fridge"] = 0.1 + 0.2  # 0.30000000000000004, for everyone
    frame.loc[::3, "district_fridge"] = 0.3  # differs in the last bit only
    predictors = select_predictors([*PREDICTOR_NAMES, "district_fridge"])
    coef, _ = fit_ols(predictors, frame, truth(frame), region_level="province", min_region_families=10, ridge=None)
    assert coef.weights[("district_fridge", "")] == 0.0
    np.testing.assert_allclose(predict_frame(coef, frame), truth(frame), atol=1e-6)
