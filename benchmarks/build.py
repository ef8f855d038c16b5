"""`dtsen build` at scale: wall time and peak memory per step, the linkage's phases and accuracy,
the ground-check effectiveness, and the growth from the smallest size to the largest.

    uv run python -u -m benchmarks.build [--persons 100000 1000000] [--seed 7] [--runs 1]
        [--spark [--master local[2]]] [--memory-limit 6GB] [--data-root /tmp] [--no-checks]

For each size: synthesises the population (once, in a separate process, cached under
DATA_ROOT/dtsen-build-<persons>-<seed>), removes earlier work, releases and serving index, then
runs one whole `dtsen build` in this process on DuckDB (or Spark with --spark) and prints:

- each step's wall time and peak resident memory (this process and its children, so a Spark
  driver's JVM counts too), the total and the whole run's peak;
- the linkage job's own phases (read, deterministic, train, predict, cluster, ids, golden persons,
  families, write) from its manifest;
- the linkage's accuracy: person and family pairwise precision, recall and F1 against the
  synthetic truth over EVERY row read (a quarantined row is a person of its own), on the
  release's `links.parquet` (as `benchmarks/linkage.py` scores it);
- the candidate pairs per linked person record, and the true errors found per 100 ground-check
  visits by risk and at random (skip both with --no-checks);
- with several sizes: the growth of each step's time and of the total, per 10x the persons.

Targets (issue 17), on this 2-core machine: 1,000,000 persons on DuckDB in at most 180 s and
6 GB peak; 10,000,000 in at most 11x the time of 1,000,000; on Spark `local[2]` the 100,000-person
build within 3x of DuckDB's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.linkage import PeakMemory
from benchmarks.population import synthesise
from dtsen.config import Settings, load_settings
from dtsen.engine import Engine
from dtsen.release.build import BuildResult, build


def prepare(persons: int, seed: int, root: Path = Path("/tmp")) -> Path:
    data = root / f"dtsen-build-{persons}-{seed}"
    synthesise(data, persons, seed)
    for leftover in ("work", "releases", "review", "serving"):
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


def accuracy_of(engine: Engine, data: Path, release: Path) -> str:
    """Person and family pairwise scores of the release's links against the truth."""
    from dtsen.link.evaluation import evaluate_links, load_truth

    scores = evaluate_links(engine, engine.read_parquet(release / "links.parquet"), load_truth(engine, data / "truth"))
    p, f = scores.persons, scores.families
    return (f"persons (every row read): precision {p.precision:.5f} recall {p.recall:.5f} F1 {p.f1:.5f} "
            f"({p.records:,} rows, {p.quarantined:,} quarantined); families: precision {f.precision:.5f} "
            f"recall {f.recall:.5f} F1 {f.f1:.5f}")


def pairs_per_record(engine: Engine, settings: Settings) -> float:
    from benchmarks.linkage import _dtsen_pairs
    from dtsen.link.records import load_records

    records = int(load_records(engine, settings).person.count().execute())
    return _dtsen_pairs(engine, settings) / records


