"""Benchmark the synthetic generator: persons/s, seconds per phase, rows per source, peak RSS.

    uv run python benchmarks/synth.py --persons 1000000 --seed 1 --out /tmp/synth-bench
    uv run python benchmarks/synth.py --persons 200000 --regions ../shared/refdata/regions.csv \
        --names ../shared/refdata/names.csv

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dtsen.synth import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: a temporary one, removed)")
    parser.add_argument("--regions", type=Path, default=None)
    parser.add_argument("--names", type=Path, default=None)
    parser.add_argument("--scope", default=None, help="region code prefix, e.g. 32.04")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="dtsen-synth-"))
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"  {time.perf_counter() - start:7.2f}s  {message}", file=sys.stderr)

    try:
        summary = generate(
            out,
            persons=args.persons,
            seed=args.seed,
            regions=args.regions,
            names=args.names,
            region_scope=args.scope,
            progress=progress,
        )
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"persons            {summary.persons:>12,}")
    print(f"families           {summary.families:>12,}")
    print(f"seconds            {summary.seconds:>12.2f}")
    print(f"persons/s          {summary.persons / summary.seconds:>12,.0f}")
    print(f"peak RSS (MiB)     {peak_kb / 1024:>12,.0f}")
    print(f"output (MiB)       {size / 2**20:>12,.1f}")
    print("seconds per phase")
    for name, seconds in summary.phases.items():
        print(f"  {name:<17}{seconds:>12.2f}")
    print("rows per source")
    for name, rows in summary.rows.items():
        print(f"  {name:<17}{rows:>12,}")
    print(f"files written      {len(summary.files):>12,}")


if __name__ == "__main__":
    main()
