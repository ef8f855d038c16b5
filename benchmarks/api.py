"""The service's data side at scale: serving-index build, NIK lookups, bulk matching.

    flock /work/bench.lock uv run python -u -m benchmarks.api --persons 100000 [--upload-rows 100000]
        [--lookups 20000] [--threads 1 8 32] [--repeat 3] [--project DIR] [--memory-limit 4GB]

1. A project of `--persons` synthetic persons is synthesised and built once (cached under
   /tmp/dtsen-api-<persons>-<seed>; or give a built project with --project).
2. The serving index of its current release is (re)built: time and size.
3. NIK lookups (`person_by_nik` on a handle taken with `ServingReleases.acquire()`, as a request
   does) with 1, 8 and 32 threads at once: p50, p99 and lookups per second, each `--repeat` times
   and the median p99 (other work on a shared machine makes single p99s jump). 90% of the NIKs are
   in the registry, 10% are not.
4. Bulk matching of an upload of `--upload-rows` rows made from registry persons: 70% exact, 10%
   with one NIK digit changed, 10% without NIK, 5% with the NIK turned into a float by Excel, 5%
   invented people; rows per second for the whole job (read, standardize, match, write), the
   statuses found, and how many rows found the person they were made from.

Targets (issue 14): NIK lookup p99 under 10 ms at 32 concurrent clients with one worker; bulk
matching at least 20,000 rows per second for 100,000 rows against 1,000,000 persons. These are
library-level figures (no HTTP); the HTTP figures are measured when the endpoints exist.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from benchmarks.linkage import SHARED, PeakMemory
from dtsen.config import load_settings
from dtsen.engine import Engine


def prepare(persons: int, seed: int, memory_limit: str) -> Path:
    data = Path(f"/tmp/dtsen-api-{persons}-{seed}")
    if not (data / "dtsen.toml").exists():
        cmd = [sys.executable, "-m", "dtsen", "synth", str(data), "--persons", str(persons), "--seed", str(seed)]
        if (SHARED / "regions.csv").exists():
            cmd += ["--regions", str(SHARED / "regions.csv"), "--names", str(SHARED / "names.csv")]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if not (data / "releases" / "CURRENT").exists():
        from dtsen.release.build import build

        settings = load_settings(data)
        settings.engine.memory_limit = memory_limit
        engine = Engine.from_settings(settings.engine)
        t0 = time.perf_counter()
        result = build(engine, settings)
        engine.close()
        print(f"built {result.release_id} of {persons:,} persons in {time.perf_counter() - t0:.0f} s")
    return data


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def bench_lookups(releases: object, niks: list[str], threads: int, per_thread: int) -> dict[str, float]:
    from dtsen.serve.lookups import person_by_nik

    latencies: list[list[float]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def work(k: int) -> None:
        rng = random.Random(k)
        mine = latencies[k]
        start.wait()
        for _ in range(per_thread):
            nik = niks[rng.randrange(len(niks))]
            t0 = time.perf_counter()
            with releases.acquire() as h:  # type: ignore[attr-defined]
                person_by_nik(h, nik)
            mine.append(time.perf_counter() - t0)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    flat = [x for xs in latencies for x in xs]
    return {"p50_ms": percentile(flat, 50) * 1e3, "p99_ms": percentile(flat, 99) * 1e3,
            "mean_ms": statistics.fmean(flat) * 1e3, "per_s": len(flat) / wall}


UPLOAD_SQL = """
WITH src AS (
  SELECT person_id, nik, full_name, birth_date, hash(person_id, ?) AS h
  FROM read_parquet(?) WHERE nik IS NOT NULL AND full_name IS NOT NULL AND birth_date IS NOT NULL
), picked AS (
  SELECT *, row_number() OVER (ORDER BY h) AS k FROM src ORDER BY h LIMIT ?
)
SELECT k,
  CASE WHEN k % 20 < 14 THEN 'exact' WHEN k % 20 < 16 THEN 'typo' WHEN k % 20 < 18 THEN 'missing'
       WHEN k % 20 < 19 THEN 'excel' ELSE 'absent' END AS plan,
  person_id,
  CASE WHEN k % 20 < 14 THEN nik
       WHEN k % 20 < 16 THEN left(nik, 15) || CAST((CAST(right(nik, 1) AS INT) + 5) % 10 AS VARCHAR)
       WHEN k % 20 < 18 THEN ''
       WHEN k % 20 < 19 THEN printf('%.5E', CAST(nik AS DOUBLE))
       ELSE '3204' || lpad(CAST(k % 999983 AS VARCHAR), 12, '9') END AS NIK,
  CASE WHEN k % 20 = 19 THEN 'ZQX ' || CAST(k AS VARCHAR) ELSE full_name END AS NAMA,
  strftime(CASE WHEN k % 20 = 19 THEN DATE '1901-01-01' + CAST(k % 3000 AS INT) ELSE birth_date END, '%d-%m-%Y')
    AS TANGGAL_LAHIR
