"""The vault's speed: AES-256-GCM per value, HMAC tokens and pseudonyms, on N persons x 8 fields.

    flock /work/bench.lock uv run python -u -m benchmarks.vault [--persons 1000000] [--workers 1 2]

Writes a persons vault file of 8 identifying fields (NIK, KK, name, birth date, birth place,
address, mother's name, phone; ~2% empty) with `ReleaseVault.write` (encrypt, sort, Parquet),
reads it all back (decrypt), looks up single records by id, and makes tokens of NIK, KK and
name and pseudonyms of every person id. Prints values per second and the machine's load, since
on a shared machine the figures are indicative. The build must stay within 15% of its time:
8,000,000 values at 1,000,000 values/s is 8 s of a 460 s build.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from dtsen.vault.keyring import TokenKeys
from dtsen.vault.pseudonyms import pseudonyms
from dtsen.vault.tokens import tokens
from dtsen.vault.vault import ReleaseVault

FIELDS = ["nik", "kk", "full_name", "birth_date", "birth_place", "address", "mother_name", "phone"]


def people(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n).astype(np.int64) + 1
    digits = lambda base: pa.array((base + rng.integers(0, 10**10, n)).astype(str))  # noqa: E731
    names = np.array(["SITI", "NUR", "AISYAH", "BUDI", "SANTOSO", "AHMAD", "FAUZI", "DEWI", "LESTARI", "RINA"])
    name = lambda: pa.array([" ".join(x) for x in names[rng.integers(0, 10, (n, 3))]])  # noqa: E731
    cols = {
        "person_id": pa.array(ids),
        "nik": digits(3204000000000000), "kk": digits(3204000000000000), "full_name": name(),
        "birth_date": pa.array((np.datetime64("1950-01-01") + rng.integers(0, 25000, n)).astype("datetime64[D]")),
        "birth_place": pa.array(np.array(["BANDUNG", "GARUT", "CIANJUR", "SUMEDANG"])[rng.integers(0, 4, n)]),
        "address": pa.array([f"JL. MERDEKA NO. {i} RT 00{i % 9} RW 00{i % 7}" for i in rng.integers(1, 999, n)]),
        "mother_name": name(), "phone": digits(628100000000),
    }
    table = pa.table(cols)
    for f in FIELDS:  # ~2% empty, as sources leave gaps
        mask = pa.array(rng.random(n) < 0.02)
        table = table.set_column(table.column_names.index(f), f, pa.compute.if_else(
            mask, pa.scalar(None, table.schema.field(f).type), table.column(f)))
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    table = people(args.persons)
    values = sum(len(table.column(f)) - table.column(f).null_count for f in FIELDS)
    print(f"{args.persons:,} persons x {len(FIELDS)} fields = {values:,} values; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "persons.parquet"
        for workers in args.workers:
            with ReleaseVault("R0001", key, workers=workers) as vault:
                if workers > 1:
                    vault.encrypt("persons", "warm", table.column("person_id").slice(0, 300_000),
                                  table.column("nik").slice(0, 300_000))  # start the worker processes
                t0 = time.perf_counter()
                written = vault.write(path, "persons", table, "person_id", FIELDS)
                t_write = time.perf_counter() - t0
                t0 = time.perf_counter()
                back = vault.read(path)
                t_read = time.perf_counter() - t0
                assert back.num_rows == written.values
            print(f"workers {workers}: write (encrypt+sort+Parquet) {t_write:.1f} s = {values / t_write:,.0f} values/s; "
                  f"read all (decrypt) {t_read:.1f} s = {values / t_read:,.0f} values/s; "
                  f"file {path.stat().st_size / 2**20:,.0f} MiB")
        with ReleaseVault("R0001", key) as vault:
            ids = np.random.default_rng(1).choice(table.column("person_id").to_numpy(), 50)
            times = []
            for i in ids.tolist():
                t0 = time.perf_counter()
                vault.lookup(path, [i])
                times.append(time.perf_counter() - t0)
            print(f"lookup of one person by id (all fields): median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms (row-group statistics; the service keeps its own index)")
    keys = TokenKeys(1, {1: os.urandom(32)})
    for kind, column in (("nik", "nik"), ("kk", "kk"), ("name", "full_name")):
        t0 = time.perf_counter()
        tokens(keys, kind, table.column(column))
        dt = time.perf_counter() - t0
        print(f"tokens {kind}: {dt:.1f} s = {args.persons / dt:,.0f} values/s")
    t0 = time.perf_counter()
    pseudonyms(keys, "kemensos", table.column("person_id"))
    dt = time.perf_counter() - t0
    print(f"pseudonyms: {dt:.2f} s = {args.persons / dt:,.0f} ids/s")


if __name__ == "__main__":
    main()
