"""Current recipients against the ranking: who receives but ranks well-off, who is left out.

The programme memberships of the ranked-families table (pkh, bpnt, pbi_jk: what the programme
sources say a family receives now) are compared with its national decile and its
extreme-poverty flag, both by predicted consumption:

leakage        a family that receives a programme but is ranked in desil 6-10
undercoverage  an extremely poor family (extreme_poor) that receives none of the three

The lists go to the regional governments for ground checks; the report counts them by region.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.engine import as_int64
from dtsen.errors import DtsenError

PROGRAMMES: tuple[str, ...] = ("pkh", "bpnt", "pbi_jk")
ANY = "any"  # the report's row for "at least one of the three programmes"
NATIONAL = "ALL"  # the report's region for the whole country
REGION_LEVELS: tuple[str, ...] = ("province_code", "regency_code", "district_code", "region_code")
LEAKAGE_DECILES: tuple[int, int] = (6, 10)
LIST_COLUMNS: tuple[str, ...] = (
    "family_id",
    "kk",
    "region_code",
    "province_code",
    "regency_code",
    "district_code",
    "decile",
    "predicted_consumption",
    "persons",
    *PROGRAMMES,
)
REPORT_COLUMNS: tuple[str, ...] = (
    "region",
    "programme",
    "families",
    "families_receiving",
    "persons_receiving",
    "receiving_desil_6_10",
    "share_desil_6_10",
    "receiving_unranked",
    "extreme_poor_families",
    "extreme_poor_not_receiving",
    "extreme_poor_receiving_none",
)


class RecipientReportError(DtsenError):
    """The ranked table cannot give the current-recipient report (a column is missing)."""


def _require(ranked: ir.Table, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in ranked.columns]
    if missing:
        raise RecipientReportError(
            f"the ranked table lacks the column(s) {', '.join(missing)} needed for the recipient report"
        )


def _flags(ranked: ir.Table) -> dict[str, ir.BooleanValue]:
    """Each programme's membership, null read as not receiving, and ANY of them."""
    flags = {p: ranked[p].fill_null(False) for p in PROGRAMMES}
    flags[ANY] = ibis.or_(*flags.values())
    return flags


def _leaked(ranked: ir.Table) -> ir.BooleanValue:
    lo, hi = LEAKAGE_DECILES
    return ranked.decile.between(lo, hi).fill_null(False)


def current_recipient_report(ranked: ir.Table, by: str = "regency_code") -> ir.Table:
    """Current recipients per region and programme, in long form (REPORT_COLUMNS).

    One row per region (the values of column `by`, plus NATIONAL = "ALL" for the country) and
    programme (pkh, bpnt, pbi_jk, and ANY = "any" for receiving at least one of them):

    families                     golden families in the region (all of them, ranked or not)
    families_receiving           families receiving the programme
    persons_receiving            their living members (persons)
    receiving_desil_6_10         families receiving it and ranked in national desil 6-10
    share_desil_6_10             receiving_desil_6_10 / families_receiving (null when none receive)
    receiving_unranked           families receiving it without a decile (no living member:
                                 often a family whose members all died, still paid)
    extreme_poor_families        extremely poor families (extreme_poor) in the region
    extreme_poor_not_receiving   of them, those not receiving this programme
    extreme_poor_receiving_none  of them, those receiving none of the three programmes (the
                                 same on every programme row of a region)

    Rows are ordered by region, then programme.
    """
    if by not in REGION_LEVELS:
        raise RecipientReportError(f"the report groups by one of {', '.join(REGION_LEVELS)}, not {by!r}")
    _require(ranked, (by, "decile", "persons", "extreme_poor", *PROGRAMMES))
    flags = _flags(ranked)
    extreme = ranked.extreme_poor.fill_null(False)
    leaked = _leaked(ranked)
    unranked = ranked.decile.isnull()
    persons = ranked.persons.fill_null(0)

    def count(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return as_int64(cond.ifelse(1, 0).sum())

    # one pass over the families: every figure of every programme as its own column
    sums: dict[str, ir.Scalar] = {
        "families": as_int64(ranked.count()),
        "extreme_poor_families": count(extreme),
        "extreme_poor_receiving_none": count(extreme & ~flags[ANY]),
    }
    for p, receiving in flags.items():
        sums[f"{p}__families_receiving"] = count(receiving)
        sums[f"{p}__persons_receiving"] = as_int64(receiving.ifelse(persons, 0).sum())
        sums[f"{p}__receiving_desil_6_10"] = count(receiving & leaked)
        sums[f"{p}__receiving_unranked"] = count(receiving & unranked)
        sums[f"{p}__extreme_poor_not_receiving"] = count(extreme & ~receiving)
    regional = ranked.group_by(region=ranked[by].cast("string")).aggregate(**sums)
    national = regional.aggregate(
        region=ibis.literal(NATIONAL, type="string"),
        **{name: as_int64(regional[name].sum()) for name in sums},
    )
    wide = ibis.union(regional, national.select(*regional.columns), distinct=False)
    shared = ("families", "extreme_poor_families", "extreme_poor_receiving_none")
    per_programme = (
        "families_receiving",
        "persons_receiving",
        "receiving_desil_6_10",
        "receiving_unranked",
        "extreme_poor_not_receiving",
    )
    long = ibis.union(
        *[
            wide.select(
                "region",
                *shared,
                programme=ibis.literal(p, type="string"),
                **{name: wide[f"{p}__{name}"] for name in per_programme},
            )
            for p in flags
        ],
        distinct=False,
    )
    share = (long.families_receiving > 0).ifelse(
        long.receiving_desil_6_10.cast("float64") / long.families_receiving.cast("float64"),
        ibis.null("float64"),
    )
    return long.mutate(share_desil_6_10=share).select(*REPORT_COLUMNS).order_by(["region", "programme"])


def _list(ranked: ir.Table, keep: ir.BooleanValue) -> ir.Table:
    _require(ranked, (*LIST_COLUMNS, "extreme_poor"))
    t = ranked.filter(keep)
    return t.select(
        family_id=t.family_id.cast("int64"),
        kk=t.kk.cast("string"),
        region_code=t.region_code.cast("string"),
        province_code=t.province_code.cast("string"),
        regency_code=t.regency_code.cast("string"),
        district_code=t.district_code.cast("string"),
        decile=t.decile.cast("int64"),
        predicted_consumption=t.predicted_consumption.cast("float64"),
        persons=t.persons.cast("int64"),
        pkh=t.pkh.fill_null(False),
        bpnt=t.bpnt.fill_null(False),
        pbi_jk=t.pbi_jk.fill_null(False),
    )


def leakage_list(ranked: ir.Table) -> ir.Table:
    """Families receiving at least one programme while ranked in national desil 6-10
    (LIST_COLUMNS), by region code, the best-off first (then family_id)."""
    _require(ranked, ("decile", *PROGRAMMES))
    t = _list(ranked, _flags(ranked)[ANY] & _leaked(ranked))
    return t.order_by([t.region_code, t.predicted_consumption.desc(), t.family_id])


def undercoverage_list(ranked: ir.Table) -> ir.Table:
    """Extremely poor families (extreme_poor) receiving none of pkh, bpnt, pbi_jk (LIST_COLUMNS),
    by region code, the poorest first (then family_id)."""
    _require(ranked, ("extreme_poor", *PROGRAMMES))
    t = _list(ranked, ranked.extreme_poor.fill_null(False) & ~_flags(ranked)[ANY])
    return t.order_by([t.region_code, t.predicted_consumption, t.family_id])