FROM picked ORDER BY k
"""


def make_upload(release_dir: Path, rows: int, seed: int, out: Path) -> Path:
    con = duckdb.connect()
    con.execute("CREATE TABLE upload AS " + UPLOAD_SQL, [seed, str(release_dir / "persons.parquet" / "*.parquet"), rows])
    con.execute(f"COPY (SELECT NIK, NAMA, TANGGAL_LAHIR FROM upload ORDER BY k) TO '{out}' (HEADER, DELIMITER ',')")
    con.execute(f"COPY (SELECT k, plan, person_id FROM upload) TO '{out.with_suffix('.plan.parquet')}'")
    con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--project", type=Path, default=None, help="a built project (skips synth and build)")
    ap.add_argument("--upload-rows", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=20_000, help="lookups per thread count")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--repeat", type=int, default=3, help="runs per thread count (the machine is shared: p99 varies)")
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--skip-index", action="store_true", help="use the serving index already built")
    ap.add_argument("--skip-match", action="store_true", help="lookups only")
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval for the lookups (Python's default is 0.005 s)")
    args = ap.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    from dtsen.serve.index import index_release, serving_dir
    from dtsen.serve.match_job import match_file
    from dtsen.serve.releases import ServingReleases

    data = args.project or prepare(args.persons, args.seed, args.memory_limit)
    settings = load_settings(data)
    mem = PeakMemory()
    if not args.skip_index:
        engine = Engine.duckdb(memory_limit=args.memory_limit)
        mem.reset()
        info = index_release(settings, engine=engine)
        engine.close()
        size = sum(f.stat().st_size for f in info.path.rglob("*") if f.is_file())
        print(f"serving index of {info.release_id}: {info.seconds:.1f} s, {size / 1e6:.0f} MB on disk, "
              f"peak RSS {mem.peak / 1e9:.2f} GB, {info.counts}")
    releases = ServingReleases.from_settings(settings)
    releases.refresh()
    rid = releases.current_id
    index_dir = serving_dir(settings) / str(rid)

    con = duckdb.connect()
    known = [r[0] for r in con.execute(
        "SELECT nik FROM read_parquet(?) WHERE nik IS NOT NULL USING SAMPLE 20000 ROWS (reservoir, 1)",
        [str(index_dir / "match.parquet" / "*.parquet")]).fetchall()]
    con.close()
    rng = random.Random(args.seed)
    misses = ["3204" + "".join(rng.choice("0123456789") for _ in range(12)) for _ in range(len(known) // 9)]
    niks = known + misses
    print(f"\nNIK lookups on {rid} (library level, {len(known):,} known and {len(misses):,} unknown NIKs, "
          f"switch interval {sys.getswitchinterval() * 1e3:g} ms):")
    print(f"{'threads':>8} {'run':>4} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'lookups/s':>10}")
    for threads in args.threads:
        p99s = []
        for run in range(args.repeat):
            r = bench_lookups(releases, niks, threads, max(1, args.lookups // threads))
            p99s.append(r["p99_ms"])
            print(f"{threads:>8} {run + 1:>4} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['mean_ms']:>8.3f} "
                  f"{r['per_s']:>10,.0f}")
        print(f"{threads:>8} {'med':>4} {'':>8} {statistics.median(p99s):>8.3f}")

    if args.skip_match:
        releases.close()
        return
    upload = make_upload(settings.path(settings.release.dir) / str(rid), args.upload_rows, args.seed, Path(f"/tmp/dtsen-api-upload-{args.upload_rows}.csv"))
    out = Path("/tmp/dtsen-api-padan")
    stages: dict[str, float] = {}
    clock = {"at": time.perf_counter()}
    current = {"stage": ""}

    def on_progress(stage: str, done: float) -> None:
        now = time.perf_counter()
        if current["stage"]:
            stages[current["stage"]] = stages.get(current["stage"], 0.0) + now - clock["at"]
        clock["at"], current["stage"] = now, stage

    mem.reset()
    with releases.acquire() as h:
        result = match_file(h, upload, out, on_progress=on_progress, memory_limit=args.memory_limit)
    releases.close()
    print(f"\nBulk matching of {result.rows:,} rows against {rid}: {result.seconds:.2f} s, "
          f"{result.rows / result.seconds:,.0f} rows/s, peak RSS {mem.peak / 1e9:.2f} GB")
    print("  stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print("  statuses: " + ", ".join(f"{k} {v:,}" for k, v in result.counts.items()))
    con = duckdb.connect()
    rows = con.execute(
        "SELECT p.plan, r.status, count(*) AS n, sum(CAST(r.person_id = p.person_id AS INT)) AS right_person "
        "FROM read_parquet(?) r JOIN read_parquet(?) p ON r.row = p.k + 1 GROUP BY ALL ORDER BY ALL",
        [str(result.path), str(upload.with_suffix(".plan.parquet"))]).fetchall()
    print(f"  {'planted':<8} {'status':<14} {'rows':>8} {'same person':>12}")
    for plan, status, n, right in rows:
        print(f"  {plan:<8} {status:<14} {n:>8,} {right or 0:>12,}")


if __name__ == "__main__":
    main()
