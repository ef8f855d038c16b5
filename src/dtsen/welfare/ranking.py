"""Ranks: predicted consumption for every family, person-weighted deciles, poverty flags and the
probability of being under each line (`p_poor`, `p_extreme`; see `probability`). The flags here
are the threshold rule (predicted consumption under the line); with `welfare.flags =
"calibrated"` the pipeline replaces them by `headcounts.flag_families`.

Deciles follow BPS: families are ordered by predicted consumption per capita (poorest first,
ties by family_id) and each national decile holds a tenth of the PEOPLE. A family is in
decile d when the people of the families before it hold a share in [(d-1)/10, d/10) of all
ranked people. The same rule within each province and regency gives `decile_province` and
`decile_regency`; `rank_province` and `rank_regency` count families (1 = poorest).

A family with no living member (all deceased) is not ranked: its predicted consumption, deciles
and ranks are null, and no programme rule selects it.

The output columns are listed in RANKED_COLUMNS; `dtsen.welfare.targeting` and the release read
them.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine, typed
from dtsen.welfare.artefact import LINEAR_KINDS, ModelArtefact, ModelArtefactError
from dtsen.welfare.ols import score_expr
from dtsen.welfare.poverty import PovertyLines, line_exprs
from dtsen.welfare.probability import below_line_expr

RANKED_COLUMNS: tuple[str, ...] = (
    "family_id", "kk", "region_code", "province_code", "regency_code", "district_code", "urban",
    "persons", "size", "children", "elderly", "dependants", "working_age", "disabled", "members_deceased",
    "all_deceased", "head_person_id", "head_sex", "head_age", "head_education", "pkh", "bpnt", "pbi_jk",
    "predicted_consumption", "decile", "decile_province", "decile_regency", "rank_province", "rank_regency",
    "poverty_line", "extreme_line", "poor", "extreme_poor", "p_poor", "p_extreme", "model_id",
)  # fmt: skip


def predict_log(engine: Engine, artefact: ModelArtefact, features: ir.Table, work: Path, batch_rows: int) -> ir.Table:
    """(family_id, log_predicted) for every family of `features`, on the engine."""
    if artefact.kind in LINEAR_KINDS:
        if artefact.coefficients is None:
            raise ModelArtefactError(f"model {artefact.model_id} has no coefficients")
        return features.select("family_id", log_predicted=score_expr(artefact.coefficients, features))
    from dtsen.welfare.boosted import load_booster, score_boosted

    if artefact.path is None:
        raise ModelArtefactError(f"model {artefact.model_id} was never saved")
    booster = load_booster(artefact.path / "model.txt", artefact.booster_sha256)
    trees = score_boosted(engine, booster, artefact.predictors, features, work, batch_rows)
    if artefact.coefficients is None:  # trees from zero
        return trees
    # trees that start from the OLS prediction: add it back
    start = features.select(_fid=features.family_id, _start=score_expr(artefact.coefficients, features))
    j = trees.inner_join(start, trees.family_id == start._fid)
    return j.select("family_id", log_predicted=j.log_predicted + j._start)


def person_deciles(t: ir.Table, value: str, group_by: list[str] | None = None) -> ir.IntegerValue:
    """Person-weighted decile (1 = poorest) of `value` within `group_by`; null where value is."""
    order = [t[value], t.family_id]
    ranked = t[value].notnull()
    persons = ranked.ifelse(t.persons, 0)
    window = ibis.cumulative_window(group_by=group_by, order_by=order)
    total = persons.sum().over(ibis.window(group_by=group_by))
    before = persons.sum().over(window) - persons
    decile = (before * 10 // ibis.greatest(total, 1)).cast("int64") + 1
    return ranked.ifelse(ibis.least(decile, 10), ibis.null("int64"))


def family_ranks(t: ir.Table, value: str, group_by: list[str]) -> ir.IntegerValue:
    ranked = t[value].notnull()
    order = [ranked.ifelse(0, 1), t[value], t.family_id]
    rank = ibis.row_number().over(ibis.window(group_by=group_by, order_by=order)) + 1
    return ranked.ifelse(rank.cast("int64"), ibis.null("int64"))


def rank_families(
    families: ir.Table,
    features: ir.Table,
    predicted: ir.Table,
    lines: PovertyLines,
    model_id: str,
    residual_sd: float | None = None,
) -> ir.Table:
    """The ranked-families table (RANKED_COLUMNS) from the golden families, their features and
    the predicted ln consumption per capita. `poor` and `extreme_poor` are the threshold rule
    (predicted consumption under the line); `p_poor` and `p_extreme` the probabilities of being
    under each line given the model's residual spread (`probability`); `headcounts.flag_families`
    replaces the flags by the calibrated ones."""
    f = families.select(
        "family_id", "kk", "size", "children", "elderly", "dependants", "working_age", "disabled",
        "members_deceased", "all_deceased", "head_person_id", "head_sex",
        pkh=families.pkh.fill_null(False), bpnt=families.bpnt.fill_null(False),
        pbi_jk=families.pbi_jk.fill_null(False),
    )  # fmt: skip
    x = features.select(
        "family_id", "region_code", "province_code", "regency_code", "district_code", "urban", "persons",
        "head_age", head_education=features.head_education if "head_education" in features.columns
        else ibis.null("string"),
    )  # fmt: skip
    j = f.inner_join(x, "family_id").left_join(predicted, "family_id")
    j = j.select(*[c for c in j.columns if not c.endswith("_right")])
    alive = j.persons > 0
    j = j.mutate(predicted_consumption=alive.ifelse(j.log_predicted.exp(), ibis.null("float64")))
    poverty, extreme = line_exprs(lines, j)
    j = j.mutate(
        decile=person_deciles(j, "predicted_consumption"),
        decile_province=person_deciles(j, "predicted_consumption", ["province_code"]),
        decile_regency=person_deciles(j, "predicted_consumption", ["regency_code"]),
        rank_province=family_ranks(j, "predicted_consumption", ["province_code"]),
        rank_regency=family_ranks(j, "predicted_consumption", ["regency_code"]),
        poverty_line=poverty,
        extreme_line=extreme,
    )
    j = j.mutate(
        poor=(j.predicted_consumption < j.poverty_line).fill_null(False),
        extreme_poor=(j.predicted_consumption < j.extreme_line).fill_null(False),
        p_poor=below_line_expr(j.predicted_consumption, j.poverty_line, residual_sd),
        p_extreme=below_line_expr(j.predicted_consumption, j.extreme_line, residual_sd),
        model_id=ibis.literal(model_id),
        size=j.size.fill_null(0),
    )
    ints = ("persons", "size", "children", "elderly", "dependants", "working_age", "disabled", "members_deceased",
            "decile", "decile_province", "decile_regency", "rank_province", "rank_regency")
    floats = ("predicted_consumption", "poverty_line", "extreme_line", "head_age", "p_poor", "p_extreme")
    return typed(j.select(*RANKED_COLUMNS), {**dict.fromkeys(ints, "int64"), **dict.fromkeys(floats, "float64")})
