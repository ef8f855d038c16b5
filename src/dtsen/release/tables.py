"""The tables a build works from, as Ibis tables on the engine: one object, two origins.

`work_tables` reads them from a project's work directory as the steps wrote them (ingest,
link, rank); `release_tables` reads them from a published release. Quality indicators and
ground-check candidates take a `ReleaseTables` and do not care which.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.errors import DtsenError

QUARANTINE_COLUMNS = ("source", "file", "sheet", "row", "reasons", "flags", "detail", "raw")


class ReleaseInputError(DtsenError):
    """A table a release needs is missing: a step has not run."""


@dataclass
class ReleaseTables:
    """persons       golden persons (person_id, nik, kk, names, birth, region, is_deceased, ...)
    families      golden families with their composition and programme flags
    ranking       the ranked families (`dtsen.welfare.ranking.RANKED_COLUMNS`)
    links         source record -> person_id / family_id, match_probability, method
    provenance    per entity, id and field: the surviving value, its source and as-of date
    conflicts     trusted sources that disagree with the surviving value
    events        id events between runs (merges, splits)
    quarantine    every quarantined row of every source (QUARANTINE_COLUMNS)
    records       per source: its accepted records (typed canonical fields, observed_at)
    as_of         the registry's date (the newest source as-of)
    """

    persons: ir.Table
    families: ir.Table
    ranking: ir.Table
    links: ir.Table
    provenance: ir.Table
    conflicts: ir.Table
    events: ir.Table
    quarantine: ir.Table
    records: dict[str, ir.Table] = field(default_factory=dict)
    as_of: dt.date = dt.date(1970, 1, 1)


def _read(engine: Engine, path: Path, step: str) -> ir.Table:
    if not path.exists():
        raise ReleaseInputError(f"{path} is missing: run `{step}` first")
    return engine.read_parquet(path)


def _quarantine(engine: Engine, directory: Path) -> ir.Table:
    parts = [engine.read_parquet(d) for d in sorted(directory.glob("*")) if any(d.glob("*.parquet"))]
    if not parts:
        import pyarrow as pa

        empty = pa.table({c: pa.array([], pa.int64() if c == "row" else pa.string()) for c in QUARANTINE_COLUMNS})
        return engine.from_arrow(empty)
    return ibis.union(*(p.select(*QUARANTINE_COLUMNS) for p in parts))


def work_tables(engine: Engine, settings: Settings) -> ReleaseTables:
    """The tables as the steps left them in the project's work directory."""
    work = settings.work_dir
    link = work / "link"
    as_of = max(s.as_of for s in settings.sources.values()) if settings.sources else dt.date.today()
    records = {
        name: engine.read_parquet(work / "ingest" / "records" / name)
        for name in settings.sources
        if any((work / "ingest" / "records" / name).glob("*.parquet"))
    }
    return ReleaseTables(
        persons=_read(engine, link / "persons.parquet", "dtsen link"),
        families=_read(engine, link / "families.parquet", "dtsen link"),
        ranking=_read(engine, work / "welfare" / "ranking.parquet", "dtsen rank"),
        links=_read(engine, link / "links.parquet", "dtsen link"),
        provenance=_read(engine, link / "provenance.parquet", "dtsen link"),
        conflicts=_read(engine, link / "conflicts.parquet", "dtsen link"),
        events=_read(engine, link / "events.parquet", "dtsen link"),
        quarantine=_quarantine(engine, work / "ingest" / "quarantine"),
        records=records,
        as_of=as_of,
    )
