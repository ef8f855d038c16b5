"""The conflict table: trusted sources that disagree on something that matters.

A conflict is a value held by a trusted source (trust >= 0.7 for that field, from the source
mappings' `trust`; a field without a trust is 0.5) that differs from the chosen value, while
the chosen value is itself held by a trusted source: two trusted sources disagree, and a ground
check should settle it. Only fields that matter are checked: for persons the birth date, sex,
family membership (KK) and death; for families the assets and housing that move a family's
welfare rank. A floor area differs only when the two areas differ by more than 25% of the
larger one. Besides, whatever the trust: a record whose own NIK contradicts its birth date or
sex (`contradicts_identifier` of the candidates), when that value lost to another.

Columns: entity, id, field, chosen_value, chosen_source, other_value, other_source,
other_observed_at; one row per entity, field, other source and other value.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from dtsen.schema import Level

Trust = Mapping[str, Mapping[str, float]]

TRUSTED = 0.7
MISSING_TRUST = 0.5

# field -> relative tolerance (None: any difference counts)
CONFLICT_FIELDS: dict[Level, dict[str, float | None]] = {
    "person": {"birth_date": None, "sex": None, "kk": None, "is_deceased": None},
    "family": {
        "has_car": None,
        "has_motorbike": None,
        "has_fridge": None,
        "has_ac": None,
        "has_land": None,
        "has_gold": None,
        "electricity_va": None,
        "floor_type": None,
        "floor_area": 0.25,
        "livestock": None,
    },
}


def trusted_sources(trust: Trust, field: str, min_trust: float = TRUSTED) -> list[str]:
    """The sources whose trust for `field` reaches `min_trust` (a missing trust is 0.5)."""
    return sorted(s for s, per_field in trust.items() if per_field.get(field, MISSING_TRUST) >= min_trust)


def _differs(value: ir.StringValue, chosen: ir.StringValue, tolerance: float | None) -> ir.BooleanValue:
    if tolerance is None:
        return value != chosen
    a = value.try_cast("float64")
    b = chosen.try_cast("float64")
    return (a - b).abs() > ibis.greatest(a.abs(), b.abs()) * tolerance


def find_conflicts(
    candidates: ir.Table,
    level: Level,
    trust: Trust,
    fields: Mapping[str, float | None] | None = None,
    min_trust: float = TRUSTED,
) -> ir.Table:
    """Conflicts among ranked candidates (`Survived.candidates`: id, field, value, source,
    record_key, observed_at, rank with 0 for the chosen value)."""
    checked = dict(CONFLICT_FIELDS[level] if fields is None else fields)
    trusted_by_field = {f: trusted_sources(trust, f, min_trust) for f in checked}
    conds = [(candidates.field == f) & candidates.source.isin(srcs) for f, srcs in trusted_by_field.items() if srcs]
    c = candidates.filter(candidates.field.isin(list(checked)))
    trusted: ir.BooleanValue = ibis.literal(False)
    for cond in conds:
        trusted = trusted | cond
    c = c.mutate(_trusted=trusted.fill_null(False))

    chosen = c.filter(c["rank"] == 0).select("id", "field", chosen_value=c.value, chosen_source=c.source)
    j = c.join(chosen, ["id", "field"])
    differs = j.value != j.chosen_value
    for f, tol in checked.items():
        if tol is not None:
            differs = ibis.ifelse(j.field == f, _differs(j.value, j.chosen_value, tol), differs)
    j = j.mutate(_differs=differs.fill_null(False))
    backed = j.group_by(["id", "field"]).aggregate(_backed=(j._trusted & ~j._differs).cast("int64").max())
    j = j.join(backed, ["id", "field"])
    between_trusted = j._trusted & j._differs & (j.source != j.chosen_source) & (j._backed == 1)
    if "contradicts_identifier" in j.columns:
        # a record whose own NIK says otherwise (a mistyped birth year, a miscoded sex), whatever
        # the source's trust: the NIK linked it to the person, and its value lost
        against_nik = j.contradicts_identifier.fill_null(False) & j._differs
        between_trusted = between_trusted | against_nik
    rows = j.filter(between_trusted)
    return (
        rows.group_by(["id", "field", "chosen_value", "chosen_source", "source", "value"])
        .aggregate(other_observed_at=rows.observed_at.max())
        .select(
            entity=ibis.literal(level, "string"),
            id="id",
            field="field",
            chosen_value="chosen_value",
            chosen_source="chosen_source",
            other_value="value",
            other_source="source",
            other_observed_at="other_observed_at",
        )
    )
