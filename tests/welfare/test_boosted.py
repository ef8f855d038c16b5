"""The gradient-boosted PMT: encoding, a planted non-linear model, determinism, the model file,
explanations, and streamed scoring on both engines."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.welfare.boosted import (
    BASE,
    BoostedModelError,
    contributions_boosted,
    encode,
    fit_boosted,
    load_booster,
    predict_frame_boosted,
    save_booster,
    score_boosted,
)
from dtsen.welfare.ols import fit_ols, predict_frame
from dtsen.welfare.predictors import Predictor, select_predictors
from dtsen.welfare.settings import BoostedSettings

# -- encode -----------------------------------------------------------------------------------


def test_encode_exact_matrix() -> None:
    predictors = (
        Predictor("x", "numeric", "a number"),
        Predictor("flag", "boolean", "a flag"),
        Predictor("kind", "categorical", "a category", ("A", "B", "C")),
    )
    frame = pd.DataFrame(
        {
            "kind": ["C", None, "Z", "A", "B"],  # column order differs from the predictors'
            "x": [1.5, None, -2.0, 0.0, np.nan],
            "flag": [True, None, False, True, False],
            "unused": [1, 2, 3, 4, 5],
        }
    )
    nan = np.nan
    expected = np.array(
        [
            [1.5, 1.0, 2.0],
            [nan, nan, nan],  # nulls of every kind
            [-2.0, 0.0, nan],  # "Z" is not a category
            [0.0, 1.0, 0.0],  # the reference category is 0
            [nan, 0.0, 1.0],
        ]
    )
    got = encode(predictors, frame)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    # the same values from Arrow (pyarrow-backed strings, nullable booleans) encode the same
    arrow = pa.table(
        {
            "x": pa.array([1.5, None, -2.0, 0.0, None], pa.float64()),
            "flag": pa.array([True, None, False, True, False]),
            "kind": pa.array(["C", None, "Z", "A", "B"]),
        }
    )
    np.testing.assert_array_equal(encode(predictors, arrow.to_pandas()), expected)
    np.testing.assert_array_equal(encode(predictors, arrow.to_pandas(types_mapper=pd.ArrowDtype)), expected)


# -- a planted non-linear model ---------------------------------------------------------------

PREDICTORS = select_predictors(["log_floor_area_pc", "has_fridge", "has_motorbike", "floor_type", "head_age"])
NOISE = 0.15
STEP = 0.8  # when log_floor_area_pc > 1.5
BOTH = 0.6  # when the family has a fridge AND a motorbike
FLOOR_EFFECT = {"TANAH": 0.0, "BAMBU": -0.3, "KAYU": 0.2, "SEMEN": 0.4, "KERAMIK": 0.1}


def planted(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Families from a known non-linear model: (frame, noisy target, noiseless signal).
    head_age is pure noise to the model; a few values of each predictor are missing."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(0.0, 3.0, n)
    fridge = rng.random(n) < 0.5
    motorbike = rng.random(n) < 0.5
    floor = rng.choice(list(FLOOR_EFFECT), n)
    signal = (
        13.0
        + STEP * (area > 1.5)
        + BOTH * (fridge & motorbike)
        + pd.Series(floor).map(FLOOR_EFFECT).to_numpy(dtype=float)
    )
    frame = pd.DataFrame(
        {
            "family_id": np.arange(n, dtype="int64"),
            "log_floor_area_pc": area,
            "has_fridge": pd.array(fridge, dtype="boolean"),
            "has_motorbike": pd.array(motorbike, dtype="boolean"),
            "floor_type": pd.Series(floor, dtype=object),
            "head_age": rng.uniform(20, 80, n),
        }
    )
    # missing values where they change nothing of the signal's definition above
    frame.loc[rng.random(n) < 0.02, "head_age"] = np.nan
    frame["floor_type"] = frame["floor_type"].where(rng.random(n) >= 0.01, None)
    return frame, signal + rng.normal(0.0, NOISE, n), signal


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    return float(1.0 - np.sum((true - pred) ** 2) / np.sum((true - true.mean()) ** 2))


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((true - pred) ** 2)))


@pytest.fixture(scope="module")
def planted_model() -> tuple[lightgbm.Booster, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    frame, y, _ = planted(3000, seed=7)
    train, test = frame.iloc[:2000], frame.iloc[2000:].reset_index(drop=True)
    settings = BoostedSettings(rounds=300, learning_rate=0.05, leaves=15, min_leaf=20)
    booster = fit_boosted(PREDICTORS, train, y[:2000], settings, seed=42)
    return booster, train, y[:2000], test, y[2000:]


def test_boosted_beats_ols_on_a_non_linear_model(planted_model) -> None:
    booster, train, y_train, test, y_test = planted_model
    boosted = predict_frame_boosted(booster, PREDICTORS, test)
    coefficients, _ = fit_ols(PREDICTORS, train, y_train)
    linear = predict_frame(coefficients, test)
    # The best any model can do is the planted signal: its R² on the held-out target is
    # 1 - NOISE² / var(y). The boosted model must come within 0.03 of it, and its RMSE within
    # 15% of the noise; OLS cannot fit the step and the interaction.
    best = 1.0 - NOISE**2 / float(np.var(y_test))
    assert best > 0.85  # the planted signal is strong: the test can tell good from bad
    assert r2(boosted, y_test) > best - 0.03
    assert rmse(boosted, y_test) < 1.15 * NOISE
    assert rmse(boosted, y_test) < 0.8 * rmse(linear, y_test)
    assert r2(linear, y_test) < best - 0.05


def test_small_training_set_still_learns() -> None:
    frame, y, signal = planted(30, seed=3)
    booster = fit_boosted(PREDICTORS, frame, y, BoostedSettings(rounds=50, min_leaf=5), seed=1)
    pred = predict_frame_boosted(booster, PREDICTORS, frame)
    assert np.isfinite(pred).all()
    assert booster.num_trees() == 50
    # trees split (the predictions vary) and follow the signal
    assert np.std(pred) > 0.1
    assert np.corrcoef(pred, signal)[0, 1] > 0.7
    # the project default (20 families per leaf) trains on 30 families without error
    default = fit_boosted(PREDICTORS, frame, y, BoostedSettings(), seed=1)
    assert np.isfinite(predict_frame_boosted(default, PREDICTORS, frame)).all()


def test_fitting_is_deterministic() -> None:
    frame, y, _ = planted(400, seed=11)
    settings = BoostedSettings(rounds=40, min_leaf=10)
    first = fit_boosted(PREDICTORS, frame, y, settings, seed=5).model_to_string()
    second = fit_boosted(PREDICTORS, frame, y, settings, seed=5).model_to_string()
    assert first == second
    assert "[deterministic: 1]" in first and "[num_threads: 1]" in first
    other = fit_boosted(PREDICTORS, frame, y, settings, seed=6).model_to_string()
    assert other != first  # the seed is used (bagging), so the equality above means something


# -- the model file ---------------------------------------------------------------------------


def test_save_load_roundtrip_and_tampering(planted_model, tmp_path: Path) -> None:
    booster, _, _, test, _ = planted_model
    path = tmp_path / "pmt" / "model.txt"
    digest = save_booster(booster, path)
    assert len(digest) == 64 and path.read_text().startswith("tree\n")
    loaded = load_booster(path, digest)
    np.testing.assert_array_equal(
        predict_frame_boosted(loaded, PREDICTORS, test), predict_frame_boosted(booster, PREDICTORS, test)
    )
    assert save_booster(loaded, tmp_path / "again.txt") == digest  # the text survives a roundtrip
    load_booster(path, None)  # no checksum recorded: read as is

    text = path.read_text()
    path.write_text(text.replace("shrinkage=0.05", "shrinkage=0.5", 1))
    with pytest.raises(BoostedModelError, match=r"model\.txt.*sha256"):
        load_booster(path, digest)
    with pytest.raises(BoostedModelError, match=r"missing\.txt.*does not exist"):
        load_booster(tmp_path / "missing.txt", digest)
    (tmp_path / "junk.txt").write_text("not a model")
    with pytest.raises(BoostedModelError, match=r"junk\.txt.*not a LightGBM"):
        load_booster(tmp_path / "junk.txt", None)


def test_misuse_is_refused(planted_model) -> None:
    booster, train, y_train, test, _ = planted_model
    with pytest.raises(BoostedModelError, match="no column 'floor_type'"):
        encode(PREDICTORS, test.drop(columns="floor_type"))
    with pytest.raises(BoostedModelError, match="trained on predictors"):
        predict_frame_boosted(booster, PREDICTORS[:2], test)
    with pytest.raises(BoostedModelError, match="missing or infinite"):
        fit_boosted(PREDICTORS, train, np.where(np.arange(len(train)) == 3, np.nan, y_train), BoostedSettings(), 1)
    with pytest.raises(BoostedModelError, match="not numbers"):
        encode(PREDICTORS, test.assign(head_age="old"))


# -- explanation ------------------------------------------------------------------------------


def test_contributions_sum_to_the_prediction(planted_model) -> None:
    booster, _, _, test, _ = planted_model
    rows = test.iloc[:50]
    contributions = contributions_boosted(booster, PREDICTORS, rows)
    assert list(contributions.columns) == [*(p.name for p in PREDICTORS), BASE]
    assert contributions.index.equals(rows.index)
    assert np.allclose(contributions.sum(axis=1).to_numpy(), predict_frame_boosted(booster, PREDICTORS, rows))
    assert contributions[BASE].nunique() == 1
    # the planted step is the largest effect: it explains most of the spread between families
    spread = contributions.drop(columns=BASE).std()
    assert spread.idxmax() == "log_floor_area_pc"
    assert spread["head_age"] < spread["log_floor_area_pc"] / 4


# -- streamed scoring on the engine -----------------------------------------------------------


def test_score_boosted_matches_predict_frame(engine: Engine, planted_model, tmp_path: Path) -> None:
    booster, _, _, _, _ = planted_model
    frame, _, _ = planted(500, seed=99)
    frame["family_id"] = frame["family_id"] * 3 + 1000  # ids that are not row numbers
    frame["extra"] = "ignored"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    features = engine.from_arrow(table)
    scored = score_boosted(engine, booster, PREDICTORS, features, tmp_path / "work", batch_rows=128)
    parts = list((tmp_path / "work").glob("*/scores/*.parquet"))
    if engine.kind == "duckdb":
        assert len(parts) == 4  # 500 families streamed in batches of 128
    else:
        assert parts  # Spark scored on its executors (mapInArrow) and wrote its own parts
    got = scored.to_pyarrow()
    assert got.schema.field("family_id").type == pa.int64()
    assert got.schema.field("log_predicted").type == pa.float64()
    result = got.to_pandas().sort_values("family_id").reset_index(drop=True)
    assert result["family_id"].tolist() == frame["family_id"].tolist()  # complete and unique
    expected = predict_frame_boosted(booster, PREDICTORS, frame)
    np.testing.assert_allclose(result["log_predicted"].to_numpy(), expected, rtol=0, atol=1e-12)

    empty = engine.from_arrow(table.slice(0, 0))
    none = score_boosted(engine, booster, PREDICTORS, empty, tmp_path / "work", batch_rows=128)
    assert none.count().execute() == 0
