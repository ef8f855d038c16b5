"""Per-region counts for summaries, computed once per release at every level.

One row per region (national "", each province, regency, district and village that has a
person or a family), with raw counts: the serving layer suppresses small ones when it shows
them (`dtsen.quality.suppress`), never here. Persons are counted where the person lives,
families where the family lives; family persons are the family's living members (`size`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.engine import typed

DECILES = tuple(range(1, 11))
LEVELS = (("national", 0), ("province", 2), ("regency", 5), ("district", 8), ("village", 13))
PERSON_COUNTS = ("persons", "persons_living", "persons_deceased", "persons_with_nik")
FAMILY_COUNTS = (
    "families", "families_ranked", "family_persons", "poor_families", "poor_persons", "extreme_families",
    "extreme_persons", "pkh_families", "bpnt_families", "pbi_jk_families",
    *(f"decile_{d}_families" for d in DECILES), *(f"decile_{d}_persons" for d in DECILES),
)  # fmt: skip
COUNTS = PERSON_COUNTS + FAMILY_COUNTS


def _village_persons(persons: ir.Table) -> ir.Table:
    p = persons.mutate(_r=persons.region_code.fill_null(""), _dead=persons.is_deceased.fill_null(False))
    return p.group_by("_r").aggregate(
        persons=p.count(),
        persons_living=(~p._dead).cast("int64").sum(),
        persons_deceased=p._dead.cast("int64").sum(),
        persons_with_nik=p.nik.notnull().cast("int64").sum(),
    )


def _village_families(families: ir.Table) -> ir.Table:
    f = families.mutate(_r=families.region_code.fill_null(""), _n=families["size"].fill_null(0).cast("int64"))

    def flag(c: str) -> ir.IntegerValue:
        return f[c].fill_null(False).cast("int64")

    deciles = {}
    for d in DECILES:
        hit = (f.decile == d).fill_null(False)
        deciles[f"decile_{d}_families"] = hit.cast("int64").sum()
        deciles[f"decile_{d}_persons"] = hit.ifelse(f._n, 0).sum()
    return f.group_by("_r").aggregate(
        families=f.count(),
        families_ranked=f.decile.notnull().cast("int64").sum(),
        family_persons=f._n.sum(),
        poor_families=flag("poor").sum(),
        poor_persons=(flag("poor") * f._n).sum(),
        extreme_families=flag("extreme_poor").sum(),
        extreme_persons=(flag("extreme_poor") * f._n).sum(),
        pkh_families=flag("pkh").sum(),
        bpnt_families=flag("bpnt").sum(),
        pbi_jk_families=flag("pbi_jk").sum(),
        **deciles,
    )


def region_aggregates(persons: ir.Table, families: ir.Table) -> ir.Table:
    """level, region and COUNTS for every region at every level (see the module docstring)."""
    vp, vf = _village_persons(persons), _village_families(families)
    v = vp.outer_join(vf, vp._r == vf._r)
    v = v.select(_r=ibis.coalesce(v._r, v._r_right), **{c: v[c].fill_null(0) for c in COUNTS})
    parts = []
    for level, width in LEVELS:
        if width == 0:
            t = v.mutate(region=ibis.literal(""))
        else:
            # a code shorter than the level (or none) belongs to no region at that level
            t = v.filter(v._r.length() >= width).mutate(region=v._r.left(width))
        agg = t.group_by("region").aggregate(**{c: t[c].sum() for c in COUNTS})
        parts.append(agg.mutate(level=ibis.literal(level)).select("level", "region", *COUNTS))
    out = typed(ibis.union(*parts, distinct=False), dict.fromkeys(COUNTS, "int64"))
    return out.order_by(["region"])
