"""dtsen's linkage against a plain Splink baseline, in one process, on the same synthetic data.

    uv run python benchmarks/linkage.py [--persons 1000000] [--seed 7] [--data DIR] [--skip-baseline]

Synthesises the population (in a separate process) and ingests it once if that was not done
yet, then runs, on DuckDB:

- dtsen: the whole `dtsen link` job (deterministic NIK pass, Splink on the nodes, clusters,
  stable ids, golden persons and families), timed per phase;
- the baseline: the configuration Splink's documentation shows for person data (name with
  Jaro-Winkler, date of birth, an id (the NIK) and location (the village), u by random sampling,
  m by EM, blocking on the id, name + birth date and birth date + village), clustered at 0.9,
  on the same records, read through dtsen's ingest (so a NIK damaged by Excel is missing there,
  as an afternoon's loading code would make it),

and prints for each: wall time per phase, peak resident memory during the run, candidate pairs
per record, and pairwise precision, recall and F1 against the ground truth over EVERY person row
read (a row ingest quarantined is a person of its own, so dropping a row costs recall), and over
the accepted rows only. For dtsen also: the NIKs held by two golden persons whose names agree,
and the family-level records attached to the right family.
Targets (issue 12): person F1 over all rows >= 0.998 and above the baseline; no NIK held by two
golden persons whose names agree; family-level records attached to the right family >= 95%.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import ibis
import psutil

from benchmarks.population import synthesise
from dtsen.config import Settings, load_settings
from dtsen.engine import Engine
from dtsen.link import model
from dtsen.link.evaluation import evaluate_links, family_attachment, load_truth, shared_niks
from dtsen.link.pipeline import link
from dtsen.link.records import load_records


def _rss(proc: psutil.Process) -> int:
    """Resident memory of a process and its children (a Spark driver's JVM is one)."""
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with suppress(psutil.Error):
            total += child.memory_info().rss
    return total


class PeakMemory:
    """Samples the resident memory of this process and its children every 0.1 s; `peak` since
    the last reset."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss(self._proc))
            time.sleep(0.1)

    def reset(self) -> None:
        self.peak = _rss(self._proc)

    def stop(self) -> None:
        self._stop.set()


@contextmanager
def timed(phases: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    phases[name] = time.perf_counter() - t0


def prepare(data: Path, persons: int, seed: int) -> None:
    synthesise(data, persons, seed, quiet=False)
    if not (data / "work" / "ingest" / "report.json").exists():
        subprocess.run([sys.executable, "-m", "dtsen", "ingest", "--project", str(data)], check=True)


def run_dtsen(engine: Engine, settings: Settings) -> tuple[dict[str, float], Any, int, int]:
    result = link(engine, settings)
    links = engine.read_parquet(result.out_dir / "links.parquet")
    nodes = result.counts["nodes"]
    records = result.counts["records_person"]
    shared = shared_niks(engine.read_parquet(result.out_dir / "persons.parquet"))
    print(f"   (dtsen: NIKs held by two or more golden persons: {shared.niks:,}, "
          f"of which with agreeing names: {shared.names_agree:,})")
    for note in result.notes:
        print(f"   note: {note}")
    return dict(result.timings), links, records, nodes


def baseline_settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            cl.JaroWinklerAtThresholds("full_name", [0.9, 0.7]),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.ExactMatch("nik"),
            cl.ExactMatch("region_code"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("nik"),
            block_on("full_name", "birth_date"),
            block_on("birth_date", "region_code"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run_baseline(engine: Engine, settings: Settings) -> tuple[dict[str, float], Any, int]:
    from splink import Linker, block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    model._quiet()
    phases: dict[str, float] = {}
    with timed(phases, "read"):
        li = load_records(engine, settings)
        recs = engine.materialize(li.person.select("record_key", "source", "file", "sheet", "row", "full_name",
                                                   "birth_date", "nik", "region_code"))
    db = engine.splink_db_api()
    with timed(phases, "train"):
        linker = Linker(db.register(engine.physical_name(recs)), baseline_settings(), log_level=None)
        linker.training.estimate_probability_two_random_records_match([block_on("nik")], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=42)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    with timed(phases, "predict"):
        scored = linker.inference.predict(threshold_match_probability=0.9)
    with timed(phases, "cluster"):
        clusters = cluster_pairwise_predictions_at_threshold(
            db.register(engine.physical_name(recs)), scored, db_api=db, node_id_column_name="record_key",
            threshold_match_probability=0.9)
        c = engine.con.table(clusters.physical_name)
        rank = ibis.dense_rank().over(order_by=c.cluster_id)
        ids = engine.materialize(c.select("record_key", person_id=rank.cast("int64")))
    counted = count_comparisons_from_blocking_rules(
        db.register(engine.physical_name(recs)),
        blocking_rules=baseline_settings().blocking_rules_to_generate_predictions,
        link_type="dedupe_only", unique_id_column_name="record_key", record_sample_proportion=1.0)
    links = recs.join(ids, "record_key").select(
        "source", "file", "sheet", "row", "person_id", level=ibis.literal("person"),
        family_id=ibis.null("int64"))
    return phases, links, int(counted[-1]["cumulative_comparison_count"])


def report(name: str, phases: dict[str, float], peak: int, pairs_per_record: float,
           scores: Any) -> None:
    total = sum(phases.values())
    print(f"\n== {name}")
    print("   phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()) + f"; total {total:.1f}")
    print(f"   peak RSS {peak / 2**20:,.0f} MB; candidate pairs per record {pairs_per_record:.2f}")
    p = scores.persons
    print(f"   persons, every row read: precision {p.precision:.5f} recall {p.recall:.5f} F1 {p.f1:.5f} "
          f"(B-cubed F1 {p.bcubed_f1:.5f}; {p.records:,} rows, {p.quarantined:,} quarantined, "
          f"{p.true_clusters:,} true persons, {p.predicted_clusters:,} predicted)")
    a = scores.persons_accepted
    print(f"   persons, accepted rows:  precision {a.precision:.5f} recall {a.recall:.5f} F1 {a.f1:.5f} "
          f"({a.records:,} rows)")
    f = scores.families
    if f.predicted_pairs:
        print(f"   families: precision {f.precision:.5f} recall {f.recall:.5f} F1 {f.f1:.5f} "
              f"(exact {f.exact_share:.4f} of {f.true_clusters:,} true families)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    data = args.data or Path(f"/tmp/dtsen-bench-{args.persons}-{args.seed}")
    prepare(data, args.persons, args.seed)
    settings = load_settings(data)
    settings.engine.memory_limit = args.memory_limit
    mem = PeakMemory()
    runs: list[tuple[str, Callable[[Engine], Any]]] = [("dtsen", lambda e: run_dtsen(e, settings))]
    if not args.skip_baseline:
        runs.append(("plain Splink baseline", lambda e: run_baseline(e, settings)))
    for name, run in runs:
        engine = Engine.from_settings(settings.engine)
        mem.reset()
        if name == "dtsen":
            phases, links, records, nodes = run(engine)
            peak = mem.peak
            per_record = _dtsen_pairs(engine, settings) / records
            print(f"   (dtsen: {records:,} person records -> {nodes:,} nodes for Splink)")
        else:
            phases, links, pairs = run(engine)
            peak = mem.peak
            per_record = pairs / links.count().execute()
        truth = load_truth(engine, data / "truth")
        scores = evaluate_links(engine, links, truth)
        report(name, phases, peak, per_record, scores)
        if name == "dtsen":
            att = family_attachment(links, truth)
            print(f"   family-level records attached to the right family: {att.right:,} of {att.records:,} "
                  f"({att.share:.4f}; {att.attached:,} attached to some family)")
        engine.close()
    mem.stop()


def _dtsen_pairs(engine: Engine, settings: Settings) -> int:
    """Candidate pairs of dtsen's prediction rules on its nodes (records sharing an agreeing
    NIK are one node, compared once). Counted after the timed run, outside it."""
    from dtsen.link.deterministic import nik_pass, source_rank

    li = load_records(engine, settings)
    trust = {n: dict(s.trust) for n, s in settings.sources.items() if s.level == "person"}
    det = nik_pass(li.person, source_rank(trust))
    a = engine.materialize(det.assignment)
    rows = li.person.join(a.filter(a.record_key == a.node_key), "record_key")
    rows = rows.mutate(nik=ibis.ifelse(rows.nik_conflict, ibis.null("string"), rows.nik))
    nodes = engine.materialize(model.features(rows).rename(unique_id="record_key"))
    return model.count_candidates(engine, nodes)


if __name__ == "__main__":
    main()
