"""Families: the people on one KK, and the family-level records that describe them.

A family is the set of persons whose chosen KK (survivorship puts Dukcapil first, so a family
that moved is known by its new KK) is the same; a person without any KK is a family of one.

Family-level records (PLN customers, programme lists, the Regsosek household) are attached to
a family by the strongest evidence they carry, in this order:

0. `ref`: a field visit's `family_ref`, the id of the family in the release the visit list came
   from (ids are stable, so the same family in this build), when this build still has it: a
   family without a usable KK or head NIK is visited too;
1. `kk`: the KK of a family;
2. `kk_old`: a KK that member records still carry (a family that moved keeps its old KK in stale
   sources): the family most of those members now belong to;
3. `head`: the NIK of a person (the head, or the customer) known from the person records;
4. `name`: the same standardized name as a person living in the same village, when only one
   person matches;
5. `address`: the same address in the same village (with the same RT/RW, or else without) as
   the members of exactly one family (a tenant's electricity is billed under the landlord's name);

and otherwise stay unattached (method `unlinked`, family_id null), counted and reported, never
dropped.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

_VALID = r"^[0-9]{16}$"


def family_members(persons: ir.Table) -> ir.Table:
    """member_key (person_id as text) -> cluster (the chosen KK, or the person alone)."""
    kk_ok = persons.kk.notnull() & persons.kk.re_search(_VALID)
    return persons.select(
        member_key=persons.person_id.cast("string"),
        cluster=ibis.ifelse(
            kk_ok, ibis.literal("kk:").concat(persons.kk), ibis.literal("p:").concat(persons.person_id.cast("string"))
        ),
    )


def attach_family_records(family_records: ir.Table, person_links: ir.Table, persons: ir.Table) -> ir.Table:
    """record_key -> family_id, method for every family-level record (see the module docstring).

    person_links: record_key, person_id, kk, nik, name, region_code (the person records, with
    their person); persons: person_id, family_id, kk (golden, with the family)."""
    f = family_records.select("record_key", "kk", "nik", "name", "region_code", "address", "rt", "rw")
    fam_kk = persons.filter(persons.kk.notnull()).group_by("kk").agg(family_id=persons.family_id.min())
    by_kk = f.join(fam_kk, "kk").select("record_key", "family_id", method=ibis.literal("kk"), rank=ibis.literal(0))

    pl = person_links.join(persons.select("person_id", "family_id"), "person_id")
    old = pl.filter(pl.kk.notnull()).group_by(["kk", "family_id"]).agg(n=pl.person_id.nunique())
    w = ibis.window(group_by="kk", order_by=[old.n.desc(), old.family_id])
    old = old.mutate(pos=ibis.row_number().over(w))
    old = old.filter(old.pos == 0).select("kk", "family_id")
    by_old = f.join(old, "kk").select("record_key", "family_id", method=ibis.literal("kk_old"), rank=ibis.literal(1))

    heads = (
        pl.filter(pl.nik.notnull() & pl.nik.re_search(_VALID))
        .group_by("nik")
        .agg(family_id=pl.family_id.min(), n=pl.family_id.nunique())
    )
    heads = heads.filter(heads.n == 1).select("nik", "family_id")
    by_head = f.join(heads, "nik").select("record_key", "family_id", method=ibis.literal("head"), rank=ibis.literal(2))

    named = pl.filter(pl.name.notnull() & pl.region_code.notnull())
    names = named.group_by(["name", "region_code"]).agg(family_id=named.family_id.min(), n=named.person_id.nunique())
    names = names.filter(names.n == 1).select("name", "region_code", "family_id")
    by_name = f.join(names, ["name", "region_code"]).select(
        "record_key", "family_id", method=ibis.literal("name"), rank=ibis.literal(3)
    )

    by_home = _unique_place(f, pl, ["address", "rt", "rw", "region_code"], rank=4).union(
        _unique_place(f, pl, ["address", "region_code"], rank=5)
    )

    cands = by_kk.union(by_old)
    if "family_ref" in family_records.columns:
        ids = persons.select(family_id=persons.family_id).distinct()
        refs = family_records.filter(family_records.family_ref.notnull()).select(
            "record_key", family_id=family_records.family_ref.cast("int64"))
        by_ref = refs.join(ids, "family_id").select(
            "record_key", "family_id", method=ibis.literal("ref"), rank=ibis.literal(-1))
        cands = by_ref.union(cands)
    cands = cands.union(by_head).union(by_name).union(by_home)
    w2 = ibis.window(group_by="record_key", order_by=[cands["rank"], cands.family_id])
    cands = cands.mutate(pos=ibis.row_number().over(w2))
    best = cands.filter(cands.pos == 0).select("record_key", "family_id", "method")
    out = f.select("record_key").left_join(best, "record_key")
    return out.select(
        record_key=out.record_key,
        family_id=out.family_id,
        method=out.method.fill_null("unlinked"),
    )


def _unique_place(f: ir.Table, pl: ir.Table, keys: list[str], rank: int) -> ir.Table:
    """Family records at a place (address within the village, with or without RT/RW) where the
    person records know exactly one family."""
    placed = pl.filter(ibis.and_(*(pl[k].notnull() for k in keys)))
    homes = placed.group_by(keys).agg(family_id=placed.family_id.min(), n=placed.family_id.nunique())
    homes = homes.filter(homes.n == 1).select(*keys, "family_id")
    return f.join(homes, keys).select(
        "record_key", "family_id", method=ibis.literal("address"), rank=ibis.literal(rank)
    )
