"""`dtsen build` on a standalone Spark cluster on this machine: a master and two workers started
from the PySpark installation (`bin/spark-class`), on loopback, each worker with its own work
directory, so that the build runs the code path of a real cluster: executors in other JVM and
Python processes than the driver, results shipped between processes, files read and written
only through the paths the settings give (absolute), never through the driver's current
directory.

    uv run python -u -m benchmarks.spark_cluster [--persons 2000] [--seed 5] [--workers 2]

Prints the time of each step on the cluster, then builds the same project on DuckDB and
compares the two releases (row accounting, counts, and the key columns of persons, families,
links, quarantine and ground-check candidates); exits non-zero when they differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.release.build import build

KEYS = {
    "persons": ["person_id", "nik", "kk", "full_name", "birth_date", "sex", "region_code", "is_deceased", "family_id"],
    "families": ["family_id", "kk", "region_code", "size", "head_person_id", "decile", "poor", "extreme_poor"],
    "links": ["source", "file", "row", "person_id", "family_id"],
    "quarantine": ["source", "file", "row", "reasons"],
    "verification_candidates": ["family_id", "selection", "priority", "signals"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(log: Path, text: str, seconds: float = 90.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{log} never said {text!r}:\n{log.read_text(errors='replace')[-2000:]}")


@contextmanager
def standalone_cluster(workers: int, cores: int, memory: str, root: Path) -> Iterator[str]:
    """A Spark master and `workers` workers on loopback; yields the master URL."""
    import pyspark

    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_NO_DAEMONIZE": "1",
           "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        log = root / "master.log"
        procs.append(subprocess.Popen(
            [str(home / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(_free_port())],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=root))
        _wait_for(log, "I have been elected leader")
        for i in range(workers):
            wlog = root / f"worker-{i}.log"
            work = root / f"worker-{i}"
            work.mkdir()
            procs.append(subprocess.Popen(
                [str(home / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", url,
                 "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory, "--work-dir", str(work),
                 "--webui-port", str(_free_port())],
                stdout=wlog.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=work))
            _wait_for(wlog, "Successfully registered with master")
        yield url
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _table(release: Path, name: str) -> pa.Table:
    t = read_parquet_arrow(release / f"{name}.parquet")
    return t.select(KEYS[name]).sort_by([(c, "ascending") for c in KEYS[name]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cores", type=int, default=1, help="cores per worker")
    ap.add_argument("--memory", default="2g", help="memory per worker")
    args = ap.parse_args()
    from benchmarks.build import prepare

    data = prepare(args.persons, args.seed)
    with tempfile.TemporaryDirectory(prefix="dtsen-cluster-") as tmp:
        root = Path(tmp)
        on_spark = root / "spark-project"
        on_duck = root / "duckdb-project"
        shutil.copytree(data, on_spark)
        shutil.copytree(data, on_duck)
        # the driver runs somewhere else than the project: every path must come from the settings
        os.chdir(root)
        with standalone_cluster(args.workers, args.cores, args.memory, root) as url:
            settings = load_settings(on_spark)
            settings.engine.kind = "spark"
            settings.engine.spark_master = url
            settings.engine.spark_conf = {**settings.engine.spark_conf, "spark.driver.host": "127.0.0.1",
                                          "spark.executor.memory": args.memory}
            engine = Engine.from_settings(settings.engine)
            t0 = time.perf_counter()
            spark_result = build(engine, settings)
            total = time.perf_counter() - t0
            engine._spark.stop()
        print(f"\n{args.persons:,} persons on a standalone cluster ({args.workers} workers x {args.cores} core, {url})")
        for step, secs in spark_result.steps.items():
            print(f"  {step:<10} {secs:>8.1f} s")
        print(f"  {'total':<10} {total:>8.1f} s")
        duck = Engine.duckdb(memory_limit="4GB")
        t0 = time.perf_counter()
        duck_result = build(duck, load_settings(on_duck))
        print(f"  same build on DuckDB: {time.perf_counter() - t0:.1f} s")
        duck.close()
        a, b = duck_result.manifest, spark_result.manifest
        differ = [] if a["accounting"] == b["accounting"] else ["accounting"]
        for name in KEYS:
            if _table(duck_result.path, name).to_pylist() != _table(spark_result.path, name).to_pylist():
                differ.append(name)
        print("releases agree" if not differ else f"releases DIFFER in: {', '.join(differ)}")
        if differ:
            sys.exit(1)


if __name__ == "__main__":
    main()
