"""The whole front of the pipeline on synthetic data: engine parity and the planted truth."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.ingest.pipeline import ingest
from dtsen.synth import generate

from .conftest import REFDATA, spark_skip_reason


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    regions = REFDATA / "regions.csv"
    if regions.exists():
        generate(out, persons=4000, seed=11, regions=regions, names=REFDATA / "names.csv", region_scope="32.04")
    else:
        generate(out, persons=4000, seed=11)
    return out


def run(project: Path, engine: Engine, work: str) -> Path:
    settings = load_settings(project)
    settings.ingest.work_dir = Path(work)
    report = ingest(settings, engine)
    assert report.rows_read == report.accepted + report.quarantined > 0
    return settings.work_dir / "ingest"


def outputs(ingest_dir: Path) -> dict[str, list[dict[str, object]]]:
    found = {}
    for kind in ("records", "quarantine"):
        for d in sorted((ingest_dir / kind).iterdir()):
            found[f"{kind}/{d.name}"] = read_parquet_arrow(d).to_pylist()
    return found


@pytest.fixture(scope="module")
def duck_run(synthetic: Path) -> Path:
    engine = Engine.duckdb(memory_limit="2GB", threads=2)
    try:
        return run(synthetic, engine, "work-duckdb")
    finally:
        engine.close()


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_output(synthetic: Path, duck_run: Path) -> None:
    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    from .conftest import _spark_engine

    spark_dir = run(synthetic, _spark_engine(), "work-spark")
    a, b = outputs(duck_run), outputs(spark_dir)
    assert a.keys() == b.keys()
    for key in a:
        assert len(a[key]) == len(b[key]), key
        for ra, rb in zip(a[key], b[key], strict=True):
            assert ra == rb, f"{key}: {ra} != {rb}"


def quarantined_keys(ingest_dir: Path, reason: str | None = None) -> set[tuple[str, str, str, int]]:
    keys = set()
    for d in (ingest_dir / "quarantine").iterdir():
        t = read_parquet_arrow(d)
        if reason:
            t = t.filter(pc.match_substring(pc.fill_null(t["reasons"], ""), reason))
        for r in t.select(["source", "file", "sheet", "row"]).to_pylist():
            keys.add((r["source"], r["file"], r["sheet"] or "", r["row"]))
    return keys


def truth_keys(project: Path, error: str) -> tuple[set[tuple[str, str, str, int]], set[tuple[str, str, str, int]]]:
    truth = pq.read_table(project / "truth" / "records.parquet")
    damaged: set[tuple[str, str, str, int]] = set()
    clean: set[tuple[str, str, str, int]] = set()
    for r in truth.select(["source", "file", "sheet", "row", "errors"]).to_pylist():
        key = (r["source"], r["file"], r["sheet"] or "", r["row"])
        (damaged if error in (r["errors"] or []) else clean).add(key)
    return damaged, clean


def flagged_keys(ingest_dir: Path, flag: str) -> dict[tuple[str, str, str, int], object]:
    """Accepted rows whose flags hold `flag`, with their NIK."""
    keys: dict[tuple[str, str, str, int], object] = {}
    for d in (ingest_dir / "records").iterdir():
        t = read_parquet_arrow(d)
        if "nik" not in t.column_names:
            continue
        t = t.filter(pc.match_substring(pc.fill_null(t["flags"], ""), flag))
        for r in t.select(["source", "file", "sheet", "row", "nik"]).to_pylist():
            keys[(r["source"], r["file"], r["sheet"] or "", r["row"])] = r["nik"]
    return keys


def test_every_planted_excel_damaged_nik_is_withheld_and_no_clean_one(synthetic: Path, duck_run: Path) -> None:
    """A NIK damaged by Excel is never used, but the row is kept (issue 12): flagged, NIK null."""
    damaged, clean = truth_keys(synthetic, "nik_excel_damaged")
    assert len(damaged) >= 20, "the synthetic sources should plant Excel-damaged NIKs"
    flagged = flagged_keys(duck_run, "nik_excel_damaged")
    quarantined = quarantined_keys(duck_run)
    assert damaged <= set(flagged) | quarantined, sorted(damaged - set(flagged) - quarantined)[:10]
    assert len(damaged & set(flagged)) > 0.95 * len(damaged)  # kept, not quarantined
    assert {k: v for k, v in flagged.items() if v is not None} == {}
    assert not (set(flagged) & clean), sorted(set(flagged) & clean)[:10]


def test_accepted_rows_carry_the_true_nik(synthetic: Path, duck_run: Path) -> None:
    truth = pq.read_table(synthetic / "truth" / "records.parquet")
    persons = pq.read_table(synthetic / "truth" / "persons.parquet")
    recs = read_parquet_arrow(duck_run / "records" / "dukcapil")
    assert recs.num_rows > 0
    assert recs.schema.field("birth_date").type == pa.date32()
    recs = recs.select(["source", "file", "row", "nik"])
    joined = recs.join(truth.select(["source", "file", "row", "person_id"]), keys=["source", "file", "row"])
    joined = joined.join(persons.select(["person_id", "nik"]).rename_columns(["person_id", "true_nik"]),
                         keys="person_id")
    same = pc.sum(pc.equal(joined["nik"], joined["true_nik"])).as_py()
    assert joined.num_rows == recs.num_rows
    assert same / joined.num_rows > 0.99
