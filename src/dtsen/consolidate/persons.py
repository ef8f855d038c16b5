"""Golden persons: one record per person_id, each value with its source.

The person's fields survive by the rules of `[survivorship.person]`, except that the birth date
and the sex the person's NIKs encode win over the source order (after field checks): a record
with a mistyped birth year or a miscoded sex, linked to its person by the NIK, loses, and is a
conflict. A person belongs to one
family at a time: the chosen KK, with `kk_observed_at`, the as-of date of the record it came
from. A death reported by a source named in `deaths_from` (Dukcapil by default) marks the
person deceased whatever the other sources say (the stale lists that still carry the dead are
the reason); a person who is not deceased has no death date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from dtsen.consolidate.conflicts import Trust
from dtsen.consolidate.rules import SurvivorshipSettings
from dtsen.consolidate.survivorship import Decisive, GoldenTables, Implied, survive

if TYPE_CHECKING:
    from dtsen.engine import Engine

ENTITY_ID = "person_id"

# The person fields a golden record carries (the canonical ones, without the raw inputs that
# only serve to resolve a region code, and without observed_at, which is per value).
PERSON_GOLDEN_FIELDS: tuple[str, ...] = (
    "nik",
    "kk",
    "full_name",
    "sex",
    "birth_date",
    "birth_place",
    "relationship",
    "marital_status",
    "education",
    "occupation",
    "disability",
    "region_code",
    "address",
    "rt",
    "rw",
    "is_deceased",
    "death_date",
)


# The NIK encodes the birth date (day + 40 for women) and the sex: the value the person's NIKs
# imply wins over the source order (a mistyped birth year, a miscoded sex lose), after field checks.
IMPLIED_BY_NIK = {"birth_date": Implied("nik_birth_date", date=True), "sex": Implied("nik_sex")}


def golden_persons(
    records: ir.Table,
    rules: SurvivorshipSettings,
    trust: Trust,
    *,
    engine: Engine | None = None,
) -> GoldenTables:
    """Golden persons from the person records (with `person_id`, from the links).

    table: person_id, the golden fields, kk_observed_at, sources (distinct sources), records
    (their number). provenance and conflicts as in `dtsen.consolidate.survivorship` and
    `dtsen.consolidate.conflicts`.
    """
    decisive = {"is_deceased": Decisive(tuple(rules.deaths_from), "true")} if rules.deaths_from else None
    survived = survive(
        records,
        ENTITY_ID,
        PERSON_GOLDEN_FIELDS,
        rules,
        "person",
        trust,
        decisive=decisive,
        implied=IMPLIED_BY_NIK,
        engine=engine,
    )
    table = survived.table
    prov = survived.provenance

    kk_at = prov.filter(prov.field == "kk").select(_pid=prov.id, kk_observed_at=prov.observed_at)
    table = table.left_join(kk_at, table[ENTITY_ID] == kk_at._pid).drop("_pid")

    # A person who is not deceased has no death date, in the table and in the provenance.
    deceased = table.is_deceased.fill_null(False)
    stray = table.filter(~deceased & table.death_date.notnull()).select(
        id=table[ENTITY_ID], field=ibis.literal("death_date", "string")
    )
    table = table.mutate(death_date=ibis.ifelse(deceased, table.death_date, ibis.null("date")))
    prov = prov.anti_join(stray, ["id", "field"])

    columns = [ENTITY_ID, *PERSON_GOLDEN_FIELDS, "kk_observed_at", "sources", "records"]
    return GoldenTables(table=table.select(columns), provenance=prov, conflicts=survived.conflicts)
