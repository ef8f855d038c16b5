"""Golden families: dwelling, assets and programmes by survivorship; composition derived.

A family is the people on one KK as the civil registry knows it, corrected by the other sources
(the linkage decides each person's `family_id` from the chosen KK). Its dwelling, utilities,
assets and programme memberships survive from the family-level records by the rules of
`[survivorship.family]` (the most recent observation by default). Its composition is derived
from the golden persons, never copied from a source's household size:

size            living members
members_deceased members marked deceased (a death reported by Dukcapil changes the family)
children        living members aged under 15 on the as-of date
elderly         living members aged 60 or more
dependants      children + elderly
working_age     living members aged 15 to 59
disabled        living members with a disability other than TIDAK
head_person_id  the living member whose relationship is KEPALA_KELUARGA, else the oldest
                living member (ties: the earlier birth date, then the smaller person_id)
head_sex        the head's sex
all_deceased    every known member is deceased (size 0)
kk              the chosen KK of most members (living first), else the family records' KK
region_code     the family records' (by the rules), else the head's

The head as a survey states it (`reported_head_sex`, `reported_head_age`,
`reported_head_education`) survives like the other family fields, under its own names: it is
what the records say, not the golden head person (`head_person_id`, `head_sex`); the PMT's head
predictors fall back on it only where the golden head's value is unknown.

Provenance rows of values derived from the members (kk, and region_code when it is the
head's) name the source `members`, with no record key.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from dtsen.consolidate.conflicts import Trust
from dtsen.consolidate.rules import SurvivorshipError, SurvivorshipSettings
from dtsen.consolidate.survivorship import GoldenTables, survive

if TYPE_CHECKING:
    from dtsen.engine import Engine

ENTITY_ID = "family_id"
DERIVED_SOURCE = "members"
HEAD = "KEPALA_KELUARGA"
NO_DISABILITY = "TIDAK"
CHILD_BELOW = 15
ELDERLY_FROM = 60

# The family fields that survive from family records (the head's NIK and name are not among
# them: the head is a member, `head_person_id`).
FAMILY_GOLDEN_FIELDS: tuple[str, ...] = (
    "kk",
    "region_code",
    "address",
    "rt",
    "rw",
    "household_size",
    "floor_area",
    "floor_type",
    "wall_type",
    "roof_type",
    "ownership",
    "water_source",
    "sanitation",
    "lighting",
    "electricity_va",
    "electricity_kwh",
    "cooking_fuel",
    "has_motorbike",
    "has_car",
    "has_fridge",
    "has_ac",
    "has_land",
    "livestock",
    "has_gold",
    "pkh",
    "bpnt",
    "pbi_jk",
    "consumption_per_capita",
    "survey_weight",
    # the head as a survey states it (not the golden head person: see `head_sex`, derived)
    "reported_head_sex",
    "reported_head_age",
    "reported_head_education",
    "family_status",  # AKTIF, TIDAK_DITEMUKAN or PINDAH: set only by approved field checks (dtsen.workflow)
)
COMPOSITION_FIELDS: tuple[str, ...] = (
    "size",
    "members_deceased",
    "children",
    "elderly",
    "dependants",
    "working_age",
    "disabled",
    "head_person_id",
    "head_sex",
    "all_deceased",
)
PERSON_COLUMNS = (
    "person_id",
    ENTITY_ID,
    "kk",
    "sex",
    "birth_date",
    "relationship",
    "disability",
    "is_deceased",
    "region_code",
)

_LAST_DATE = dt.date(9999, 12, 31)


def age_on(birth_date: ir.DateValue, as_of: dt.date) -> ir.IntegerValue:
    """Completed years on `as_of` (null when the birth date is)."""
    before_birthday = (birth_date.month() * 100 + birth_date.day()) > (as_of.month * 100 + as_of.day)
    return (as_of.year - birth_date.year() - before_birthday.cast("int64")).cast("int64")


def _count(cond: ir.BooleanValue) -> ir.IntegerScalar:
    return cond.fill_null(False).cast("int64").sum()


def composition(persons: ir.Table, as_of: dt.date) -> ir.Table:
    """Per family_id: the composition columns, derived from the golden persons."""
    p = persons.filter(persons[ENTITY_ID].notnull())
    p = p.mutate(_dead=p.is_deceased.fill_null(False), _age=age_on(p.birth_date, as_of))
    living = ~p._dead
    counts = p.group_by(_fid=p[ENTITY_ID].cast("int64")).aggregate(
        size=_count(living),
        members_deceased=_count(p._dead),
        children=_count(living & (p._age < CHILD_BELOW)),
        elderly=_count(living & (p._age >= ELDERLY_FROM)),
        working_age=_count(living & (p._age >= CHILD_BELOW) & (p._age < ELDERLY_FROM)),
        disabled=_count(living & p.disability.notnull() & (p.disability != NO_DISABILITY)),
    )
    alive = p.filter(living)
    order = [
        ibis.ifelse(alive.relationship == HEAD, 0, 1),
        alive.birth_date.fill_null(ibis.literal(_LAST_DATE)),
        alive.person_id,
    ]
    ranked = alive.mutate(_r=ibis.row_number().over(group_by=alive[ENTITY_ID], order_by=order))
    head = ranked.filter(ranked._r == 0).select(
        _hfid=ranked[ENTITY_ID].cast("int64"),
        head_person_id=ranked.person_id.cast("int64"),
        head_sex=ranked.sex,
        _head_region=ranked.region_code,
    )
    out = counts.left_join(head, counts._fid == head._hfid).drop("_hfid")
    return out.mutate(dependants=out.children + out.elderly, all_deceased=(out.size == 0) & (out.members_deceased > 0))


def members_kk(persons: ir.Table) -> ir.Table:
    """Per family_id: the chosen KK of most members (living members first, then all; ties:
    the smaller KK), with the latest date it was observed (`kk_observed_at`, when known)."""
    p = persons.filter(persons[ENTITY_ID].notnull() & persons.kk.notnull())
    seen = p.kk_observed_at if "kk_observed_at" in p.columns else ibis.null("date")
    p = p.mutate(_living=(~p.is_deceased.fill_null(False)).cast("int64"), _seen=seen)
    per_kk = p.group_by(_fid=p[ENTITY_ID].cast("int64"), _kk=p.kk).aggregate(
        _n_living=p._living.sum(), _n=p.count(), _seen=p._seen.max()
    )
    w = ibis.window(group_by=per_kk._fid, order_by=[per_kk._n_living.desc(), per_kk._n.desc(), per_kk._kk])
    ranked = per_kk.mutate(_r=ibis.row_number().over(w))
    return ranked.filter(ranked._r == 0).select("_fid", "_kk", "_seen")


def _derived_rows(t: ir.Table, field: str, value: ir.StringValue, seen: ir.DateValue) -> ir.Table:
    return t.select(
        entity=ibis.literal("family", "string"),
        id=t._fid.cast("int64"),
        field=ibis.literal(field, "string"),
        value=value.cast("string"),
        source=ibis.literal(DERIVED_SOURCE, "string"),
        record_key=ibis.null("string"),
        observed_at=seen.cast("date"),
        agreeing_sources=ibis.null("int64"),
        candidate_sources=ibis.null("int64"),
    )


def golden_families(
    family_records: ir.Table,
    persons: ir.Table,
    rules: SurvivorshipSettings,
    trust: Trust,
    as_of: dt.date,
    *,
    engine: Engine | None = None,
) -> GoldenTables:
    """Golden families from the family records (with `family_id`) and the golden persons
    (with `family_id`); composition on `as_of`.

    table: family_id, the golden fields (FAMILY_GOLDEN_FIELDS), the composition
    (COMPOSITION_FIELDS), sources and records (of the family records; 0 when none).
    """
    missing = [c for c in PERSON_COLUMNS if c not in persons.columns]
    if missing:
        raise SurvivorshipError(f"the golden persons lack the column(s) {', '.join(missing)} that families need")
    survived = survive(family_records, ENTITY_ID, FAMILY_GOLDEN_FIELDS, rules, "family", trust, engine=engine)
    golden = survived.table
    comp = composition(persons, as_of)
    mkk = members_kk(persons)

    ids = (
        family_records.select(_fid=family_records[ENTITY_ID].cast("int64"))
        .union(persons.select(_fid=persons[ENTITY_ID].cast("int64")))
        .filter(lambda t: t._fid.notnull())
        .distinct()
    )
    t = ids.left_join(golden, ids._fid == golden[ENTITY_ID]).drop(ENTITY_ID)
    t = t.left_join(comp, t._fid == comp._fid).drop("_fid_right")
    t = t.left_join(mkk, t._fid == mkk._fid).drop("_fid_right")

    columns: dict[str, ir.Value] = {ENTITY_ID: t._fid}
    for f in FAMILY_GOLDEN_FIELDS:
        columns[f] = t[f]
    columns["kk"] = t._kk.fill_null(t.kk)
    columns["region_code"] = t.region_code.fill_null(t._head_region)
    zero = ibis.literal(0, "int64")
    for f in ("size", "members_deceased", "children", "elderly", "dependants", "working_age", "disabled"):
        columns[f] = t[f].fill_null(zero)
    columns["head_person_id"] = t.head_person_id
    columns["head_sex"] = t.head_sex
    columns["all_deceased"] = t.all_deceased.fill_null(False)
    columns["sources"] = t.sources.fill_null(zero)
    columns["records"] = t.records.fill_null(zero)
    table = t.select(**columns)

    # provenance: the survivors, with the KK and the fallback region derived from the members
    prov = survived.provenance
    from_members = mkk.select(id=mkk._fid, field=ibis.literal("kk", "string"))
    region_from_head = t.filter(t.region_code.isnull() & t._head_region.notnull())
    prov = ibis.union(
        prov.anti_join(from_members, ["id", "field"]),
        _derived_rows(mkk, "kk", mkk._kk, mkk._seen),
        _derived_rows(region_from_head, "region_code", region_from_head._head_region, ibis.null("date")),
        distinct=False,
    )
    return GoldenTables(table=table, provenance=prov, conflicts=survived.conflicts)
