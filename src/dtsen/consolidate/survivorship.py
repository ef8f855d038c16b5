"""The survivorship engine: one golden value per entity and field, with where it came from.

The records of every source are unpivoted into ONE long table of candidates (entity, field,
value as text, source, record_key, observed_at), one select per field; a window per
(entity, field) ranks the candidates by the rules of `dtsen.consolidate.rules`, and the first
of each survives. The survivors are pivoted back into the golden wide table (each field cast
back to its canonical type) and are, as they stand, the provenance table. Nothing loops over
entities: the whole step is a handful of Ibis expressions that run on DuckDB and on Spark.

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

from dtsen.consolidate.conflicts import Trust, find_conflicts
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
    candidates: the long table of every candidate with its `rank` (0 = chosen), the
    provenance columns, `agreeing_sources` / `candidate_sources`, and `contradicts_identifier`
    (the record's own NIK implies another value; see `Implied`), used for conflicts.
    """

    table: ir.Table
    provenance: ir.Table
    conflicts: ir.Table
    candidates: ir.Table
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


# Each small integer of the ranking order (a position in a list of sources, a count of sources)
# is below _RADIX, so that packing them into one int64 keeps their order.
_RADIX = 10_000
_LATEST_DAY = 99_991_231  # 9999-12-31 as YYYYMMDD


def _check_radix(rules: SurvivorshipSettings, fields: Sequence[str], level: Level) -> None:
    longest = max([len(rules.above_all), *(len(rules.rule_for(level, f).order) for f in fields)], default=0)
    if longest >= _RADIX - 1:
        raise SurvivorshipError(f"a survivorship source list has {longest} entries; at most {_RADIX - 2} are supported")


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
    With an `engine`, the ranked candidates are computed once and kept on it.
    """
    missing = [c for c in (entity_id, *RECORD_COLUMNS) if c not in records.columns]
    if missing:
        raise SurvivorshipError(f"{level} records lack the column(s) {', '.join(missing)} that golden records need")
    recs = records.filter(records[entity_id].notnull())
    present = [f for f in fields if f in recs.columns]
    undated = ibis.literal(_UNDATED)
    parts: list[ir.Table] = []
    names: list[str | None] = [*present] if present else [None]
    for name in names:
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
        part = recs.select(
            id=recs[entity_id].cast("int64"),
            field=ibis.literal(label, "string"),
            value=value,
            source=recs.source.cast("string"),
            record_key=recs.record_key.cast("string"),
            observed_at=recs.observed_at.cast("date"),
            _win=win_rank,
            _above=_position(recs.source, rules.above_all),
            _prio=order_pos if rule.rule == "source_order" else ibis.literal(0, "int64"),
            _opos=order_pos,
            _contradicts=(own.notnull() & (own != (how.key(value) if how is not None else value))).fill_null(False),
            # 0 when the record's own NIK encodes this very value: such values rank first
            _unconfirmed=ibis.ifelse((own == (how.key(value) if how is not None else value)).fill_null(False), 0, 1),
        )
        parts.append(part.filter(keep))
    long = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)

    agree = long.group_by(["id", "field", "value"]).aggregate(agreeing_sources=long.source.nunique())
    cands = long.group_by(["id", "field"]).aggregate(candidate_sources=long.source.nunique())
    long = long.join(agree, ["id", "field", "value"]).join(cands, ["id", "field"])
    recency = long.observed_at.fill_null(undated)
    # The order, most important first: the decisive value (_win), the sources above all, a value
    # the record's own NIK confirms, the rule's source order, the most recent, the most agreeing
    # sources, the source order again, then source and record key. The small integers are packed
    # into two int64 keys (each part below _RADIX; the date as YYYYMMDD, newest first): the same
    # order, and a window that sorts on four keys instead of nine (three to four times faster).
    _check_radix(rules, fields, level)
    newest_first = _LATEST_DAY - (recency.year() * 10_000 + recency.month() * 100 + recency.day()).cast("int64")
    win, above, unconfirmed, prio, opos, agreeing = (
        long[c].cast("int64") for c in ("_win", "_above", "_unconfirmed", "_prio", "_opos", "agreeing_sources")
    )
    first = ((win * _RADIX + above) * _RADIX + unconfirmed) * _RADIX + prio
    second = (newest_first * _RADIX + (_RADIX - 1 - agreeing)) * _RADIX + opos
    window = ibis.window(
        group_by=[long.id, long.field],
        order_by=[
            first.cast("int64"),
            second.cast("int64"),
            long.source,
            long.record_key.fill_null(""),  # never null in practice; nulls sort differently per engine
        ],
    )
    ranked = long.select(
        "id",
        "field",
        "value",
        "source",
        "record_key",
        "observed_at",
        agreeing_sources=long.agreeing_sources.cast("int64"),
        candidate_sources=long.candidate_sources.cast("int64"),
        contradicts_identifier=long._contradicts,
        rank=ibis.row_number().over(window).cast("int64"),
    )
    if engine is not None:
        ranked = engine.materialize(ranked)

    chosen = ranked.filter(ranked["rank"] == 0)
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
    conflicts = find_conflicts(ranked, level, trust or {})
    return Survived(
        table=table,
        provenance=provenance,
        conflicts=conflicts,
        candidates=ranked,
        level=level,
        entity_id=entity_id,
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
