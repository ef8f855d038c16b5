"""The survivorship engine: one golden value per entity and field, with where it came from.

For each field, the records' non-null values are the candidates (entity, value as text, source,
record_key, observed_at and the ranking keys of `dtsen.consolidate.rules`); one aggregation per
field keeps, for each entity, the candidate that ranks first (the smallest of a struct of the
ranking keys followed by the candidate's columns, see `_winner`). The survivors of every field,
stacked, are the provenance table and are pivoted back into the golden wide table (each field
cast back to its canonical type). Only the fields that conflicts look at keep their other
candidates. Nothing loops over entities, and no window sorts the candidates of every field: the
whole step is a handful of Ibis aggregations that run on DuckDB and on Spark alike (`min` of a
struct is DuckDB's and Spark's own), and hash aggregations scale where a window over tens of
millions of candidates did not.

Values are compared as text. Floats are written through a fixed-point decimal with the trailing
zeros removed (36.5 -> '36.5', 450000.0 -> '450000'), because DuckDB and Spark write doubles
differently ('1.0E7' against '10000000.0'); dates as YYYY-MM-DD and booleans as true/false on
both engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt_
import ibis.expr.types as ir

from dtsen.consolidate.conflicts import CONFLICT_FIELDS, Trust, find_conflicts
from dtsen.consolidate.rules import SurvivorshipError, SurvivorshipSettings
from dtsen.schema import FIELDS, DType, Level

if TYPE_CHECKING:
    from dtsen.engine import Engine

# The columns every record must carry besides its fields.
RECORD_COLUMNS = ("record_key", "source", "observed_at")

_IBIS_TYPE: dict[DType, dt_.DataType] = {
    "string": dt_.string,
    "date": dt_.date,
    "int": dt_.int64,
    "float": dt_.float64,
    "bool": dt_.boolean,
}
# Observations without a date rank after every dated one.
_UNDATED = dt.date(1900, 1, 1)
# Floats up to this size are written through a fixed-point decimal (identical on both engines).
_FIXED_POINT_LIMIT = 1e15


@dataclass(frozen=True)
class Decisive:
    """A value that wins outright when one of `sources` holds it (e.g. a death reported by
    Dukcapil): ranked before `above_all` and the field's rule."""

    sources: tuple[str, ...]
    value: str


@dataclass(frozen=True)
class Implied:
    """A field whose value an identifier on the same record implies (the NIK encodes the birth
    date and the sex): `column` is the record's implied value (`nik_birth_date`, `nik_sex`);
    `date` compares dates on day, month and two-digit year only (a NIK does not know the
    century). A value held by a record whose own identifier encodes it ranks first (after
    `above_all`), with no join: a mistyped birth year or a miscoded sex, which the record's own
    NIK contradicts, loses to any record the NIK confirms; such a record is marked
    `contradicts_identifier` (for the conflicts)."""

    column: str
    date: bool = False

    def key(self, text: ir.StringValue) -> ir.StringValue:
        """The compared part of a value written as text ('YYYY-MM-DD' -> 'YY-MM-DD')."""
        return text.substr(2) if self.date else text


@dataclass(frozen=True, eq=False)
class Survived:
    """What `survive` returns (lazy Ibis tables).

    table: the entity id, every field in its canonical type, `sources` (distinct sources of the
    entity's records) and `records` (their number); one row per entity in the records.
    provenance: entity, id, field, value, source, record_key, observed_at, agreeing_sources,
    candidate_sources; one row per entity and field that has a value.
    conflicts: see `dtsen.consolidate.conflicts`.
    candidates: every candidate of the fields that conflicts look at (`CONFLICT_FIELDS`): id,
    field, value, source, record_key, observed_at and `contradicts_identifier` (the record's own
    NIK implies another value; see `Implied`).
    chosen: the survivors, one row per entity and field with a value: id, field, value, source,
    record_key, observed_at, agreeing_sources, candidate_sources.
    """

    table: ir.Table
    provenance: ir.Table
    conflicts: ir.Table
    candidates: ir.Table
    chosen: ir.Table
    level: Level
    entity_id: str


@dataclass(frozen=True, eq=False)
class GoldenTables:
    """Golden records of one level: the wide table, its provenance and its conflicts."""

    table: ir.Table
    provenance: ir.Table
    conflicts: ir.Table


def field_type(level: Level, field: str, records: ir.Table | None = None) -> dt_.DataType:
    """The canonical type of a field (from `dtsen.schema.FIELDS`), else the records' own."""
    spec = FIELDS[level].get(field)
    if spec is not None:
        return _IBIS_TYPE[spec.dtype]
    if records is not None and field in records.columns:
        return records[field].type()
    return dt_.string


