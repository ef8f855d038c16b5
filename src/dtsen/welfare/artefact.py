"""A trained PMT model as a versioned artefact that a release names.

WORK/welfare/models/<model_id>/
    model.json   kind, predictors, coefficients (OLS, external), metrics, the training data's
                 sha256 and size, the thin regions that took the pooled model, the settings
    model.txt    the boosted model (LightGBM's text format; its sha256 is in model.json)

The model id is the kind and the first 12 hex digits of a hash of the training data, the
settings and the model itself, so the same inputs give the same id and a changed input a new
one. Artefacts are never overwritten in place: they are written aside and renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dtsen.errors import DtsenError
from dtsen.welfare.ols import Coefficients
from dtsen.welfare.predictors import Predictor, select_predictors

MODEL_FILE = "model.json"
BOOSTER_FILE = "model.txt"
FORMAT = 1


class ModelArtefactError(DtsenError):
    """A model artefact is missing, damaged, or from an unknown format."""


# Model kinds that are linear in the predictors (scored by `ols.score_expr`, explained exactly).
LINEAR_KINDS: tuple[str, ...] = ("ols", "asset_index", "blend", "external")


@dataclass
class ModelArtefact:
    kind: str  # "ols" | "boosted" | "asset_index" | "blend" | "external"
    predictors: tuple[Predictor, ...]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    fallback: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    coefficients: Coefficients | None = None
    booster_sha256: str | None = None
    model_id: str = ""
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model_id": self.model_id,
            "kind": self.kind,
            "predictors": [p.name for p in self.predictors],
            "training": self.training,
            "metrics": self.metrics,
            "fallback": self.fallback,
            "settings": self.settings,
            "coefficients": self.coefficients.to_dict() if self.coefficients else None,
            "booster": {"file": BOOSTER_FILE, "sha256": self.booster_sha256} if self.booster_sha256 else None,
        }

    @property
    def residual_sd(self) -> float | None:
        """The spread of ln consumption around the model's prediction (held-out survey families),
        from which `p_poor` and `p_extreme` follow; None when it was never measured."""
        value = self.metrics.get("residual_sd")
        return float(value) if value else None

    @property
    def survey_variance(self) -> float | None:
        """The survey's weighted variance of ln consumption (the population's, as the survey says)."""
        value = self.metrics.get("survey_variance")
        return float(value) if value else None

    def identity(self, booster_text: str | None = None) -> str:
        """The model id: kind plus a hash of everything but the metrics."""
        body = self.to_dict()
        for volatile in ("model_id", "metrics"):
            body.pop(volatile)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode())
        if booster_text is not None:
            digest.update(booster_text.encode())
        return f"{self.kind}-{digest.hexdigest()[:12]}"


def models_dir(work_dir: Path) -> Path:
    return work_dir / "welfare" / "models"


def save_artefact(artefact: ModelArtefact, work_dir: Path, booster_text: str | None = None) -> Path:
    """Write the artefact under WORK/welfare/models/<id>/ (aside, then renamed); returns its dir."""
    artefact.model_id = artefact.identity(booster_text)
    root = models_dir(work_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / artefact.model_id
    tmp = Path(tempfile.mkdtemp(prefix=f".{artefact.model_id}-", dir=root))
    try:
        if booster_text is not None:
            (tmp / BOOSTER_FILE).write_text(booster_text, encoding="utf-8")
            artefact.booster_sha256 = hashlib.sha256(booster_text.encode("utf-8")).hexdigest()
        (tmp / MODEL_FILE).write_text(json.dumps(artefact.to_dict(), indent=2, sort_keys=True), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    artefact.path = final
    return final


def load_artefact(path: Path) -> ModelArtefact:
    """Read a model directory (or its model.json)."""
    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.exists():
        raise ModelArtefactError(f"no model at {p}: train one with `dtsen pmt train`")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelArtefactError(f"{p} is not a readable model file: {exc}") from None
    if data.get("format") != FORMAT:
        raise ModelArtefactError(f"{p}: model format {data.get('format')!r} is not {FORMAT}; retrain the model")
    predictors = select_predictors(data["predictors"], where=str(p))
    coefficients = Coefficients.from_dict(data["coefficients"], predictors) if data.get("coefficients") else None
    booster = data.get("booster") or {}
    return ModelArtefact(
        kind=data["kind"],
        predictors=predictors,
        training=data.get("training", {}),
        metrics=data.get("metrics", {}),
        fallback=data.get("fallback", {}),
        settings=data.get("settings", {}),
        coefficients=coefficients,
        booster_sha256=booster.get("sha256"),
        model_id=data["model_id"],
        path=p.parent,
    )


def find_model(work_dir: Path, model_id: str) -> ModelArtefact:
    path = models_dir(work_dir) / model_id
    if not path.exists():
        known = sorted(d.name for d in models_dir(work_dir).glob("*") if (d / MODEL_FILE).exists())
        raise ModelArtefactError(
            f"no model {model_id!r} under {models_dir(work_dir)}; known: {', '.join(known) or 'none'}"
        )
    return load_artefact(path)
