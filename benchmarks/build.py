"""`dtsen build` at scale: wall time per step, total, peak memory; and the ground-check
effectiveness against the synthetic truth.

    uv run python -u -m benchmarks.build [--persons 100000 1000000] [--seed 7] [--spark]

For each size: synthesises the population (once, in a separate process, cached under
/tmp/dtsen-build-<persons>-<seed>), removes earlier work and releases, then runs one whole
`dtsen build` in this process on DuckDB (or Spark with --spark) and prints the time of each
step, the total and the peak resident memory. Then measures, on the release's candidates, the
true errors found per 100 visits by risk and by random selection.
Targets (issue 5): 1 million persons in under 10 minutes and under 8 GB on this 2-core
machine; time growing about linearly; risk visits find at least 3x as many true errors.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.linkage import SHARED, PeakMemory
from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.release.build import build


def prepare(persons: int, seed: int) -> Path:
    data = Path(f"/tmp/dtsen-build-{persons}-{seed}")
    if not (data / "dtsen.toml").exists():
        cmd = [sys.executable, "-m", "dtsen", "synth", str(data), "--persons", str(persons), "--seed", str(seed)]
        if (SHARED / "regions.csv").exists():
            cmd += ["--regions", str(SHARED / "regions.csv"), "--names", str(SHARED / "names.csv")]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    for leftover in ("work", "releases", "review"):
        shutil.rmtree(data / leftover, ignore_errors=True)
    return data


def effectiveness_of(engine: Engine, data: Path, release: Path) -> dict[str, Any]:
    from dtsen.release.tables import work_tables
    from dtsen.verify.effectiveness import effectiveness, true_errors

    settings = load_settings(data)
    tables = work_tables(engine, settings)
    errors = engine.materialize(true_errors(engine, tables, data / "truth"))
    candidates = engine.read_parquet(release / "verification_candidates.parquet")
    return effectiveness(candidates, errors, seed=settings.verify.seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--spark", action="store_true", help="build on Spark (local[2]) instead of DuckDB")
    ap.add_argument("--memory-limit", default="6GB")
    args = ap.parse_args()
    mem = PeakMemory()
    rows = []
    for persons in args.persons:
        data = prepare(persons, args.seed)
        settings = load_settings(data)
        settings.engine.memory_limit = args.memory_limit
        if args.spark:
            settings.engine.kind = "spark"
        engine = Engine.from_settings(settings.engine)
        mem.reset()
        t0 = time.perf_counter()
        result = build(engine, settings)
        total = time.perf_counter() - t0
        peak = mem.peak
        eff_engine = Engine.duckdb(memory_limit=args.memory_limit)
        eff = effectiveness_of(eff_engine, data, result.path)
        eff_engine.close()
        engine.close()
        rows.append((persons, result, total, peak, eff))
        print(f"\n{persons:,} persons on {engine.kind}: release {result.release_id}")
        for step, secs in result.steps.items():
            print(f"  {step:<10} {secs:>8.1f} s")
        print(f"  {'total':<10} {total:>8.1f} s   peak RSS {peak / 2**30:.2f} GB")
        m = result.manifest["metrics"]
        print(f"  persons {m['persons']:,}, families {m['families']:,}, rows read {m['rows_read']:,}, "
              f"quarantined {m['rows_quarantined']:,}, candidates {m['verification_candidates']:,}")
        print(f"  ground checks: {eff}")
    mem.stop()
    if len(rows) > 1:
        (p0, _, t0_, _, _), (p1, _, t1, _, _) = rows[0], rows[-1]
        print(f"\ngrowth: {p1 / p0:.0f}x persons -> {t1 / t0_:.1f}x time")


if __name__ == "__main__":
    main()