def as_text(value: ir.Value) -> ir.StringValue:
    """A value as the text survivorship compares (the same text on DuckDB and Spark)."""
    if value.type().is_floating():
        num = value.cast("float64")
        fixed = num.cast(dt_.Decimal(38, 6)).cast("string").re_replace("[.]?0+$", "")
        text: ir.StringValue = ibis.ifelse(num.abs() < _FIXED_POINT_LIMIT, fixed, num.cast("string"))
    elif value.type().is_string():
        stripped = value.strip()
        text = ibis.ifelse(stripped == "", ibis.null("string"), stripped)
    else:
        text = value.cast("string")
    return text


def _position(source: ir.StringValue, names: Sequence[str]) -> ir.IntegerValue:
    """The 0-based position of the source in `names`; len(names) when it is not listed."""
    if not names:
        return ibis.literal(0, "int64")
    branches = [(source == name, ibis.literal(i, "int64")) for i, name in enumerate(names)]
    return ibis.cases(*branches, else_=ibis.literal(len(names), "int64"))


def survive(
    records: ir.Table,
    entity_id: str,
    fields: Sequence[str],
    rules: SurvivorshipSettings,
    level: Level,
    trust: Trust | None = None,
    *,
    decisive: Mapping[str, Decisive] | None = None,
    implied: Mapping[str, Implied] | None = None,
    engine: Engine | None = None,
) -> Survived:
    """Choose one value per entity and field among the records' non-null values.

    `records` carries `entity_id`, record_key, source, observed_at and the fields (a field the
    records lack is null in the golden table). The rules alone rank; `trust` (source -> field
    -> 0..1) only decides which disagreements are conflicts (`dtsen.consolidate.conflicts`).
    With an `engine`, the survivors are computed once and kept on it.
    """
    missing = [c for c in (entity_id, *RECORD_COLUMNS) if c not in records.columns]
    if missing:
        raise SurvivorshipError(f"{level} records lack the column(s) {', '.join(missing)} that golden records need")
    recs = records.filter(records[entity_id].notnull())
    present = [f for f in fields if f in recs.columns]
    parts = {name: _candidates(recs, entity_id, name, rules, level, decisive, implied) for name in present}
    if parts:
        winners = [_winner(part, name) for name, part in parts.items()]
        chosen: ir.Table = winners[0] if len(winners) == 1 else ibis.union(*winners, distinct=False)
    else:  # no field at all: an empty, typed table of survivors
        empty = _candidates(recs, entity_id, None, rules, level, decisive, implied)
        chosen = _winner(empty, "")
    if engine is not None:
        chosen = engine.materialize(chosen)

    provenance = chosen.select(
        entity=ibis.literal(level, "string"),
        id=chosen.id,
        field=chosen.field,
        value=chosen.value,
        source=chosen.source,
        record_key=chosen.record_key,
        observed_at=chosen.observed_at,
        agreeing_sources=chosen.agreeing_sources,
        candidate_sources=chosen.candidate_sources,
    )
    table = _golden_table(recs, entity_id, fields, chosen, level)
    # conflicts look at a few fields only: their candidates, against the survivors
    checked = [name for name in present if name in CONFLICT_FIELDS[level]]
    if checked:
        cand_parts = [
            parts[name].select(
                "id",
                "value",
                "source",
                "record_key",
                "observed_at",
                field=ibis.literal(name, "string"),
                contradicts_identifier=parts[name]._contradicts,
            )
            for name in checked
        ]
        candidates = cand_parts[0] if len(cand_parts) == 1 else ibis.union(*cand_parts, distinct=False)
    else:
        candidates = chosen.select(
            "id", "value", "source", "record_key", "observed_at", "field", contradicts_identifier=ibis.literal(False)
        ).limit(0)
    conflicts = find_conflicts(candidates, level, trust or {}, chosen=chosen)
    return Survived(
        table=table,
        provenance=provenance,
        conflicts=conflicts,
        candidates=candidates,
        chosen=chosen,
        level=level,
        entity_id=entity_id,
    )


