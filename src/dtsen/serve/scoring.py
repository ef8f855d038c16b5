"""The linkage model's comparisons, as bulk matching scores candidate pairs with them.

The trained Splink model of the release (`link_model.json` in the serving index) is read with
Splink itself: each comparison gives its CASE expression (the same SQL the linkage ran, over
`<column>_l` and `<column>_r`) and each level its match weight, log2(m/u), with Splink's defaults
for levels EM never saw. The exact-name level gets Splink's term-frequency adjustment from the
registry's name frequencies: + log2(u of that level) - log2(tf of the name).

A pair's match weight is the prior's log-odds plus the weights of its levels; its match
probability is 1 / (1 + 2^-weight). The prior is one over the number of persons in the
registry: each uploaded row is taken to be someone in the registry, and one of them at most.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dtsen.errors import DtsenError

_FLOOR = -200.0  # the weight of a level whose m-probability is zero (never seen among matches)


class MatchModelError(DtsenError):
    """The linkage model cannot be read."""


@dataclass(frozen=True)
class ScoredComparison:
    name: str  # output column name: nik, name, birth_date, sex, household
    case_sql: str  # "CASE WHEN ... THEN 3 ... END AS gamma_<name>"
    weights: dict[int, float]  # level (gamma) -> match weight; the null level (-1) weighs 0
    labels: dict[int, str]
    tf_level: int | None = None  # the level with the term-frequency adjustment, if any
    tf_u: float | None = None  # u-probability of that level


@dataclass(frozen=True)
class MatchModel:
    comparisons: tuple[ScoredComparison, ...]
    columns: tuple[str, ...]  # input columns the CASE expressions read
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def gamma(self, name: str) -> str:
        return f"gamma_{name}"


def _weight(level: Any) -> float:
    bf = level._bayes_factor
    if bf is None:
        return 0.0
    if bf == math.inf:
        return -_FLOOR
    return math.log2(bf) if bf > 0 else _FLOOR


def load_match_model(path: Path) -> MatchModel:
    """Read a Splink model JSON (as `dtsen link` saves it)."""
    from splink.internals.settings_creator import SettingsCreator

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        settings = SettingsCreator.from_path_or_dict(data).get_settings("duckdb")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MatchModelError(f"{path}: not a readable linkage model ({exc})") from None
    comparisons = []
    columns: list[str] = []
    for comp in settings.comparisons:
        weights: dict[int, float] = {}
        labels: dict[int, str] = {}
        tf_level = tf_u = None
        for level in comp.comparison_levels:
            gamma = int(level.comparison_vector_value)
            labels[gamma] = str(level.label_for_charts)
            if level.is_null_level:
                weights[gamma] = 0.0
                continue
            weights[gamma] = _weight(level)
            if level._has_tf_adjustments and level._tf_adjustment_weight:
                tf_level, tf_u = gamma, float(level.u_probability or 0.0)
        for col in comp._input_columns_used_by_case_statement:
            name = col.input_name
            if name not in columns:
                columns.append(name)
        comparisons.append(ScoredComparison(comp.output_column_name, comp._case_statement, weights, labels,
                                            tf_level, tf_u))
    return MatchModel(tuple(comparisons), tuple(columns), source=str(path))


def weight_sql(comp: ScoredComparison, tf_column: str = "tf_name_r") -> str:
    """The SQL of one comparison's weight, from its gamma column (numbers only: no input)."""
    gamma = f"gamma_{comp.name}"
    whens = " ".join(f"WHEN {g} THEN {w!r}" for g, w in sorted(comp.weights.items()))
    sql = f"(CASE {gamma} {whens} ELSE 0.0 END)"
    if comp.tf_level is not None and comp.tf_u:
        adjust = f"(log2({comp.tf_u!r}) - log2(greatest({tf_column}, 1e-12)))"
        sql = f"({sql} + CASE WHEN {gamma} = {comp.tf_level} AND {tf_column} IS NOT NULL THEN {adjust} ELSE 0.0 END)"
    return sql


def prior_weight(registry_persons: int) -> float:
    """log2 of the prior odds that an uploaded row and a given registry person are one person."""
    n = max(registry_persons, 2)
    return math.log2(1.0 / (n - 1))
