"""Ingest + standardize throughput and peak memory on a synthetic population (all sources).

    uv run python benchmarks/ingest.py [--persons 1000000] [--seed 7] [--data DIR] [--engine duckdb]

Generates the population in a separate process (so that its memory does not count), then runs
the whole ingest in this process and prints rows per second and peak resident memory.
Target (issue 2): >= 50,000 source rows/s with peak memory < 4 GB on a 2-core machine.
On DuckDB two sources are checked at once (`dtsen.ingest.pipeline.WORKERS`), so the per-source
seconds overlap; the total is the wall time of the whole ingest, staging included.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from benchmarks.population import synthesise
from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.ingest.pipeline import ingest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=None, help="reuse or create the synthetic data here")
    ap.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    ap.add_argument("--memory-limit", default="3GB")
    args = ap.parse_args()
    data = args.data or Path(f"/tmp/dtsen-bench-{args.persons}-{args.seed}")
    if not (data / "dtsen.toml").exists():
        t0 = time.perf_counter()
        synthesise(data, args.persons, args.seed, quiet=False)
        print(f"synth: {time.perf_counter() - t0:.1f} s (separate process, not counted)")
    settings = load_settings(data)
    settings.engine.kind = args.engine
    settings.engine.memory_limit = args.memory_limit
    engine = Engine.from_settings(settings.engine)
    t0 = time.perf_counter()
    report = ingest(settings, engine)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'source':<20}{'rows':>12}{'accepted':>12}{'quarantined':>12}{'seconds':>9}{'rows/s':>10}")
    for s in report.sources:
        rate = s.rows_read / s.seconds if s.seconds else 0
        print(f"{s.source:<20}{s.rows_read:>12,}{s.accepted:>12,}{s.quarantined:>12,}{s.seconds:>9.1f}{rate:>10,.0f}")
    print(f"{'total':<20}{report.rows_read:>12,}{report.accepted:>12,}{report.quarantined:>12,}{seconds:>9.1f}"
          f"{report.rows_read / seconds:>10,.0f}")
    print(f"engine={engine.kind} persons={args.persons:,} rows/s={report.rows_read / seconds:,.0f} "
          f"peak_rss={peak_mb:,.0f} MB wall={seconds:.1f} s")


if __name__ == "__main__":
    main()
