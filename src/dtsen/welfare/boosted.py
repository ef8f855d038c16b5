"""The PMT by gradient boosting (LightGBM): the alternative to OLS for non-linear welfare.

    ln(consumption per capita) = sum of regression trees over the predictors

Predictors enter one float matrix (`encode`): a numeric predictor as is, a boolean as 0/1, a
categorical as the index of its value in the catalogue's category list, which LightGBM treats
as a categorical feature (not as an order). A null, or a category the catalogue does not know,
is NaN: LightGBM's missing value, learnt as such. Training and scoring use the same encoding,
and the catalogue's category lists are stable, so a model trained on one release applies to
the next.

Training is small (the survey) and deterministic: the same data, settings and seed give a
byte-identical model text. The model is saved as LightGBM's text format (never pickle), named
by its sha256, and loaded only when the checksum matches. Scoring every family streams the
feature table in batches and writes Parquet parts, so the families never sit in memory at once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import lightgbm
import numpy as np
import pandas as pd
import pyarrow as pa

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.welfare.predictors import Predictor
from dtsen.welfare.settings import BoostedSettings

# Fixed rather than "all cores". Training: one thread, because the survey is small (OpenMP's
# start-up and spinning cost more than they save there: 0.2 s against 4 s for 100 rounds on 2,000
# families on a busy 2-core machine) and the thread count is written into the model text, which
# must be the same on every machine. Scoring: two threads over batches of many families.
TRAIN_THREADS = 1
THREADS = 2
BASE = "base"
SCORE_SCHEMA = pa.schema([("family_id", pa.int64()), ("log_predicted", pa.float64())])


class BoostedModelError(DtsenError):
    """The boosted model cannot be trained, read or applied as asked."""


# -- the feature matrix -----------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise BoostedModelError(f"the feature frame has no column {name!r} (predictor of the boosted model)")
    return frame[name]


def _as_float(values: pd.Series, predictor: Predictor) -> np.ndarray:
    try:
        return values.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise BoostedModelError(
            f"predictor {predictor.name!r} ({predictor.kind}) has values that are not numbers: {exc}"
        ) from exc


def encode(predictors: tuple[Predictor, ...], frame: pd.DataFrame) -> np.ndarray:
    """The float64 matrix LightGBM sees: one column per predictor, in the order given.

    numeric      the value (NaN for null)
    boolean      1.0 / 0.0 (NaN for null)
    categorical  the index of the value in `Predictor.categories` (NaN for null or unknown)
    """
    out = np.empty((len(frame), len(predictors)), dtype="float64")
    for j, p in enumerate(predictors):
        values = _column(frame, p.name)
        if p.kind == "categorical":
            codes = pd.Index(p.categories).get_indexer(pd.Index(values.astype("object")))
            out[:, j] = np.where(codes >= 0, codes, np.nan)
        else:
            out[:, j] = _as_float(values, p)
    return out


def _categorical_indices(predictors: tuple[Predictor, ...]) -> list[int]:
    return [j for j, p in enumerate(predictors) if p.kind == "categorical"]


# -- training ---------------------------------------------------------------------------------


def boosted_params(settings: BoostedSettings, seed: int) -> dict[str, Any]:
    """The LightGBM parameters of the model: deterministic, few threads, quiet."""
    return {
        "objective": "regression",
        "metric": "l2",
        "boosting": "gbdt",
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.leaves,
        "min_data_in_leaf": settings.min_leaf,
        # LightGBM's default of 100 families per category group would keep categorical
        # splits out of a survey of a few thousand families; a leaf's minimum is the sane bound.
        "min_data_per_group": settings.min_leaf,
        # Bins of a single value keep small training sets (tens of families) splittable.
        "min_data_in_bin": 1,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": TRAIN_THREADS,
        "verbose": -1,
    }


def fit_boosted(
    predictors: tuple[Predictor, ...],
    train: pd.DataFrame,
    target: np.ndarray,
    settings: BoostedSettings,
    seed: int,
    init_score: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> lightgbm.Booster:
    """LightGBM regression of `target` (ln consumption per capita) on the predictors of `train`.

    With `init_score` (the OLS prediction of each family) the trees start from it and learn
    only what it misses; the booster's own output is then that correction, to be added to
    the starting prediction when scoring.
    """
    if not predictors:
        raise BoostedModelError("the boosted model needs at least one predictor")
    y = np.asarray(target, dtype="float64")
    if y.ndim != 1 or len(y) != len(train):
        raise BoostedModelError(f"the target has {y.size} values for {len(train)} training families")
    if len(y) < 2:
        raise BoostedModelError(f"the boosted model needs at least 2 training families, got {len(y)}")
    if not np.isfinite(y).all():
        raise BoostedModelError(f"the target has {int((~np.isfinite(y)).sum())} missing or infinite values")
    params = boosted_params(settings, seed)
    dataset = lightgbm.Dataset(
        encode(predictors, train),
        label=y,
        feature_name=[p.name for p in predictors],
        categorical_feature=_categorical_indices(predictors),
        params=params,
        free_raw_data=True,
        init_score=None if init_score is None else np.asarray(init_score, dtype="float64"),
        weight=None if weight is None else np.asarray(weight, dtype="float64"),
    )
    return lightgbm.train(params, dataset, num_boost_round=settings.rounds)


def splits(booster: lightgbm.Booster) -> int:
    """How many splits the trees made in all (0: the model is its starting point, e.g. OLS)."""
    trees = booster.dump_model().get("tree_info", [])
    return int(sum(max(int(t.get("num_leaves", 1)) - 1, 0) for t in trees))


# -- applying the model -----------------------------------------------------------------------


def _check_features(booster: lightgbm.Booster, predictors: tuple[Predictor, ...]) -> None:
    names = [p.name for p in predictors]
    if booster.feature_name() != names:
        raise BoostedModelError(
            f"the boosted model was trained on predictors {booster.feature_name()}, but is applied with {names}"
        )


def predict_frame_boosted(
    booster: lightgbm.Booster, predictors: tuple[Predictor, ...], frame: pd.DataFrame
) -> np.ndarray:
    """The model's ln(consumption per capita) for a small frame (used in cross-validation)."""
    _check_features(booster, predictors)
    if len(frame) == 0:
        return np.empty(0, dtype="float64")
    return np.asarray(booster.predict(encode(predictors, frame), num_threads=THREADS), dtype="float64")