def _candidates(
    recs: ir.Table,
    entity_id: str,
    name: str | None,
    rules: SurvivorshipSettings,
    level: Level,
    decisive: Mapping[str, Decisive] | None,
    implied: Mapping[str, Implied] | None,
) -> ir.Table:
    """The candidates of one field: each record's non-null value, with the ranking keys."""
    if name is None:  # no field at all: an empty, typed candidate table
        value: ir.StringValue = ibis.null("string")
        keep: ir.BooleanValue = ibis.literal(False)
        label = ""
    else:
        value = as_text(recs[name])
        keep = value.notnull()
        label = name
    rule = rules.rule_for(level, label)
    win = decisive.get(label) if decisive else None
    win_rank = (
        ibis.ifelse(recs.source.isin(list(win.sources)) & (value == win.value), 0, 1).cast("int64")
        if win
        else ibis.literal(1, "int64")
    )
    order_pos = _position(recs.source, rule.order)
    how = (implied or {}).get(label)
    own: ir.StringValue = (
        how.key(as_text(recs[how.column].cast(field_type(level, label, recs))))
        if how is not None and how.column in recs.columns
        else ibis.null("string")
    )
    compared = how.key(value) if how is not None else value
    part = recs.select(
        id=recs[entity_id].cast("int64"),
        value=value,
        source=recs.source.cast("string"),
        record_key=recs.record_key.cast("string"),
        observed_at=recs.observed_at.cast("date"),
        _win=win_rank,
        _above=_position(recs.source, rules.above_all),
        _prio=order_pos if rule.rule == "source_order" else ibis.literal(0, "int64"),
        _opos=order_pos,
        _contradicts=(own.notnull() & (own != compared)).fill_null(False),
        # 0 when the record's own NIK encodes this very value: such values rank first
        _unconfirmed=ibis.ifelse((own == compared).fill_null(False), 0, 1),
    )
    return part.filter(keep)


def _winner(part: ir.Table, label: str) -> ir.Table:
    """The surviving candidate of each entity for one field, by one aggregation.

    The ranking (decisive value, `above_all`, confirmed by the record's own NIK, the field's
    source order, recency, agreeing sources, source order, source, record key) is a struct
    compared field by field, the chosen candidate's columns at its end: the smallest struct per
    entity is the survivor (the record key is unique within an entity, so the ranking is total
    and the columns after it never decide). Descending keys are negated."""
    agree = part.group_by(["id", "value"]).aggregate(_agreeing=part.source.nunique().cast("int64"))
    cands = part.group_by("id").aggregate(_candidates=part.source.nunique().cast("int64"))
    j = part.join(agree, ["id", "value"])
    seen = j.observed_at.fill_null(ibis.literal(_UNDATED))
    recency = seen.year().cast("int64") * 10_000 + seen.month().cast("int64") * 100 + seen.day().cast("int64")
    ranking = ibis.struct(
        {
            "k0": j._win,
            "k1": j._above,
            "k2": j._unconfirmed.cast("int64"),
            "k3": j._prio,
            "k4": -recency,
            "k5": -j._agreeing,
            "k6": j._opos,
            "k7": j.source,
            "k8": j.record_key.fill_null(""),  # never null in practice; nulls sort differently per engine
            "value": j.value,
            "source": j.source,
            "record_key": j.record_key,
            "observed_at": j.observed_at,
            "agreeing": j._agreeing,
        }
    )
    best = j.group_by("id").aggregate(_best=ranking.min())
    best = best.join(cands, "id")
    w = best._best
    return best.select(
        id=best.id,
        field=ibis.literal(label, "string"),
        value=w["value"],
        source=w["source"],
        record_key=w["record_key"],
        observed_at=w["observed_at"],
        agreeing_sources=w["agreeing"],
        candidate_sources=best._candidates,
    )


def _golden_table(recs: ir.Table, entity_id: str, fields: Sequence[str], chosen: ir.Table, level: Level) -> ir.Table:
    """Pivot the survivors back to one row per entity, each field in its canonical type."""
    counts = recs.group_by(id=recs[entity_id].cast("int64")).aggregate(
        sources=recs.source.nunique().cast("int64"), records=recs.count().cast("int64")
    )
    present = [f for f in fields if f in recs.columns]
    if present:
        wide = chosen.group_by("id").aggregate(
            **{f"_v_{i}": chosen.value.max(where=chosen.field == f) for i, f in enumerate(present)}
        )
        joined = counts.left_join(wide, counts.id == wide.id)
    else:
        joined = counts
    columns: dict[str, ir.Value] = {entity_id: joined.id}
    for f in fields:
        kind = field_type(level, f, recs)
        if f in present:
            columns[f] = joined[f"_v_{present.index(f)}"].cast(kind)
        else:
            columns[f] = ibis.null(kind)
    columns["sources"] = joined.sources
    columns["records"] = joined.records
    return joined.select(**columns)
