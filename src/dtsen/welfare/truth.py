"""The synthetic truth of welfare: every true family's consumption, and the golden family it became.

`dtsen synth` writes the true families (`truth/families.parquet`: true consumption per capita,
poverty flags, living members) and, for every source record, the true person and family it came
from (`truth/records.parquet`). The linkage writes, for every accepted record, the golden
family it was put in (`links.parquet`). Joining the two on (source, file, sheet, row) says which
true family each golden family is, so that a ranking of golden families can be scored against
the true consumption.

Definitions (all computed on the engine):

votes           every linked record with a golden `family_id` and a true family votes, for
                its golden family, for its true family (a person record for the family of its
                true person, a family record for its own true family).
true_family_id  of a golden family: the true family with the most votes (ties: the smaller
                true family id); null when none of its records has a true family.
duplicate       a golden family whose true family is also claimed by another golden family
                with more votes for it (ties: the smaller golden family_id keeps it). The
                keeper is not a duplicate; each true family maps to at most one golden family.
family_id       of a true family: the golden family that keeps it, or null when the registry
                has none (all its records were quarantined, or each was outvoted elsewhere).
welfare_change  how the family's welfare moved since the census (`dtsen.synth.welfare`: death,
                job_loss, new_earner, move), null when it did not or the truth predates it.
true_decile     person-weighted national decile of the true consumption per capita over the
                true families with a living member: families are ordered poorest first (ties
                by true_family_id) and a family is in decile d when the people of the families
                before it hold a share in [(d-1)/10, d/10) of all their people. This is the
                rule of `dtsen.welfare.ranking` for predicted consumption.

Only true families with at least one living member on the as-of date (`living_members > 0`)
are in `family_truth`: a family whose members all died is no one to target.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.link.evaluation import TruthError, _check_links, _link_predicates, _sheet_key

FAMILIES_FILE = "families.parquet"
TRUTH_FAMILY_COLUMNS: tuple[str, ...] = (
    "family_id",
    "consumption_per_capita",
    "poor",
    "extreme_poor",
    "living_members",
    "household_size",
    "region_code",
)
GOLDEN_TRUTH_COLUMNS: tuple[str, ...] = ("family_id", "true_family_id", "duplicate", "records", "true_records")
FAMILY_TRUTH_COLUMNS: tuple[str, ...] = (
    "true_family_id",
    "family_id",
    "true_consumption",
    "true_persons",
    "true_poor",
    "true_extreme_poor",
    "true_decile",
    "region_code",
    "welfare_change",
)
_RECORD_COLUMNS = ("source", "file", "sheet", "row", "family_id")
_LINK_COLUMNS = ("source", "file", "sheet", "row", "family_id")


def load_truth_families(engine: Engine, truth_dir: Path) -> ir.Table:
    """Read the true families written by `dtsen synth` (`truth_dir` is DIR/truth or DIR itself)."""
    truth_dir = Path(truth_dir)
    candidates = [truth_dir / FAMILIES_FILE, truth_dir / "truth" / FAMILIES_FILE]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise TruthError(
            f"no true families at {candidates[0]}: the welfare evaluation against the truth works on "
            "data made by `dtsen synth`"
        )
    table = engine.read_parquet(path)
    missing = [c for c in TRUTH_FAMILY_COLUMNS if c not in table.columns]
    if missing:
        raise TruthError(f"{path}: the true families lack the column(s) {', '.join(missing)}")
    return table


def _require(t: ir.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise TruthError(f"the {what} lack the column(s) {', '.join(missing)}")


def _votes(links: ir.Table, truth_records: ir.Table) -> ir.Table:
    """(_gfid, _tfid, _n): linked records of golden family _gfid that belong to true family _tfid,
    plus `_records` (all linked records of the golden family)."""
    t = truth_records.mutate(_sheet=_sheet_key(truth_records), row=truth_records.row.cast("int64"))
    truth = t.select("source", "file", "_sheet", "row", _tfid=t.family_id.cast("int64"))
    lk = links.select(
        _l_source=links.source,
        _l_file=links.file,
        _l_sheet=_sheet_key(links),
        _l_row=links.row.cast("int64"),
        _gfid=links.family_id.cast("int64"),
    )
    _check_links(lk, truth)
    lk = lk.filter(lk._gfid.notnull())
    j = lk.left_join(truth, _link_predicates(truth, lk))
    per_golden = j.group_by("_gfid").aggregate(_records=j.count())
    voting = j.filter(j._tfid.notnull())
    cells = voting.group_by(["_gfid", "_tfid"]).aggregate(_n=voting.count())
    return per_golden.left_join(cells, "_gfid").drop("_gfid_right")


def golden_family_truth(engine: Engine, links: ir.Table, truth_records: ir.Table) -> ir.Table:
    """Per golden family (every `family_id` of the links): family_id, true_family_id (null when
    none of its records has a true family), duplicate (another golden family keeps that true
    family), records (its linked records) and true_records (of which from true_family_id)."""
    _require(links, _LINK_COLUMNS, "links")
    _require(truth_records, _RECORD_COLUMNS, "truth records")
    votes = engine.materialize(_votes(links, truth_records))
    best_w = ibis.window(group_by=votes._gfid, order_by=[votes._n.desc(), votes._tfid])
    best = votes.mutate(_r=ibis.row_number().over(best_w))
    best = best.filter(best._r == 0)
    # rows with no votes have a null _tfid and _n: they stay, as golden families mapping to nothing
    claim_w = ibis.window(group_by=best._tfid, order_by=[best._n.desc(), best._gfid])
    claims = best.mutate(_claim=ibis.row_number().over(claim_w))
    return claims.select(
        family_id=claims._gfid,
        true_family_id=claims._tfid,
        duplicate=(claims._tfid.notnull() & (claims._claim > 0)).fill_null(False),
        records=claims._records.cast("int64"),
        true_records=claims._n.fill_null(0).cast("int64"),
    )


def true_deciles(t: ir.Table, value: str, persons: str, order_id: str) -> ir.IntegerValue:
    """Person-weighted national decile (1 = poorest) of `value`, ties by `order_id`; null where
    `value` is null (such a row weighs nothing, wherever the engine sorts its nulls)."""
    ranked = t[value].notnull()
    weight = ranked.ifelse(t[persons], 0).cast("int64")
    before = weight.sum().over(ibis.cumulative_window(order_by=[t[value], t[order_id]])) - weight
    total = weight.sum().over(ibis.window())
    decile = (before * 10 // ibis.greatest(total, 1)).cast("int64") + 1
    return ranked.ifelse(ibis.least(decile, 10), ibis.null("int64"))


def family_truth(
    engine: Engine,
    links: ir.Table,
    truth_records: ir.Table,
    truth_families: ir.Table,
    *,
    golden: ir.Table | None = None,
) -> ir.Table:
    """One row per true family with a living member (FAMILY_TRUTH_COLUMNS): its true consumption,
    people, poverty flags and person-weighted decile, and the golden family that keeps it.

    `golden` is the output of `golden_family_truth` when the caller has it already."""
    _require(truth_families, TRUTH_FAMILY_COLUMNS, "true families")
    if golden is None:
        golden = golden_family_truth(engine, links, truth_records)
    keepers = golden.filter(golden.true_family_id.notnull() & ~golden.duplicate).select(
        _k_true=golden.true_family_id, _k_family=golden.family_id
    )
    f = truth_families.filter(truth_families.living_members > 0)
    f = f.select(
        true_family_id=f.family_id.cast("int64"),
        true_consumption=f.consumption_per_capita.cast("float64"),
        true_persons=f.living_members.cast("int64"),
        true_poor=f.poor.cast("boolean"),
        true_extreme_poor=f.extreme_poor.cast("boolean"),
        region_code=f.region_code.cast("string"),
        welfare_change=f.welfare_change.cast("string") if "welfare_change" in f.columns else ibis.null("string"),
    )
    j = f.left_join(keepers, f.true_family_id == keepers._k_true)
    j = j.mutate(
        family_id=j._k_family, true_decile=true_deciles(j, "true_consumption", "true_persons", "true_family_id")
    )
    return j.select(*FAMILY_TRUTH_COLUMNS)
