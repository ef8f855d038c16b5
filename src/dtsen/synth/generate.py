"""The entry point: a synthetic population with ground truth, its source files and `dtsen.toml`.

Layout of OUT/:

* ``dtsen.toml``: the project file mapping every source (loads with `dtsen.config.load_settings`);
* ``<source>/...``: the source files (CSV, XLSX, Parquet) as ministries send them;
* ``reference/regions.csv``: the synthetic region master (only when no region file is given);
* ``truth/persons.parquet``, ``truth/families.parquet``: the true population and welfare;
* ``truth/records.parquet``: one row per source row (source, file, row, sheet, person_id,
  family_id, errors), with ``row`` the 1-based record number counting the header as row 1
  (for XLSX the sheet row, for Parquet the index + 2).

The same arguments give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dtsen.errors import DtsenError
from dtsen.synth.extract import Extract
from dtsen.synth.geography import load_geography
from dtsen.synth.names import load_pools
from dtsen.synth.project_file import project_text, write_project
from dtsen.synth.sources import ERROR_ORDER, build_sources
from dtsen.synth.truth import Truth, build_truth, families_table, persons_table
from dtsen.synth.writers import Written, write_extract

_SCOPE = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?")


@dataclass(frozen=True)
class SynthSummary:
    """What a run wrote."""

    out_dir: Path
    persons: int
    families: int
    rows: dict[str, int]
    files: list[Path]
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


def generate(
    out_dir: Path,
    *,
    persons: int,
    seed: int,
    regions: Path | None = None,
    names: Path | None = None,
    region_scope: str | None = None,
    as_of: dt.date = dt.date(2025, 6, 30),
    progress: Callable[[str], None] | None = None,
) -> SynthSummary:
    """Generate the truth, every source file, the records and `dtsen.toml` under `out_dir`."""
    if persons < 100:
        raise DtsenError(f"--persons must be at least 100 (got {persons})")
    if region_scope is not None and not _SCOPE.fullmatch(region_scope):
        raise DtsenError(f"region scope {region_scope!r} is not a region code like 32, 32.04 or 32.04.05")
    start = time.perf_counter()
    phases: dict[str, float] = {}
    clock = [start]

    def phase(name: str) -> None:
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - clock[0]
        clock[0] = now

    def say(message: str) -> None:
        if progress:
            progress(message)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    geo_seed, truth_seed, source_seed = root.spawn(3)
    say("regions")
    geo = load_geography(regions, region_scope, persons, np.random.default_rng(geo_seed))
    say("names")
    pools = load_pools(names, seed)
    phase("reference")
    say("population")
    truth = build_truth(np.random.default_rng(truth_seed), geo, pools, persons, as_of)
    phase("truth")
    extracts = build_sources(truth, source_seed, say)
    phase("sources")
    files: list[Path] = []
    records: list[pa.Table] = []
    rows: dict[str, int] = {}
    for ext in extracts:
        say(f"write {ext.spec.name}")
        written = write_extract(ext, out_dir)
        records.append(_records(truth, ext, written))
        if ext.row_source is None:
            rows[ext.spec.name] = ext.n
        else:
            rows.update({str(k): int(n) for k, n in zip(*np.unique(ext.row_source, return_counts=True), strict=True)})
        files += [Path(f) for f in ext.files]
    phase("write sources")
    say("truth")
    (out_dir / "truth").mkdir(exist_ok=True)
    pq.write_table(persons_table(truth), out_dir / "truth" / "persons.parquet", compression="zstd")
    pq.write_table(families_table(truth), out_dir / "truth" / "families.parquet", compression="zstd")
    pq.write_table(pa.concat_tables(records), out_dir / "truth" / "records.parquet", compression="zstd")
    files += [Path("truth") / f for f in ("persons.parquet", "families.parquet", "records.parquet")]
    if geo.path is None:
        (out_dir / "reference").mkdir(exist_ok=True)
        pacsv.write_csv(
            geo.master, out_dir / "reference" / "regions.csv", write_options=pacsv.WriteOptions(quoting_style="needed")
        )
        files.append(Path("reference") / "regions.csv")
        regions_ref = "reference/regions.csv"
    else:
        regions_ref = str(geo.path)
    header = (
        f"dtsen project written by `dtsen synth`: a synthetic population of {len(truth.per.person_id):,} persons "
        f"in {len(truth.fam.kk):,} families\n(seed {seed}, as of {as_of.isoformat()}"
        f"{', region scope ' + region_scope if region_scope else ''}). The ground truth is under truth/."
    )
    text = project_text(
        f"synthetic-{region_scope or 'all'}-{persons}",
        regions_ref,
        geo.edition,
        [(e.spec, e.files) for e in extracts],
        header,
    )
    write_project(out_dir / "dtsen.toml", text)
    files.append(Path("dtsen.toml"))
    phase("write truth")
    return SynthSummary(
        out_dir=out_dir,
        persons=len(truth.per.person_id),
        families=len(truth.fam.kk),
        rows=rows,
        files=files,
        seconds=time.perf_counter() - start,
        phases=phases,
    )


def _records(t: Truth, ext: Extract, written: Written) -> pa.Table:
    errors = ext.error_lists(ERROR_ORDER)
    parts = []
    for rel, sheet, rownum, pos in zip(written.file, written.sheet, written.rows, written.positions, strict=True):
        person = ext.person[pos]
        family = ext.family[pos]
        zeros = pa.array(np.zeros(len(pos), np.int64))
        source = (pa.array([ext.spec.name], pa.string()).take(zeros) if ext.row_source is None
                  else pa.array(ext.row_source[pos], pa.string()))
        parts.append(
            pa.table(
                {
                    "source": source,
                    "file": pa.array([rel], pa.string()).take(zeros),
                    "row": pa.array(rownum, pa.int64()),
                    "sheet": pa.array([sheet], pa.string()).take(zeros),
                    "person_id": pa.array(t.per.person_id[np.maximum(person, 0)], pa.int64(), mask=person < 0),
                    "family_id": pa.array(t.fam.family_id[np.maximum(family, 0)], pa.int64(), mask=family < 0),
                    "errors": errors.take(pa.array(pos.astype(np.int64))),
                }
            )
        )
    return pa.concat_tables(parts) if parts else pa.table({})
