"""The tables a build works from, as Ibis tables on the engine: one object, two origins.

`work_tables` reads them from a project's work directory as the steps wrote them (ingest,
link, rank); `release_tables` reads them from a published release. Quality indicators and
ground-check candidates take a `ReleaseTables` and do not care which.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.errors import DtsenError

if TYPE_CHECKING:
    from dtsen.vault.keyring import Keyring

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


def release_tables(engine: Engine, release_dir: Path, keyring: Keyring | None = None) -> ReleaseTables:
    """The tables of a published release (its `families` table also serves as the ranking: it
    carries the rank columns, and its `size` as the ranking's `persons`). No per-source records: a release does not keep them.

    A sealed release (`vault.release`) gives its persons and families with tokens in place of
    identifying values, unless `keyring` is given: then they are decrypted from its vault."""
    import json

    from dtsen.release.sealing import is_sealed, unsealed

    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    families = _read(engine, release_dir / "families.parquet", "dtsen build")
    persons = _read(engine, release_dir / "persons.parquet", "dtsen build")
    if keyring is not None and is_sealed(manifest):
        rid = str(manifest["release_id"])
        persons = engine.materialize(unsealed(engine, release_dir, rid, keyring, "persons", persons))
        families = engine.materialize(unsealed(engine, release_dir, rid, keyring, "families", families))
    ranking = families
    if "persons" not in ranking.columns and "size" in ranking.columns:
        # the ranking's `persons` (living members) is the family's `size`, which a release keeps
        ranking = ranking.mutate(persons=ranking["size"].fill_null(0).cast("int64"))
    return ReleaseTables(
        persons=persons,
        families=families,
        ranking=ranking,
        links=_read(engine, release_dir / "links.parquet", "dtsen build"),
        provenance=_read(engine, release_dir / "provenance.parquet", "dtsen build"),
        conflicts=_read(engine, release_dir / "conflicts.parquet", "dtsen build"),
        events=_read(engine, release_dir / "events.parquet", "dtsen build"),
        quarantine=_read(engine, release_dir / "quarantine.parquet", "dtsen build"),
        as_of=dt.date.fromisoformat(manifest["as_of"]),
    )


def in_regions(t: ir.Table, prefixes: list[str], column: str = "region_code") -> ir.BooleanValue:
    """Rows whose region code starts with one of `prefixes` (all rows when there are none)."""
    if not prefixes:
        return ibis.literal(True)
    cond: ir.BooleanValue = ibis.literal(False)
    for prefix in prefixes:
        cond = cond | t[column].startswith(prefix)
    return cond.fill_null(False)


def linked_record_dates(tables: ReleaseTables) -> ir.Table | None:
    """One row per source record linked to a family: `family_id` (int64) and the record's
    `observed_at` (date). None when the tables carry no records (a published release)."""
    if not tables.records:
        return None
    observed = ibis.union(
        *(
            r.select(
                _s=r.source.cast("string"),
                _f=r.file.cast("string"),
                _h=r.sheet.cast("string").fill_null(""),
                _r=r.row.cast("int64"),
                _obs=r.observed_at.cast("date"),
            )
            for r in tables.records.values()
        ),
        distinct=False,
    )
    links = tables.links.filter(tables.links.family_id.notnull())
    j = links.inner_join(
        observed,
        [
            links.source == observed._s,
            links.file == observed._f,
            links.sheet.cast("string").fill_null("") == observed._h,
            links.row.cast("int64") == observed._r,
        ],
    )
    return j.select(family_id=j.family_id.cast("int64"), observed_at=j._obs)
