"""The records linkage works on: every accepted source record of one level, with a stable key.

Ingest writes the accepted records of each source under `work/ingest/records/<source>/`. Here
the sources of one level are read back, stacked, and given a `record_key`: the first 16 hex
digits of the md5 of the source name and the record's canonical values. The key does not depend
on the row number, so a shuffled file keeps its keys, and with them its people's ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.errors import DtsenError, Problem
from dtsen.schema import FIELDS, IDENTITY_FIELDS, Level

LOCATION = ("source", "file", "sheet", "row")
_SEP = "\x1f"
_NULL = "\x00"


class LinkInputError(DtsenError):
    """The linkage cannot start: ingest output missing, or a source without identity fields."""


@dataclass(frozen=True)
class LinkInput:
    """The records of each level, stacked over sources, with their keys."""

    person: ir.Table
    family: ir.Table
    person_sources: tuple[str, ...]
    family_sources: tuple[str, ...]


def record_key(t: ir.Table, level: Level) -> ir.StringValue:
    """md5 of the source and the canonical values (16 hex digits); no row numbers in it."""
    parts: list[ir.Value] = [t.source]
    for name in FIELDS[level]:
        if name in t.columns:
            parts += [ibis.literal(_SEP), t[name].cast("string").fill_null(_NULL)]
    joined = parts[0].concat(*parts[1:])
    return joined.hexdigest("md5").substr(0, 16)


def with_keys(t: ir.Table, level: Level) -> ir.Table:
    """Add `record_key`; exact copies within a source (rare: ingest rejects repeated rows)
    get a numbered variant, so the key stays unique."""
    t = t.mutate(_key0=record_key(t, level))
    w = ibis.window(group_by="_key0", order_by=[t.file, t.sheet.fill_null(""), t.row])
    t = t.mutate(_dup=ibis.row_number().over(w))
    key = ibis.cases(
        (t._dup == 0, t._key0),
        else_=t._key0.concat("#", t._dup.cast("string")).hexdigest("md5").substr(0, 16),
    )
    return t.mutate(record_key=key).drop("_key0", "_dup")


def load_records(engine: Engine, settings: Settings, only: Sequence[str] | None = None) -> LinkInput:
    """Read the ingested records of every source and stack them per level."""
    root = settings.work_dir / "ingest" / "records"
    problems: list[Problem] = []
    tables: dict[Level, list[ir.Table]] = {"person": [], "family": []}
    names: dict[Level, list[str]] = {"person": [], "family": []}
    for name, src in settings.sources.items():
        if only and name not in only:
            continue
        mapped = set(src.columns.values())
        if src.columns and not mapped & set(IDENTITY_FIELDS[src.level]):
            problems.append(
                Problem(
                    f"source {name!r} has no identity field ({', '.join(IDENTITY_FIELDS[src.level])}): "
                    "its records cannot be linked to anyone",
                    where=settings.where("sources", name, "columns"),
                )
            )
            continue
        path = root / name
        if not any(Path(path).glob("*.parquet")):
            problems.append(
                Problem(f"no ingested records for source {name!r} under {path}", hint="run `dtsen ingest` first")
            )
            continue
        tables[src.level].append(engine.read_parquet(path))
        names[src.level].append(name)
    if problems:
        raise LinkInputError("linkage cannot start", problems=problems)
    if not tables["person"]:
        raise LinkInputError("linkage needs at least one person-level source; the project file has none")
    person = with_keys(_stack(tables["person"], "person"), "person")
    family = with_keys(_stack(tables["family"], "family"), "family") if tables["family"] else None
    return LinkInput(
        person=engine.materialize(person),
        family=engine.materialize(family) if family is not None else _empty_family(engine),
        person_sources=tuple(names["person"]),
        family_sources=tuple(names["family"]),
    )


def _stack(tables: list[ir.Table], level: Level) -> ir.Table:
    cols = list(tables[0].columns)
    out = tables[0].select(cols)
    for t in tables[1:]:
        out = out.union(t.select(cols))
    return out


# What ingest withheld from a record (kept the row, nulled the field), by the flag that says so.
WITHHELD: dict[str, tuple[str, ...]] = {
    "nik": ("nik_excel_damaged", "nik_bad_format", "nik_bad_date", "nik_bad_serial"),
    "kk": ("kk_excel_damaged", "kk_bad_format", "kk_bad_serial"),
    "birth_date": ("birth_date_invalid", "birth_date_future", "age_implausible"),
    "region_code": ("region_bad_format", "region_unknown"),
}


def withheld(flags: ir.StringValue) -> ir.StringValue:
    """The fields ingest withheld from a record, from its flags: `nik;kk`, or null."""
    parts = [
        ibis.ifelse(flags.re_search("(^|;)(" + "|".join(codes) + ")(;|$)").fill_null(False), field, ibis.null("string"))
        for field, codes in WITHHELD.items()
    ]
    return ibis.literal(";").join(parts).nullif("")


def _empty_family(engine: Engine) -> ir.Table:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("record_key", pa.string()),
            ("source", pa.string()),
            ("file", pa.string()),
            ("sheet", pa.string()),
            ("row", pa.int64()),
            ("kk", pa.string()),
            ("nik", pa.string()),
            ("name", pa.string()),
            ("region_code", pa.string()),
            ("observed_at", pa.date32()),
            ("flags", pa.string()),
        ]
    )
    return engine.from_arrow(schema.empty_table())
