"""A full backup and restore of a built project: time, size, throughput.

    flock /work/bench.lock uv run python -u -m benchmarks.backup [--persons 100000] [--seed 7]

Synthesises and builds the project once (cached under /tmp/dtsen-backup-<persons>-<seed>, one
release), sets up its keys and puts the release's persons in a vault file (under store/, until
the build writes vaults into its releases),
then times: a full backup into a new destination, a second backup with nothing changed
(incremental), a restore into an empty directory (every file decrypted and checked), and the
verification of the restored releases. Target (issue 15): a full restore of a 1,000,000-person
project in under 5 minutes on this 2-core machine. On a shared machine the figures are indicative.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.linkage import PeakMemory
from benchmarks.population import synthesise
from dtsen.backup import create_backup, restore_backup
from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.release.build import build
from dtsen.release.manifest import verify_release
from dtsen.vault.keyring import Keyring
from dtsen.vault.lifecycle import init_keys
from dtsen.vault.providers import key_file_path, provider_for
from dtsen.vault.vault import ReleaseVault


def prepare(persons: int, seed: int, memory_limit: str) -> Path:
    data = Path(f"/tmp/dtsen-backup-{persons}-{seed}")
    if (data / "releases" / "CURRENT").exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    synthesise(data, persons, seed)
    settings = load_settings(data)
    settings.engine.memory_limit = memory_limit
    engine = Engine.from_settings(settings.engine)
    t0 = time.perf_counter()
    result = build(engine, settings)
    engine.close()
    print(f"built {result.release_id} in {time.perf_counter() - t0:.0f} s")
    init_keys(settings)
    persons = pq.read_table(result.path / "persons.parquet")
    with ReleaseVault.create(Keyring.from_settings(settings), result.release_id, workers=2) as vault:
        # in store/ until the build writes vaults into its releases (a published release never changes)
        vault.write(data / "store" / "vault" / "persons.parquet", "persons", persons, "person_id",
                    ["nik", "kk", "full_name", "birth_date", "birth_place", "address"])
    return data


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--dest", type=Path, default=Path("/tmp/dtsen-backup-dest"))
    args = ap.parse_args()
    data = prepare(args.persons, args.seed, args.memory_limit)
    settings = load_settings(data)
    provider = provider_for(settings)
    target = args.dest.with_name(args.dest.name + "-restored")
    for d in (args.dest, target):
        shutil.rmtree(d, ignore_errors=True)
    mem = PeakMemory()
    print(f"{args.persons:,} persons; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    full = create_backup(settings, data / "dtsen.toml", args.dest, provider, key_file_path(settings))
    mib = full.bytes_total / 2**20
    print(f"full backup:        {full.seconds:6.1f} s  {full.files:,} files, {mib:,.0f} MiB, "
          f"{mib / full.seconds:,.0f} MiB/s")
    again = create_backup(settings, data / "dtsen.toml", args.dest, provider, key_file_path(settings))
    print(f"incremental backup: {again.seconds:6.1f} s  {again.files_written} files written, "
          f"{again.files_unread:,} unchanged and not read")
    stored = tree_size(args.dest)
    print(f"destination:        {stored[0]:,} files, {stored[1] / 2**20:,.0f} MiB")

    restored = restore_backup(args.dest, target, provider=provider)
    print(f"restore:            {restored.seconds:6.1f} s  {restored.files:,} files, "
          f"{restored.bytes_total / 2**20:,.0f} MiB, {restored.bytes_total / 2**20 / restored.seconds:,.0f} MiB/s, "
          "every checksum verified")
    t0 = time.perf_counter()
    problems = [p for r in sorted((target / "releases").glob("R*")) for p in verify_release(r)]
    print(f"verify releases:    {time.perf_counter() - t0:6.1f} s  {len(problems)} problems")
    print(f"restore + verify:   {restored.seconds + time.perf_counter() - t0:6.1f} s; peak RSS {mem.peak / 2**30:.2f} GB")


if __name__ == "__main__":
    main()
