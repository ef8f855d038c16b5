"""The linkage on DuckDB and on Spark gives the same persons, families and golden records."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.ingest.pipeline import ingest
from dtsen.link.pipeline import link
from dtsen.synth import generate

from ..conftest import REFDATA, spark_skip_reason


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parity")
    regions = REFDATA / "regions.csv"
    if regions.exists():
        generate(out, persons=600, seed=5, regions=regions, names=REFDATA / "names.csv", region_scope="32.04")
    else:
        generate(out, persons=600, seed=5)
    engine = Engine.duckdb(memory_limit="2GB", threads=2)
    try:
        ingest(load_settings(out), engine)
    finally:
        engine.close()
    return out


def _run(project: Path, engine: Engine) -> dict[str, list[dict[str, object]]]:
    settings = load_settings(project)
    result = link(engine, settings)
    out = {}
    for name, key in (("links", ["record_key"]), ("persons", ["person_id"]), ("families", ["family_id"])):
        t = pq.read_table(result.out_dir / f"{name}.parquet").sort_by([(k, "ascending") for k in key])
        if name == "links":
            t = t.drop_columns(["match_probability"])
        out[name] = t.to_pylist()
    return out


@pytest.mark.spark
def test_duckdb_and_spark_link_alike(ingested: Path, tmp_path: Path) -> None:
    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    from ..conftest import _spark_engine

    spark_project = tmp_path / "spark"
    shutil.copytree(ingested, spark_project)
    shutil.rmtree(spark_project / "work" / "link", ignore_errors=True)
    duck = Engine.duckdb(memory_limit="2GB", threads=2)
    try:
        a = _run(ingested, duck)
    finally:
        duck.close()
    b = _run(spark_project, _spark_engine())
    for name in a:
        assert len(a[name]) == len(b[name]) > 0, name
        diff = [(ra, rb) for ra, rb in zip(a[name], b[name], strict=True) if ra != rb]
        assert not diff, f"{name}: {len(diff)} rows differ, e.g. {diff[:2]}"
