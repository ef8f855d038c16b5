"""What sealing a release (`[vault] release = true`) costs a `dtsen build`, on DuckDB.

    flock /work/bench.lock uv run python -u -m benchmarks.sealing [--persons 20000] [--seed 7] [--runs 1]

Synthesises one project (cached under DATA_ROOT/dtsen-sealing-<persons>-<seed>), makes its keys,
runs one warm-up build (unless it has a release already), then `--runs` pairs of builds, plain and sealed in turn, each on a fresh
DuckDB engine after the work directory is emptied the way a sealed build leaves it (so that
neither kind of build finds the other's intermediate files). The serving index is not built
(`serving.index_on_build` off): it is not part of the build; nor are the ground-check village
lists (`[verify] export_max_villages = 0`), which a sealed build never writes and a plain one
spends much of its write step on at this size. Prints each build's wall time and
the steps' times, then the median plain and sealed times and the sealing overhead in percent
(issue 15's target: at most 15%), and the same for the write step (where sealing happens)
against the other steps (which sealing does not change: their difference is the noise). The figures are indicative on a shared machine; the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks.population import synthesise
from dtsen.config import Settings, load_settings
from dtsen.engine import Engine
from dtsen.release.build import build
from dtsen.release.sealing import scrub_work
from dtsen.vault.lifecycle import init_keys


def prepare(persons: int, seed: int, root: Path) -> Path:
    data = root / f"dtsen-sealing-{persons}-{seed}"
    return synthesise(data, persons, seed)


def settings_for(data: Path, sealed: bool) -> Settings:
    settings = load_settings(data)
    settings.vault.release = sealed
    settings.serving.index_on_build = False
    settings.verify.export_regions = []
    settings.verify.export_max_villages = 0  # no village lists in either (a sealed build never writes them)
    return settings


def one_build(data: Path, sealed: bool, memory_limit: str) -> tuple[float, dict[str, float]]:
    settings = settings_for(data, sealed)
    scrub_work(settings.work_dir)
    engine = Engine.duckdb(memory_limit=memory_limit, threads=2)
    try:
        t0 = time.perf_counter()
        result = build(engine, settings)
        return time.perf_counter() - t0, dict(result.steps)
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--data-root", type=Path, default=Path("/tmp"))
    args = parser.parse_args()

    data = prepare(args.persons, args.seed, args.data_root)
    settings = settings_for(data, True)
    if not settings.path(settings.vault.key_file).exists():
        init_keys(settings)
    print(f"{args.persons:,} persons, DuckDB (2 threads); load average {os.getloadavg()[0]:.2f}")
    if not any(settings.path(settings.release.dir).glob("R*")):  # a previous release to carry ids from
        one_build(data, False, args.memory_limit)
    times: dict[bool, list[float]] = {False: [], True: []}
    writes: dict[bool, list[float]] = {False: [], True: []}  # the step sealing happens in
    for run in range(args.runs):
        for sealed in (False, True):
            seconds, steps = one_build(data, sealed, args.memory_limit)
            times[sealed].append(seconds)
            writes[sealed].append(steps.get("write", 0.0))
            detail = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
            print(f"run {run + 1} {'sealed' if sealed else 'plain '}: {seconds:7.1f} s  ({detail})")
    plain, sealed_s = statistics.median(times[False]), statistics.median(times[True])
    print(f"median build: plain {plain:.1f} s, sealed {sealed_s:.1f} s; sealing adds "
          f"{100.0 * (sealed_s - plain) / plain:+.1f}% (target: at most +15%)")
    w_plain, w_sealed = statistics.median(writes[False]), statistics.median(writes[True])
    others = (plain - w_plain, sealed_s - w_sealed)
    print(f"median write step: plain {w_plain:.1f} s, sealed {w_sealed:.1f} s ({w_sealed - w_plain:+.1f} s); "
          f"the other steps, which sealing does not touch: plain {others[0]:.1f} s, sealed {others[1]:.1f} s "
          f"({100.0 * (others[1] - others[0]) / others[0]:+.1f}%: the noise of this machine)")
    print(f"load average at the end {os.getloadavg()[0]:.2f} (figures indicative on a shared machine)")


if __name__ == "__main__":
    main()
