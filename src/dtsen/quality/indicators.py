"""Data-quality indicators per region and per source, in long format, computed on the engine.

`indicators(engine, tables, settings)` returns one Ibis table with one row per
(level, region, source, indicator) and the columns

    level        "village" | "district" | "regency" | "province" | "national" | "source"
    region       the dotted region code at that level ("PP.KK.CC.DDDD", "PP.KK.CC", "PP.KK",
                 "PP"), or "ALL" for the levels "national" and "source"
    source       "ALL", or the source's name for the level "source"
    indicator    the indicator's name (below)
    numerator    int64
    denominator  int64
    value        float64: numerator / denominator, null when the denominator is 0

Region of a person or family = its golden `region_code` (the village). Village rows are
summed up the hierarchy: district = the first 8 characters of the code, regency = the first 5,
province = the first 2, national = everything. A person or family without a region code counts
in the national figures only.

Indicators of golden persons (denominator: golden persons, deceased included, unless stated):

completeness_<f>       for f in nik, kk, birth_date, region_code, address: persons whose field
                       f is not null.
completeness_persons   present cells over the five fields above / (persons x 5).
nik_valid              persons with a NIK (golden NIKs were validated at ingest, so a present
                       NIK is a valid one).
dukcapil_confirmed     persons with at least one linked record from the civil-registry source
                       (`registry_source`, "dukcapil" by default).
duplicates_found       numerator: person-level source records that were merged into a person
                       already holding a record of the same source (a person with n records of
                       one source contributes n - 1); denominator: person-level linked records.
conflicts_persons      persons with at least one row in `conflicts` (entity "person").
deceased_pbi           deceased persons (is_deceased) with a linked record from the PBI-JK
                       membership source (`pbi_source`, "bpjs" by default); denominator:
                       persons with a linked record from that source.

Indicators of golden families (denominator: golden families, unless stated):

completeness_<f>       for each welfare field f in FAMILY_WELFARE_FIELDS (floor_area,
                       floor_type, ..., has_gold): families whose field f is not null.
completeness_families  present cells over those fields / (families x fields).
conflicts_families     families with at least one row in `conflicts` (entity "family").
stale_families         families whose newest observation (the largest `observed_at` over all
                       records linked to the family, person-level and family-level) is more than
                       `settings.stale_after_days` days before the registry's as-of date;
                       denominator: families with at least one dated linked record.
staleness_mean_days    the mean age in days of the newest observation: numerator = the sum of
                       the ages in days, denominator = families with a dated linked record.
deceased_recipients    families listed as programme recipients (pkh, bpnt or pbi_jk true) that
                       are all deceased or have a deceased member; denominator: recipient
                       families.
field_checked          families with a linked record from a field-check source (a source whose
                       name starts with "cek_lapangan").

Indicators per source (level "source", region "ALL"):

quarantined            rows quarantined / rows read (rows read = accepted + quarantined).
linked                 accepted records linked to a person or family / accepted records.
duplicates_found       as above, for the source's person-level records.
conflicts              conflict rows whose `other_source` is the source / accepted records.
completeness_mapped    present cells over the canonical fields the source maps / (accepted
                       records x mapped fields).
completeness_<f>       for each canonical field f the source maps: its records with f present.

The fields a source maps are given by `mapped_fields` (source -> canonical fields, e.g. from the
project file's `columns`; `village_name` and `district_code` count as `region_code`); for a
source not in it, the canonical fields that are present in at least one of its records.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.release.settings import QualitySettings
from dtsen.release.tables import ReleaseTables, linked_record_dates
from dtsen.schema import FAMILY_FIELDS, PERSON_FIELDS

INDICATOR_COLUMNS: tuple[str, ...] = ("level", "region", "source", "indicator", "numerator", "denominator", "value")
LEVELS: tuple[str, ...] = ("village", "district", "regency", "province", "national", "source")
# Length of the dotted code prefix that names the region at each geographic level.
CODE_LENGTH: dict[str, int] = {"village": 13, "district": 8, "regency": 5, "province": 2}
ALL = "ALL"

PERSON_KEY_FIELDS: tuple[str, ...] = ("nik", "kk", "birth_date", "region_code", "address")
FAMILY_WELFARE_FIELDS: tuple[str, ...] = (
    "floor_area",
    "floor_type",
    "wall_type",
    "roof_type",
    "ownership",
    "water_source",
    "sanitation",
    "lighting",
    "electricity_va",
    "cooking_fuel",
    "has_motorbike",
    "has_car",
    "has_fridge",
    "has_ac",
    "has_land",
    "livestock",
    "has_gold",
)
FIELD_CHECK_PREFIX = "cek_lapangan"
# Canonical fields a source can map, as they stand in its accepted records. Left out:
# `observed_at` (it defaults to the source's as-of date) and `death_date` (present only for the
# deceased); the name-resolution helpers fold into `region_code`.
_RESOLVED_AS = {"village_name": "region_code", "district_code": "region_code"}
_CONDITIONAL = ("observed_at", "death_date")
_SOURCE_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        f.name for f in (*PERSON_FIELDS, *FAMILY_FIELDS) if f.name not in _RESOLVED_AS and f.name not in _CONDITIONAL
    )
)
_KEY = ("source", "file", "sheet", "row")

Spec = tuple[str, str, str]  # (indicator, numerator column, denominator column)


def indicators(
    engine: Engine,
    tables: ReleaseTables,
    settings: QualitySettings,
    *,
    registry_source: str = "dukcapil",
    pbi_source: str = "bpjs",
    mapped_fields: Mapping[str, Collection[str]] | None = None,
) -> ir.Table:
    """The quality indicators of a release, long format (see the module docstring)."""
    village = engine.materialize(_village_long(tables, settings, registry_source, pbi_source))
    parts = [_roll_up(village, level) for level in ("village", "district", "regency", "province", "national")]
    parts.append(_finish(_source_long(engine, tables, mapped_fields or {}), "source"))
    return ibis.union(*parts).order_by("level", "region", "source", "indicator")


# -- geographic levels -------------------------------------------------------------------------
def _flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    return cond.fill_null(False).ifelse(1, 0).cast("int64")


def _as_long(table: ir.Table, keys: Sequence[str], specs: Sequence[Spec]) -> ir.Table:
    """Unpivot (keys..., counts...) into (keys..., indicator, numerator, denominator)."""
    items = ibis.array(
        [
            ibis.struct(
                {
                    "indicator": ibis.literal(name),
                    "numerator": table[num].cast("int64"),
                    "denominator": table[den].cast("int64"),
                }
            )
            for name, num, den in specs
        ]
    )
    return table.select(*keys, _item=items.unnest()).unpack("_item")


def _person_units(tables: ReleaseTables, registry_source: str, pbi_source: str) -> ir.Table:
    """One row per golden person: its region and 0/1 (or count) columns."""
    links = tables.links.filter(tables.links.person_id.notnull() & (tables.links.level == "person"))
    per_source = links.group_by(_pid=links.person_id, _src=links.source).aggregate(_n=links.count())
    per_person = per_source.group_by("_pid").aggregate(
        _records=per_source._n.sum(),
        _dups=(per_source._n - 1).sum(),
        _registry=_flag(per_source._src == registry_source).max(),
        _pbi=_flag(per_source._src == pbi_source).max(),
    )
    conflicted = tables.conflicts.filter(tables.conflicts.entity == "person")
    conflicted = conflicted.select(_cid=conflicted.id).distinct()
    p = tables.persons
    j = p.left_join(per_person, p.person_id == per_person._pid).left_join(conflicted, p.person_id == conflicted._cid)
    deceased = _flag(j.is_deceased)
    pbi = j._pbi.fill_null(0).cast("int64")
    present = {f"has_{f}": _flag(j[f].notnull()) for f in PERSON_KEY_FIELDS}
    return j.select(
        region_code=j.region_code,
        one=ibis.literal(1).cast("int64"),
        **present,
        cells=sum((c for c in present.values()), ibis.literal(0).cast("int64")),
        cells_total=ibis.literal(len(PERSON_KEY_FIELDS)).cast("int64"),
        registry=j._registry.fill_null(0).cast("int64"),
        records=j._records.fill_null(0).cast("int64"),
        dups=j._dups.fill_null(0).cast("int64"),
        conflict=_flag(j._cid.notnull()),
        pbi=pbi,
        deceased_pbi=deceased * pbi,
    )


def _newest_observation(tables: ReleaseTables) -> ir.Table | None:
    """Per family_id: the newest observed_at of the records linked to it."""
    dates = linked_record_dates(tables)
    if dates is None:
        return None
    return dates.group_by(_fid=dates.family_id).aggregate(_newest=dates.observed_at.max())


def _family_units(tables: ReleaseTables, settings: QualitySettings) -> ir.Table:
    """One row per golden family: its region and 0/1 (or count) columns."""
    f = tables.families
    links = tables.links.filter(tables.links.family_id.notnull())
    checked = links.filter(links.source.startswith(FIELD_CHECK_PREFIX)).select(_chk=links.family_id).distinct()
    conflicted = tables.conflicts.filter(tables.conflicts.entity == "family")
    conflicted = conflicted.select(_cid=conflicted.id).distinct()
    j = f.left_join(checked, f.family_id == checked._chk).left_join(conflicted, f.family_id == conflicted._cid)
    newest = _newest_observation(tables)
    if newest is not None:
        j = j.left_join(newest, j.family_id == newest._fid)
        age = ibis.literal(tables.as_of).delta(j._newest, unit="day").cast("int64")
    else:
        age = ibis.null("int64")
    dated = _flag(age.notnull())
    recipient = j.pkh.fill_null(False) | j.bpnt.fill_null(False) | j.pbi_jk.fill_null(False)
    deceased = j.all_deceased.fill_null(False) | (j.members_deceased.fill_null(0) > 0)
    present = {f"has_{c}": _flag(j[c].notnull()) for c in FAMILY_WELFARE_FIELDS}
    return j.select(
        region_code=j.region_code,
        one=ibis.literal(1).cast("int64"),
        **present,
        cells=sum((c for c in present.values()), ibis.literal(0).cast("int64")),
        cells_total=ibis.literal(len(FAMILY_WELFARE_FIELDS)).cast("int64"),
        conflict=_flag(j._cid.notnull()),
        dated=dated,
        stale=_flag(age > settings.stale_after_days),
        age_days=age.fill_null(0),
        recipient=_flag(recipient),
        deceased_recipient=_flag(recipient & deceased),
        field_checked=_flag(j._chk.notnull()),
    )


PERSON_SPECS: tuple[Spec, ...] = (
    *((f"completeness_{f}", f"has_{f}", "one") for f in PERSON_KEY_FIELDS),
    ("completeness_persons", "cells", "cells_total"),
    ("nik_valid", "has_nik", "one"),
    ("dukcapil_confirmed", "registry", "one"),
    ("duplicates_found", "dups", "records"),
    ("conflicts_persons", "conflict", "one"),
    ("deceased_pbi", "deceased_pbi", "pbi"),
)
FAMILY_SPECS: tuple[Spec, ...] = (
    *((f"completeness_{f}", f"has_{f}", "one") for f in FAMILY_WELFARE_FIELDS),
    ("completeness_families", "cells", "cells_total"),
    ("conflicts_families", "conflict", "one"),
    ("stale_families", "stale", "dated"),
    ("staleness_mean_days", "age_days", "dated"),
    ("deceased_recipients", "deceased_recipient", "recipient"),
    ("field_checked", "field_checked", "one"),
)


def _by_village(units: ir.Table, specs: Sequence[Spec]) -> ir.Table:
    columns = sorted({c for _, num, den in specs for c in (num, den)})
    agg = units.group_by("region_code").aggregate(**{c: units[c].sum().cast("int64") for c in columns})
    return _as_long(agg, ["region_code"], specs)


def _village_long(tables: ReleaseTables, settings: QualitySettings, registry_source: str, pbi_source: str) -> ir.Table:
    """(region_code, indicator, numerator, denominator) per village, persons and families."""
    persons = _by_village(_person_units(tables, registry_source, pbi_source), PERSON_SPECS)
    families = _by_village(_family_units(tables, settings), FAMILY_SPECS)
    return ibis.union(persons, families)


def _roll_up(village: ir.Table, level: str) -> ir.Table:
    if level == "national":
        region: ir.StringValue = ibis.literal(ALL)
        rows = village
    else:
        rows = village.filter(village.region_code.notnull())
        region = rows.region_code.substr(0, CODE_LENGTH[level])
    agg = rows.group_by(region=region, source=ibis.literal(ALL), indicator=rows.indicator).aggregate(
        numerator=rows.numerator.sum().cast("int64"), denominator=rows.denominator.sum().cast("int64")
    )
    return _finish(agg, level)


def _finish(agg: ir.Table, level: str) -> ir.Table:
    den = agg.denominator
    value = (den == 0).ifelse(ibis.null("float64"), agg.numerator.cast("float64") / den.cast("float64"))
    return agg.select(
        level=ibis.literal(level),
        region=agg.region.cast("string"),
        source=agg.source.cast("string"),
        indicator=agg.indicator.cast("string"),
        numerator=agg.numerator.cast("int64"),
        denominator=den.cast("int64"),
        value=value.cast("float64"),
    )


# -- sources -----------------------------------------------------------------------------------
def _row(
    source: ir.StringValue | str, indicator: str, num: ir.IntegerValue, den: ir.IntegerValue
) -> dict[str, ir.Value]:
    return {
        "source": ibis.literal(source) if isinstance(source, str) else source,
        "indicator": ibis.literal(indicator),
        "numerator": num.cast("int64"),
        "denominator": den.cast("int64"),
    }


def _mapped(name: str, records: ir.Table, mapped_fields: Mapping[str, Collection[str]]) -> list[str] | None:
    """The canonical fields `name` maps, when known; None to decide from the data."""
    if name not in mapped_fields:
        return None
    wanted = {_RESOLVED_AS.get(f, f) for f in mapped_fields[name]}
    return [f for f in _SOURCE_FIELDS if f in wanted and f in records.columns]


def _records_long(name: str, records: ir.Table, mapped: list[str] | None) -> ir.Table:
    """One scan of a source's records: its accepted rows as the denominator of quarantined,
    linked and conflicts, and its completeness_<field> rows."""
    fields = [f for f in _SOURCE_FIELDS if f in records.columns] if mapped is None else mapped
    counts = records.aggregate(
        _zero=ibis.literal(0).cast("int64"),
        _rows=records.count().cast("int64"),
        **{f"_p_{f}": records[f].count().cast("int64") for f in fields},
    )
    specs: list[Spec] = [(i, "_zero", "_rows") for i in ("quarantined", "linked", "conflicts")]
    specs += [(f"completeness_{f}", f"_p_{f}", "_rows") for f in fields]
    rows = _as_long(counts, [], specs).mutate(source=ibis.literal(name))
    if mapped is None:  # a field never present is taken as not mapped
        rows = rows.filter(~rows.indicator.startswith("completeness_") | (rows.numerator > 0))
    return rows.select("source", "indicator", "numerator", "denominator")


def _source_long(engine: Engine, tables: ReleaseTables, mapped_fields: Mapping[str, Collection[str]]) -> ir.Table:
    """Rows (source, indicator, numerator, denominator) summed per source and indicator."""
    zero = ibis.literal(0).cast("int64")
    parts: list[ir.Table] = []
    if tables.records:
        counted = engine.materialize(
            ibis.union(
                *(
                    _records_long(name, records, _mapped(name, records, mapped_fields))
                    for name, records in tables.records.items()
                )
            )
        )
        cells = counted.filter(counted.indicator.startswith("completeness_"))
        parts.append(counted)
        parts.append(
            cells.group_by("source").aggregate(
                indicator=ibis.literal("completeness_mapped"),
                numerator=cells.numerator.sum().cast("int64"),
                denominator=cells.denominator.sum().cast("int64"),
            )
        )
    q = tables.quarantine
    parts.append(
        q.group_by(_s=q.source).aggregate(_n=q.count()).select(**_row(ibis._._s, "quarantined", ibis._._n, ibis._._n))
    )
    links = tables.links
    linked = _flag(links.person_id.notnull() | links.family_id.notnull())
    parts.append(
        links.group_by(_s=links.source).aggregate(_n=linked.sum()).select(**_row(ibis._._s, "linked", ibis._._n, zero))
    )
    person = tables.links.filter(tables.links.person_id.notnull() & (tables.links.level == "person"))
    per = person.group_by(_s=person.source, _p=person.person_id).aggregate(_n=person.count())
    parts.append(
        per.group_by("_s")
        .aggregate(_d=(per._n - 1).sum(), _n=per._n.sum())
        .select(**_row(ibis._._s, "duplicates_found", ibis._._d, ibis._._n))
    )
    c = tables.conflicts.filter(tables.conflicts.other_source.notnull())
    parts.append(
        c.group_by(_s=c.other_source).aggregate(_n=c.count()).select(**_row(ibis._._s, "conflicts", ibis._._n, zero))
    )
    stacked = ibis.union(*parts)
    agg = stacked.group_by("source", "indicator").aggregate(
        numerator=stacked.numerator.sum().cast("int64"), denominator=stacked.denominator.sum().cast("int64")
    )
    return agg.select(
        region=ibis.literal(ALL),
        source=agg.source,
        indicator=agg.indicator,
        numerator=agg.numerator,
        denominator=agg.denominator,
    )
