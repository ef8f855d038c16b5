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

5. The same over HTTP (`--http`, on by default; `--stores sqlite postgresql`): `dtsen serve` (uvicorn,
   one worker) on loopback, on the project's SQLite store and on a throwaway PostgreSQL cluster
   (initdb/pg_ctl as the tests start one); a machine client with a token; `wrk` (Debian package
   `wrk`) in another process sends `POST /api/persons/by-nik?purpose=eligibility` with a random NIK
   of the same list over 1, 8 and 32 connections for `--seconds` each: p50, p99, requests per
   second. Every lookup is a full request: token check against the store, the policy, the index,
   and an audit entry committed before the response (group commit). Then the upload is matched
   through `POST /api/match` (multipart), its status polled, its results downloaded as Parquet:
   rows per second from the start of the upload to the results in hand. The service's rate
   limit is raised for the run (DTSEN_API__RATE_PER_MINUTE).

`CPU ms/req` is the service process's CPU time per request during the run: on a shared machine
it says more than the latencies, which follow whatever else runs.

Targets (issue 14): NIK lookup p99 under 10 ms at 32 concurrent clients with one worker; bulk
matching at least 20,000 rows per second for 100,000 rows against 1,000,000 persons.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from benchmarks.latency import concurrent_latencies, no_context
from benchmarks.linkage import PeakMemory
from benchmarks.population import synthesise
from benchmarks.service_process import dtsen_service
from dtsen.config import load_settings
from dtsen.engine import Engine


def prepare(persons: int, seed: int, memory_limit: str) -> Path:
    data = Path(f"/tmp/dtsen-api-{persons}-{seed}")
    synthesise(data, persons, seed)
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


def bench_lookups(releases: object, niks: list[str], threads: int, per_thread: int) -> dict[str, float]:
    from dtsen.serve.lookups import person_by_nik

    def step(rng: random.Random) -> bool:
        with releases.acquire() as h:  # type: ignore[attr-defined]
            person_by_nik(h, niks[rng.randrange(len(niks))])  # a NIK not in the registry is an answer too
        return True

    return concurrent_latencies(lambda _k: no_context(step), threads, per_thread)


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


WRK_SCRIPT = """
local niks = {}
for line in io.lines(os.getenv("DTSEN_BENCH_NIKS")) do niks[#niks + 1] = line end
local token = os.getenv("DTSEN_BENCH_TOKEN")
request = function()
  local body = '{"nik": "' .. niks[math.random(#niks)] .. '"}'
  return wrk.format("POST", "/api/persons/by-nik?purpose=eligibility",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000, summary.errors.status,
    summary.errors.timeout))
end
"""


@contextlib.contextmanager
def store_url(kind: str, data: Path) -> Iterator[str]:
    """The project's SQLite store, or a database on a throwaway PostgreSQL cluster."""
    if kind == "sqlite":
        yield f"sqlite:///{data / 'store' / 'bench.sqlite3'}"
        return
    from tests.store.fixtures import PgCluster, _base_dir, _unprivileged, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries not found (Debian package `postgresql`)")
    owner = _unprivileged()
    cluster = PgCluster(bin_dir, Path(tempfile.mkdtemp(prefix="dtsen-bench-pg-", dir=_base_dir(owner))), owner=owner)
    cluster.start()
    try:
        yield cluster.create_database("bench")
    finally:
        cluster.stop()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_service(data: Path, url: str) -> Iterator[tuple[str, str, int]]:
    """`dtsen serve` on the project with `url` as its store; (base URL, a client's token, its pid)."""
    import httpx

    from dtsen.security.context import Security
    from dtsen.security.principal import Grant
    from dtsen.store.connection import Store
    from dtsen.store.migrate import upgrade

    env = {**os.environ, "DTSEN_STORE__URL": url, "DTSEN_API__RATE_PER_MINUTE": "100000000",
           "DTSEN_API__RATE_BURST": "10000000", "DTSEN_API__MAX_UPLOAD_BYTES": str(1 << 30)}
    os.environ.update({k: env[k] for k in ("DTSEN_STORE__URL",)})
    settings = load_settings(data)
    store = Store.from_settings(settings.store, settings.project.root)
    upgrade(store)
    store.dispose()
    sec = Security.open(settings)
    name = f"bench-{random.randrange(10**9)}"
    secret = sec.accounts.add_client(name, "benchmark", [Grant("client", "", frozenset({"eligibility", "targeting"}))],
                                     actor="cli:bench").secret
    sec.close()
    with dtsen_service(data, env=env) as (base, proc):
        token = httpx.post(f"{base}/auth/token", data={"grant_type": "client_credentials", "client_id": name,
                                                       "client_secret": secret}).json()["access_token"]
        yield base, token, proc.pid


