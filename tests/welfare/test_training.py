"""Training on a survey: folds by region, the artefact's identity, and a survey too thin to train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.welfare.artefact import load_artefact
from dtsen.welfare.crossval import region_folds
from dtsen.welfare.predictors import PREDICTORS
from dtsen.welfare.settings import WelfareSettings
from dtsen.welfare.training import SurveyError, train_models

NAMES = ["log_size", "has_car", "floor_type"]


def features(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    province = rng.choice(["11", "32", "33", "35", "52", "73"], n)
    frame = pd.DataFrame(
        {
            "family_id": np.arange(1, n + 1, dtype=np.int64),
            "region_code": [p + ".01.01.2001" for p in province],
            "province_code": province,
            "regency_code": [p + ".01" for p in province],
            "district_code": [p + ".01.01" for p in province],
            "persons": rng.integers(1, 7, n),
        }
    )
    for p in PREDICTORS.values():
        if p.kind == "numeric":
            frame[p.name] = rng.normal(0, 1, n)
        elif p.kind == "boolean":
            frame[p.name] = rng.random(n) < 0.3
        else:
            frame[p.name] = rng.choice(np.array(p.categories), n)
    y = 13.0 - 0.3 * frame.log_size + 0.4 * frame.has_car + 0.2 * (frame.floor_type == "KERAMIK")
    frame["consumption_per_capita"] = np.exp(y + rng.normal(0, 0.2, n))
    frame.loc[frame.index % 4 == 0, "consumption_per_capita"] = np.nan  # not in the survey
    return frame


def test_folds_hold_out_whole_regions_and_ignore_row_order() -> None:
    frame = features(600, seed=1)
    folds, level = region_folds(frame, 5, seed=3)
    assert level == "province_code"
    per_region = frame.assign(fold=folds).groupby("province_code")["fold"].nunique()
    assert (per_region == 1).all()  # a province is in one fold only
    shuffled = frame.sample(frac=1.0, random_state=7)
    again, _ = region_folds(shuffled, 5, seed=3)
    assert dict(zip(shuffled.family_id, again, strict=True)) == dict(zip(frame.family_id, folds, strict=True))


def test_models_train_cross_validate_and_keep_their_identity(duck: Engine, tmp_path: Path) -> None:
    table = duck.from_arrow(pa.Table.from_pandas(features(1_200, seed=2), preserve_index=False))
    settings = WelfareSettings(predictors=NAMES, region_level="province", min_region_families=160)
    first = train_models(duck, table, settings, tmp_path)
    second = train_models(duck, table, settings, tmp_path / "again")
    assert {k: a.model_id for k, a in first.artefacts.items()} == {k: a.model_id for k, a in second.artefacts.items()}
    ols = load_artefact(tmp_path / "welfare" / "models" / first.artefacts["ols"].model_id)
    assert ols.coefficients is not None
    assert ols.coefficients.weight("has_car") == pytest.approx(0.4, abs=0.05)
    assert ols.training["families"] == 900  # three of every four families are in the survey
    assert ols.metrics["cross_validation"]["held_out_by"] == "province_code"
    assert ols.metrics["cross_validation"]["r2"] > 0.5
    # provinces with fewer than 160 survey families take the pooled model, and say so
    counts = features(1_200, seed=2).dropna(subset=["consumption_per_capita"]).province_code.value_counts()
    assert ols.fallback["pooled_regions"] == sorted(str(p) for p, n in counts.items() if n < 160)
    changed = WelfareSettings(predictors=NAMES, region_level="none")
    third = train_models(duck, table, changed, tmp_path / "other", kinds=("ols",))
    assert third.artefacts["ols"].model_id != first.artefacts["ols"].model_id


def test_a_survey_too_thin_to_train_is_a_clear_error(duck: Engine, tmp_path: Path) -> None:
    frame = features(40, seed=3)  # 30 survey families, then only 10
    frame.loc[frame.index >= 13, "consumption_per_capita"] = np.nan
    table = duck.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    with pytest.raises(SurveyError, match=r"survey source 'susenas' gives \d+ golden families"):
        train_models(duck, table, WelfareSettings(predictors=NAMES), tmp_path)


def test_sampling_weights_undo_the_survey_design(duck: Engine, tmp_path: Path) -> None:
    # the poor are drawn three times as often: unweighted, the model predicts too little for everyone
    from dtsen.welfare.ols import predict_frame

    frame = features(6_000, seed=4)
    filled = pd.Series(np.exp(13.0 - 0.3 * frame.log_size + 0.4 * frame.has_car), index=frame.index)
    frame["consumption_per_capita"] = frame["consumption_per_capita"].fillna(filled)
    y = np.log(frame.consumption_per_capita)
    poor = y < np.quantile(y, 0.4)
    rng = np.random.default_rng(8)
    prob = np.where(poor, 0.3, 0.1)
    drawn = rng.random(len(frame)) < prob
    survey = frame.assign(consumption_per_capita=frame.consumption_per_capita.where(drawn),
                          survey_weight=np.where(drawn, 1 / prob, np.nan))
    table = duck.from_arrow(pa.Table.from_pandas(survey, preserve_index=False))
    settings = WelfareSettings(predictors=["log_size", "has_car", "floor_type"], region_level="none")
    weighted = train_models(duck, table, settings, tmp_path / "w", kinds=("ols",))
    table_nw = duck.from_arrow(pa.Table.from_pandas(survey.drop(columns="survey_weight"), preserve_index=False))
    unweighted = train_models(duck, table_nw, settings, tmp_path / "u", kinds=("ols",))
    everyone = np.average(y, weights=frame.persons)
    fit_w = predict_frame(weighted.artefacts["ols"].coefficients, frame)  # type: ignore[arg-type]
    fit_u = predict_frame(unweighted.artefacts["ols"].coefficients, frame)  # type: ignore[arg-type]
    assert abs(np.average(fit_w, weights=frame.persons) - everyone) < 0.01
    assert np.average(fit_u, weights=frame.persons) - everyone < -0.02  # measurably low
    assert weighted.artefacts["ols"].training["sampling_weights"] is True
    assert any("no sampling weights" in n for n in unweighted.notes)


def test_a_small_survey_is_warned_about_and_the_boosted_model_says_it_is_ols(duck: Engine, tmp_path: Path) -> None:
    frame = features(160, seed=6)  # 120 survey families for the 60-odd weights of every predictor
    table = duck.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    settings = WelfareSettings.model_validate({"region_level": "none", "boosted": {"min_leaf": 70}})
    trained = train_models(duck, table, settings, tmp_path)
    text = " ".join(trained.warnings)
    assert "small survey" in text and "fewer than 10 per weight" in text
    # no leaf of 70 fits twice in 120 families: the trees cannot split, and it must say so
    assert "The boosted model cannot improve on OLS here: its trees made 0 split(s) on 120" in text
    assert trained.artefacts["boosted"].metrics["splits"] == 0
    assert trained.choice is not None and trained.choice.chosen in trained.artefacts
    assert any(n.startswith("auto: ") for n in trained.notes)
    chosen = trained.artefacts[trained.choice.chosen]
    assert chosen.metrics["selection"]["chosen"] == trained.choice.chosen
    assert {r["model"] for r in chosen.metrics["selection"]["candidates"]} == {"ols", "boosted", "asset_index", "blend"}
