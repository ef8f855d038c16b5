"""Welfare ranking (issue 4): the proxy means test, deciles, poverty lines, targeting, evaluation.

`train`, `rank` and `target` (in `pipeline`) run the steps; the modules hold one concept each:
`predictors` (the PMT variables on the engine), `ols`, `boosted` and `asset_index` (the
models: OLS, the boosted trees, the asset index and the blend), `robust` (the survey screen),
`training`, `crossval` and `selection` (fitting, folds by region, the `auto` choice),
`artefact` (versioned model files), `coefficients` (a ministry's own weights), `ranking`,
`poverty` and `probability` (deciles, lines, the probability of being poor), `headcounts`,
`official` and `headcount_report` (how many are poor per region, and the calibrated flags),
`targeting` and `recipients` (programme lists, leakage and undercoverage), `accuracy`,
`truth`, `single_source` and `evaluation` (errors against survey and truth), `explain`.

Names are imported lazily: the settings module is read by `dtsen.config`, which the pipeline
itself imports.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ModelArtefact": "artefact",
    "load_artefact": "artefact",
    "Coefficients": "ols",
    "fit_ols": "ols",
    "fit_boosted": "boosted",
    "read_coefficients": "coefficients",
    "write_coefficients": "coefficients",
    "PREDICTORS": "predictors",
    "family_features": "predictors",
    "PovertyLines": "poverty",
    "read_poverty_lines": "poverty",
    "RANKED_COLUMNS": "ranking",
    "rank_families": "ranking",
    "train": "pipeline",
    "rank": "pipeline",
    "target": "pipeline",
    "select_recipients": "targeting",
    "simulate": "targeting",
    "current_recipient_report": "recipients",
    "evaluate_welfare": "evaluation",
    "explain_family": "explain",
    "screen_survey": "robust",
    "choose": "selection",
    "fit_index": "asset_index",
    "read_headcounts": "official",
    "flag_families": "headcounts",
    "HEADCOUNT_COLUMNS": "headcounts",
    "WelfareSettings": "settings",
    "ProgrammeRule": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dtsen.welfare' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dtsen.welfare.{module}"), name)