def bench_http_lookups(base: str, token: str, niks: list[str], connections: int, seconds: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="dtsen-wrk-"))
    try:
        (work / "niks.txt").write_text("\n".join(niks) + "\n")
        (work / "lookup.lua").write_text(WRK_SCRIPT)
        env = {**os.environ, "DTSEN_BENCH_NIKS": str(work / "niks.txt"), "DTSEN_BENCH_TOKEN": token}
        out = subprocess.run(["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                              "-s", str(work / "lookup.lua"), base], env=env, capture_output=True, text=True,
                             check=True).stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out)
    assert m, out
    n, micros, p50, p99, mean, non2xx, timeouts = m.groups()
    return {"requests": int(n), "per_s": int(n) / (int(micros) / 1e6), "p50_ms": float(p50), "p99_ms": float(p99),
            "mean_ms": float(mean), "non_2xx": int(non2xx), "timeouts": int(timeouts)}


def bench_http_match(base: str, token: str, upload: Path) -> dict[str, float]:
    import httpx
    import pyarrow.parquet as pq

    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, upload.open("rb") as fh:
        job = http.post("/api/match?purpose=targeting", files={"file": (upload.name, fh, "text/csv")}).json()["job_id"]
        uploaded = time.perf_counter() - t0
        while True:
            status = http.get(f"/api/match/{job}").json()
            if status["state"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert status["state"] == "done", status
        matched = time.perf_counter() - t0
        results = http.get(f"/api/match/{job}/results?purpose=targeting&format=parquet")
        rows = pq.read_table(io.BytesIO(results.content)).num_rows
    total = time.perf_counter() - t0
    return {"rows": rows, "upload_s": uploaded, "matched_s": matched, "total_s": total, "per_s": rows / total,
            "counts": status["counts"]}


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
    ap.add_argument("--http", action=argparse.BooleanOptionalAction, default=True, help="the HTTP level too")
    ap.add_argument("--library", action=argparse.BooleanOptionalAction, default=True, help="the library level")
    ap.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--seconds", type=int, default=15, help="seconds of wrk per connection count")
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
    upload = make_upload(settings.path(settings.release.dir) / str(rid), args.upload_rows, args.seed,
                         Path(f"/tmp/dtsen-api-upload-{args.upload_rows}.csv"))
    if args.http:
        releases.close()
        for kind in args.stores:
            with store_url(kind, data) as url, running_service(data, url) as (base, token, pid):
                print(f"\nHTTP on {kind} (dtsen serve, one worker; wrk over loopback; every lookup audited):")
                print(f"{'conns':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'req/s':>8} {'non-2xx':>8} "
                      f"{'CPU ms/req':>10}")
                bench_http_lookups(base, token, niks, 8, 3)  # warm up
                for c in args.threads:
                    cpu = cpu_seconds(pid)
                    r = bench_http_lookups(base, token, niks, c, args.seconds)
                    per = (cpu_seconds(pid) - cpu) / r["requests"] * 1e3
                    print(f"{c:>6} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['mean_ms']:>8.2f} {r['per_s']:>8,.0f} "
                          f"{r['non_2xx']:>8,} {per:>10.2f}")
                if not args.skip_match:
                    m = bench_http_match(base, token, upload)
                    print(f"bulk matching over HTTP: {m['rows']:,} rows, upload {m['upload_s']:.1f} s, matched at "
                          f"{m['matched_s']:.1f} s, results in hand at {m['total_s']:.1f} s: {m['per_s']:,.0f} rows/s; "
                          f"{m['counts']}")
        releases = ServingReleases.from_settings(settings)
        releases.refresh()
    if not args.library:
        releases.close()
        return
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
