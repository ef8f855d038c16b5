"""From a release back to the cases: which case (and which signed batch) gave a family's or a
person's values, and which rows of the exported sources entered a release or were refused.

A release's provenance names, per field, the source and the record; its links give the record's
file and row; the exported file's row names the case and the batch (`kasus`, `paket`). Files that
later exports replaced are kept in `arsip/`, so an older release still resolves.

    field_cases(settings, release_dir, "family", 45)
        -> [FieldCase(field="floor_type", value="TANAH", case_id=12, batch_id=3, observed_at=...), ...]
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dtsen.config import Settings
from dtsen.workflow.errors import WorkflowError
from dtsen.workflow.export import ARCHIVE, BATCH_COLUMN, CASE_COLUMN, SOURCES
from dtsen.workflow.registry import release_table


@dataclass(frozen=True)
class FieldCase:
    """One value of a golden record, and the case and batch it came from."""

    field: str
    value: str | None
    source: str
    case_id: int
    batch_id: int
    observed_at: dt.date | None


@lru_cache(maxsize=256)
def _file_rows(path: Path, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    with path.open(encoding="utf-8", newline="") as f:
        return tuple((r[CASE_COLUMN], r[BATCH_COLUMN]) for r in csv.DictReader(f))


def _locate(settings: Settings, label: str) -> Path | None:
    first = settings.path(label)
    if first.is_file():
        return first
    archived = settings.path(settings.workflow.export_dir) / ARCHIVE / Path(label).name
    return archived if archived.is_file() else None


def case_of(settings: Settings, file_label: str, row: int) -> tuple[int, int] | None:
    """(case id, batch id) of a row of an exported file (row 2 is the first under the header)."""
    path = _locate(settings, file_label)
    if path is None:
        return None
    rows = _file_rows(path, path.stat().st_mtime_ns)
    if not 2 <= row < len(rows) + 2:
        return None
    case, batch = rows[row - 2]
    return int(case.split("-")[1]), int(batch.split("-")[1])


def _filter_sources(table: pa.Table, column: str = "source") -> pa.Table:
    return table.filter(pc.is_in(table[column], pa.array(list(SOURCES), pa.string())))


def field_cases(settings: Settings, release_dir: Path, entity: str, ids: Iterable[int]) -> list[FieldCase]:
    """The values of `entity` ('family' or 'person') records `ids` in a release that came from an
    approved case, with the case and batch."""
    wanted = pa.array([int(i) for i in ids], pa.int64())
    prov = release_table(release_dir / "provenance.parquet",
                         ["entity", "id", "field", "value", "source", "record_key", "observed_at"],
                         (pc.field("entity") == entity) & pc.field("id").isin(wanted))
    prov = _filter_sources(prov)
    if prov.num_rows == 0:
        return []
    links = release_table(release_dir / "links.parquet", ["record_key", "file", "row"],
                          pc.field("record_key").isin(prov["record_key"].combine_chunks()))
    where = {r["record_key"]: (r["file"], int(r["row"])) for r in links.to_pylist()}
    out = []
    for r in prov.to_pylist():
        located = where.get(r["record_key"])
        found = case_of(settings, *located) if located else None
        if found is not None:
            out.append(FieldCase(r["field"], r["value"], r["source"], found[0], found[1], r["observed_at"]))
    return out


@dataclass
class ReleaseRows:
    """The exported rows a release holds (accepted) or refused, per case id."""

    accepted: dict[int, int]
    refused: dict[int, list[str]]


def release_rows(settings: Settings, release_dir: Path) -> ReleaseRows:
    for name in ("links", "quarantine"):
        if not (release_dir / f"{name}.parquet").exists():
            raise WorkflowError(f"{release_dir} has no {name}.parquet: is it a release `dtsen build` published?")
    sources = pc.field("source").isin(pa.array(list(SOURCES), pa.string()))
    links = release_table(release_dir / "links.parquet", ["source", "file", "row", "level", "family_id"], sources)
    quarantine = release_table(release_dir / "quarantine.parquet", ["source", "file", "row", "reasons"], sources)
    out = ReleaseRows({}, {})
    for r in links.to_pylist():
        found = case_of(settings, r["file"], int(r["row"]))
        if found is None:
            continue
        if r["level"] == "family" and r["family_id"] is None:
            out.refused.setdefault(found[0], []).append("family_unlinked")
        else:
            out.accepted[found[0]] = out.accepted.get(found[0], 0) + 1
    for r in quarantine.to_pylist():
        found = case_of(settings, r["file"], int(r["row"]))
        if found is not None:
            out.refused.setdefault(found[0], []).extend(str(r["reasons"] or "rejected").split(";"))
    return out
