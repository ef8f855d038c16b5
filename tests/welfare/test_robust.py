"""Robust training (issue 11, item 4): five poisoned rows in a 500-family survey move fewer than
1% of the registry's deciles, for every model, and each rule of the screen takes what it should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.welfare.ols import predict_frame
from dtsen.welfare.predictors import PREDICTORS, select_predictors
from dtsen.welfare.robust import inner_bounds, robust_sd, screen_survey
from dtsen.welfare.settings import WelfareSettings
from dtsen.welfare.training import KINDS, train_models

REGISTRY = 3_000
SURVEY = 500
NAMES = ["log_size", "share_children", "head_age", "head_education", "floor_type", "has_motorbike", "has_car",
         "has_fridge", "log_floor_area_pc", "log_kwh", "livestock", "urban"]


def registry(seed: int = 5) -> pd.DataFrame:
    """A registry whose first SURVEY families carry a measured consumption (and a weight)."""
    rng = np.random.default_rng(seed)
    n = REGISTRY
    province = rng.choice(["11", "32", "33", "35", "52", "73"], n)
    district = [f"{p}.0{k}.0{k}" for p, k in zip(province, rng.integers(1, 4, n), strict=True)]
    persons = rng.integers(1, 8, n)
    frame = pd.DataFrame({
        "family_id": np.arange(1, n + 1, dtype=np.int64),
        "region_code": [d + ".2001" for d in district],
        "province_code": province,
        "regency_code": [d[:5] for d in district],
        "district_code": district,
        "persons": persons,
    })
    wealth = rng.normal(0, 1, n)
    for p in PREDICTORS.values():
        if p.kind == "numeric":
            frame[p.name] = rng.normal(0, 1, n) + 0.5 * wealth
        elif p.kind == "boolean":
            frame[p.name] = rng.random(n) < 1 / (1 + np.exp(-wealth))
        else:
            cats = np.array(p.categories)
            frame[p.name] = cats[np.clip((wealth + rng.normal(0, 1, n) + 2) * len(cats) / 4, 0, len(cats) - 1)
                                 .astype(int)]
    frame["log_size"] = np.log(persons)
    frame["head_age"] = rng.integers(20, 80, n).astype(float)
    y = (13.2 - 0.35 * frame.log_size + 0.25 * wealth + 0.3 * frame.has_car + 0.1 * frame.log_floor_area_pc
         + rng.normal(0, 0.3, n))
    frame["consumption_per_capita"] = np.where(np.arange(n) < SURVEY, np.round(np.exp(y)), np.nan)
    frame["survey_weight"] = np.where(np.arange(n) < SURVEY, rng.choice([50.0, 150.0], n), np.nan)
    return frame


def poisoned(frame: pd.DataFrame) -> pd.DataFrame:
    """The registry plus five survey families with absurd values, as a broken export has them."""
    bad = frame.iloc[:5].copy()
    bad["family_id"] = np.arange(REGISTRY + 1, REGISTRY + 6)
    bad["consumption_per_capita"] = [-5.0, 0.0, 1e20, 600_000.0, 600_000.0]
    bad.loc[bad.index[3], ["persons", "log_size"]] = [1_000_000_000, np.log(1e9)]  # a family of 10^9
    bad.loc[bad.index[4], "log_floor_area_pc"] = np.log(1e9)  # a floor of 10^9 m² a head
    return pd.concat([frame, bad], ignore_index=True)


def deciles(values: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """Person-weighted deciles, poorest first (ties by position), as `dtsen.welfare.ranking`."""
    order = np.argsort(values, kind="stable")
    before = np.concatenate([[0.0], np.cumsum(persons[order])[:-1]])
    out = np.empty(len(values), dtype=int)
    out[order] = np.minimum((before * 10 // persons.sum()).astype(int) + 1, 10)
    return out


def _train(engine: Engine, frame: pd.DataFrame, work: Path) -> dict[str, np.ndarray]:
    table = engine.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    settings = WelfareSettings(predictors=NAMES, region_level="province")
    trained = train_models(engine, table, settings, work)
    clean = frame[frame.family_id <= REGISTRY].reset_index(drop=True)
    out: dict[str, np.ndarray] = {}
    for kind, artefact in trained.artefacts.items():
        if artefact.coefficients is not None and kind != "boosted":
            out[kind] = predict_frame(artefact.coefficients, clean)
        else:
            from dtsen.welfare.boosted import load_booster, predict_frame_boosted

            assert artefact.path is not None
            booster = load_booster(artefact.path / "model.txt", artefact.booster_sha256)
            start = predict_frame(artefact.coefficients, clean) if artefact.coefficients is not None else 0.0
            out[kind] = start + predict_frame_boosted(booster, artefact.predictors, clean)
    return out


def test_five_poisoned_rows_move_fewer_than_one_percent_of_deciles(duck: Engine, tmp_path: Path) -> None:
    frame = registry()
    persons = frame.persons.to_numpy(dtype=float)
    clean = _train(duck, frame, tmp_path / "clean")
    dirty = _train(duck, poisoned(frame), tmp_path / "dirty")
    assert set(clean) == set(KINDS)
    for kind in KINDS:
        moved = (deciles(clean[kind], persons) != deciles(dirty[kind], persons)).mean()
        assert moved < 0.01, (kind, moved)


def test_without_the_screen_the_same_rows_throw_the_ranking(duck: Engine, tmp_path: Path) -> None:
    # the known answer's other half: plain least squares on the poisoned survey moves most deciles
    from dtsen.welfare.ols import fit_ols

    frame = registry()
    predictors = select_predictors(NAMES)
    dirty = poisoned(frame)
    survey = dirty[dirty.consumption_per_capita > 0].reset_index(drop=True)
    coef, _ = fit_ols(predictors, survey, np.log(survey.consumption_per_capita.to_numpy()), ridge=0.0)
    plain = predict_frame(coef, frame)
    clean = _train(duck, frame, tmp_path / "clean")["ols"]
    persons = frame.persons.to_numpy(dtype=float)
    assert (deciles(clean, persons) != deciles(plain, persons)).mean() > 0.2


def test_each_rule_of_the_screen_takes_its_rows() -> None:
    frame = poisoned(registry())
    survey = frame[frame.consumption_per_capita.notna()].reset_index(drop=True)
    survey.loc[10, "survey_weight"] = -3.0  # an invalid weight: the median instead
    survey.loc[11, "survey_weight"] = 1e12  # an absurd weight: clipped
    screen = screen_survey(survey, select_predictors(NAMES))
    reasons = screen.reasons
    assert reasons["consumption_not_positive"] == 2
    assert reasons["consumption_outlier"] == 1
    assert reasons["predictor_outlier"] == 2
    assert reasons["weight_invalid"] == 1 and reasons["weight_clipped"] >= 1
    assert screen.kept.sum() == SURVEY - reasons["residual_outlier"]
    assert not screen.kept[SURVEY:].any()  # none of the five poisoned rows trains anything
    assert screen.weight[10] == np.median(survey.survey_weight[:SURVEY][survey.survey_weight[:SURVEY] > 0])
    assert screen.weight[11] < 1e4
    lo, hi = screen.bounds["log_size"]
    assert hi < np.log(1e9) and lo < 0.0 < hi


def test_robust_scale_and_bounds_ignore_a_few_wild_values() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, 1_000)
    wild = np.concatenate([x, [1e9, -1e9, 1e12]])
    assert robust_sd(wild) == pytest.approx(2.0, rel=0.1)
    bounds = inner_bounds(wild)
    assert bounds is not None and -40 < bounds[0] < -8 and 8 < bounds[1] < 40
    assert inner_bounds(np.zeros(100)) is None  # one value everywhere: no scale to judge by
