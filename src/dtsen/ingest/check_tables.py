"""What ingest checks rows against, as engine tables: the region master (district and village
codes, region names) and, for field results, the current release's families and the officers
who may visit them (see `dtsen.ingest.validate`)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.engine import Engine
from dtsen.ingest.region_names import master_names
from dtsen.reference.regions import RegionMaster


@dataclass(frozen=True)
class RegionTables:
    """The region master as engine tables (empty tables when no master is loaded)."""

    loaded: bool
    districts: ir.Table  # code
    villages: ir.Table  # code, parent, name_key
    names: ir.Table | None = None  # every region with the keys names are matched on (`region_names.master_names`)

    @classmethod
    def build(cls, engine: Engine, master: RegionMaster, names: bool = True) -> RegionTables:
        """The tables of `master`; `names=False` skips the name keys (no source names regions)."""
        arrow = master.to_arrow()
        districts = arrow.filter(pc.equal(arrow["level"], "district")).select(["code"])
        villages = arrow.filter(pc.equal(arrow["level"], "village")).select(["code", "parent", "name_key"])
        if districts.num_rows == 0:
            districts = pa.table({"code": pa.array([], pa.string())})
        if villages.num_rows == 0:
            villages = pa.table({k: pa.array([], pa.string()) for k in ("code", "parent", "name_key")})
        keyed = None
        if names:
            everything = arrow.select(["code", "name", "level", "parent"])
            keyed = engine.materialize(master_names(engine.from_arrow(everything)))
        return cls(master.is_loaded, engine.from_arrow(districts), engine.from_arrow(villages), keyed)


@dataclass(frozen=True)
class FieldCheckTables:
    """What field results are checked against, as engine tables.

    families   the current release's families: family_id (int64), kk, region_code and nik
               (the head's); empty when there is no current release (then every family_ref
               is unknown)
    officers   officer (as `clean_text` writes it), region_code (village): who may visit where;
               None when the project lists no officers (the officer check is skipped)
    release    the current release's id, or None
    """

    families: ir.Table
    officers: ir.Table | None = None
    release: str | None = None

    @classmethod
    def empty(cls, engine: Engine) -> FieldCheckTables:
        """No release yet: no family is known."""
        schema = pa.schema([("family_id", pa.int64()), *((c, pa.string()) for c in ("kk", "region_code", "nik"))])
        return cls(engine.from_arrow(schema.empty_table()))


def field_check_join(t: ir.Table, refs: FieldCheckTables) -> ir.Table:
    """Add the release family of each row's family_ref (_ref_hit, _ref_kk, _ref_region, _ref_nik)
    and whether its officer is assigned to that family's village (_off_hit)."""
    f = refs.families
    fams = f.group_by(_ref_id=f.family_id.cast("int64")).aggregate(
        _ref_kk=f.kk.cast("string").min(),
        _ref_region=f.region_code.cast("string").min(),
        _ref_nik=f.nik.cast("string").min(),
    )
    fams = fams.mutate(_ref_hit=ibis.literal(True))
    t = t.left_join(fams, t._family_ref_value == fams._ref_id).drop("_ref_id")
    t = t.mutate(_ref_hit=t._ref_hit.fill_null(False))
    if refs.officers is None:
        return t.mutate(_off_hit=ibis.literal(True))
    o = refs.officers
    off = o.select(_o_officer=o.officer.cast("string"), _o_region=o.region_code.cast("string")).distinct()
    off = off.mutate(_off_hit=ibis.literal(True))
    officer = t._officer_value if "_officer_value" in t.columns else ibis.null("string")
    t = t.left_join(off, [officer == off._o_officer, t._ref_region == off._o_region]).drop("_o_officer", "_o_region")
    return t.mutate(_off_hit=t._off_hit.fill_null(False))


def known(table: ir.Table, column: str, codes: ir.Table, flag: str) -> ir.Table:
    """Add boolean `flag`: the value of `column` is one of `codes.code`."""
    marks = codes.select(_k=codes.code, _hit=ibis.literal(True)).distinct()
    joined = table.left_join(marks, table[column] == marks._k)
    return joined.mutate(**{flag: joined._hit.fill_null(False)}).drop("_k", "_hit")