def run_once(persons: int, args: argparse.Namespace, mem: PeakMemory) -> tuple[BuildResult, float, int, dict[str, int]]:
    data = prepare(persons, args.seed, args.data_root)
    settings = load_settings(data)
    settings.engine.memory_limit = args.memory_limit
    if args.suppress_below is not None:
        settings.quality.suppress_below = args.suppress_below
    if args.spark:
        settings.engine.kind = "spark"
        settings.engine.spark_master = args.master
        settings.engine.spark_driver_memory = args.driver_memory
    step_peak: dict[str, int] = {}

    def on_step(name: str, status: str, _rows: int | None, secs: float) -> None:
        if status == "start":
            mem.reset()
            print(f"  ... {name}", file=sys.stderr, flush=True)
        else:
            step_peak[name] = mem.peak
            print(f"  ... {name} done in {secs:.1f} s, peak RSS {mem.peak / 2**30:.2f} GB", file=sys.stderr, flush=True)

    mem.reset()
    t0 = time.perf_counter()
    engine = Engine.from_settings(settings.engine)
    engine_start = time.perf_counter() - t0
    result = build(engine, settings, on_step=on_step)
    engine.close()
    total = time.perf_counter() - t0
    peak = max(step_peak.values(), default=mem.peak)
    result.steps = {"engine": round(engine_start, 3), **result.steps}
    step_peak["engine"] = 0
    return result, total, peak, step_peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=1, help="builds per size (each from scratch)")
    ap.add_argument("--spark", action="store_true", help="build on Spark instead of DuckDB")
    ap.add_argument("--master", default="local[2]", help="Spark master (with --spark)")
    ap.add_argument("--driver-memory", default="6g", help="Spark driver memory (with --spark)")
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit")
    ap.add_argument("--data-root", type=Path, default=Path("/tmp"), help="where the synthetic projects are cached")
    ap.add_argument("--suppress-below", type=int, default=None,
                    help="override [quality] suppress_below (0: no small-count suppression on the scorecards)")
    ap.add_argument("--no-checks", action="store_true", help="skip accuracy, pairs and ground-check figures")
    args = ap.parse_args()
    mem = PeakMemory()
    best: dict[int, tuple[BuildResult, float, int]] = {}
    for persons in args.persons:
        for run in range(args.runs):
            result, total, peak, step_peak = run_once(persons, args, mem)
            kind = "spark " + args.master if args.spark else "duckdb"
            print(f"\n{persons:,} persons on {kind} (run {run + 1} of {args.runs}): release {result.release_id}")
            for step, secs in result.steps.items():
                rss = f"peak RSS {step_peak[step] / 2**30:5.2f} GB" if step_peak.get(step) else ""
                print(f"  {step:<10} {secs:>8.1f} s   {rss}")
            print(f"  {'total':<10} {total:>8.1f} s   peak RSS {peak / 2**30:5.2f} GB")
            link_manifest = json.loads((result.path / "link" / "manifest.json").read_text(encoding="utf-8"))
            phases = link_manifest.get("timings", {})
            print("  link phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
            m = result.manifest["metrics"]
            print(f"  persons {m['persons']:,}, families {m['families']:,}, rows read {m['rows_read']:,}, "
                  f"quarantined {m['rows_quarantined']:,}, candidates {m['verification_candidates']:,}")
            if persons not in best or total < best[persons][1]:
                best[persons] = (result, total, peak)
        if not args.no_checks:
            data = prepare_path(persons, args)
            eng = Engine.duckdb(memory_limit=args.memory_limit)
            print(f"  accuracy: {accuracy_of(eng, data, result.path)}")
            print(f"  candidate pairs per person record: {pairs_per_record(eng, load_settings(data)):.3f}")
            print(f"  ground checks: {effectiveness_of(eng, data, result.path)}")
            eng.close()
    mem.stop()
    sizes = sorted(best)
    if len(sizes) > 1:
        (r0, t0, p0), (r1, t1, p1) = best[sizes[0]], best[sizes[-1]]
        factor = sizes[-1] / sizes[0]
        print(f"\ngrowth from {sizes[0]:,} to {sizes[-1]:,} persons ({factor:.0f}x), fastest run of each:")
        for step in r1.steps:
            a, b = r0.steps.get(step), r1.steps[step]
            if a:
                print(f"  {step:<10} {a:>8.1f} s -> {b:>8.1f} s   {b / a:5.1f}x")
        print(f"  {'total':<10} {t0:>8.1f} s -> {t1:>8.1f} s   {t1 / t0:5.1f}x   "
              f"(peak RSS {p0 / 2**30:.2f} -> {p1 / 2**30:.2f} GB)")


def prepare_path(persons: int, args: argparse.Namespace) -> Path:
    return args.data_root / f"dtsen-build-{persons}-{args.seed}"


if __name__ == "__main__":
    main()