def contributions_boosted(
    booster: lightgbm.Booster, predictors: tuple[Predictor, ...], frame: pd.DataFrame
) -> pd.DataFrame:
    """Per row, each predictor's contribution to ln(consumption per capita) (SHAP values),
    plus `base`, the model's expected value: a row sums to the prediction."""
    _check_features(booster, predictors)
    columns = [*(p.name for p in predictors), BASE]
    if len(frame) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}, index=frame.index)
    values = np.asarray(
        booster.predict(encode(predictors, frame), pred_contrib=True, num_threads=THREADS), dtype="float64"
    )
    return pd.DataFrame(values, columns=columns, index=frame.index)


class _BatchScorer:
    """Scores one Arrow batch of (family_id, predictors...); picklable, so Spark can ship it
    to its executors (the model travels as its text and is rebuilt once per process)."""

    def __init__(self, model_text: str, predictors: tuple[Predictor, ...]) -> None:
        self.model_text = model_text
        self.predictors = predictors
        self._booster: lightgbm.Booster | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"model_text": self.model_text, "predictors": self.predictors, "_booster": None}

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self._booster is None:
            self._booster = lightgbm.Booster(model_str=self.model_text)
        scores = predict_frame_boosted(self._booster, self.predictors, batch.to_pandas())
        ids = batch.column(0).cast(pa.int64())
        return pa.RecordBatch.from_arrays([ids, pa.array(scores, type=pa.float64())], schema=SCORE_SCHEMA)


def score_boosted(
    engine: Engine,
    booster: lightgbm.Booster,
    predictors: tuple[Predictor, ...],
    features: ir.Table,
    work: Path,
    batch_rows: int = 200_000,
) -> ir.Table:
    """ln(consumption per capita) for every family of `features`, as (family_id, log_predicted).

    The feature table streams `batch_rows` families at a time through the model
    (`Engine.map_batches`: to this process on DuckDB, on the executors on Spark); the scores
    are written as Parquet into a new directory under `work`, which the returned table reads
    (the caller keeps `work` until the table is no longer needed).
    """
    _check_features(booster, predictors)
    if batch_rows < 1:
        raise BoostedModelError(f"batch_rows must be at least 1, got {batch_rows}")
    work.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="boosted-", dir=work)) / "scores"
    columns = ["family_id", *(p.name for p in predictors)]
    scorer = _BatchScorer(booster.model_to_string(), predictors)
    return engine.map_batches(features.select(*columns), scorer, SCORE_SCHEMA, out, batch_rows)


# -- the model file ---------------------------------------------------------------------------


def save_booster(booster: lightgbm.Booster, path: Path) -> str:
    """Write the model as LightGBM's text format (e.g. `model.txt`) and return its sha256."""
    data = booster.model_to_string().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def load_booster(path: Path, sha256: str | None) -> lightgbm.Booster:
    """Read a model written by `save_booster`, refusing it when its checksum does not match."""
    if not path.is_file():
        raise BoostedModelError(f"{path}: the boosted model file does not exist")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256.lower():
        raise BoostedModelError(
            f"{path}: the boosted model file has sha256 {digest}, but {sha256} was recorded; "
            "it was changed after it was saved"
        )
    try:
        return lightgbm.Booster(model_str=data.decode("utf-8"))
    except (lightgbm.basic.LightGBMError, UnicodeDecodeError) as exc:
        raise BoostedModelError(f"{path}: not a LightGBM text model ({exc})") from exc
