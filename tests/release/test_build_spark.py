"""`dtsen build` end to end on Spark gives the release DuckDB gives (the steps are held to the
same output one by one elsewhere; this holds the whole job to it)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.release.build import build

from ..conftest import _spark_engine, build_on_duckdb, regency_project, spark_skip_reason

PERSONS = 600
# what must agree exactly between the engines, per table
KEYS = {
    "persons": ["person_id", "nik", "kk", "full_name", "birth_date", "sex", "region_code", "is_deceased", "family_id"],
    "families": ["family_id", "kk", "region_code", "size", "head_person_id", "decile", "poor", "extreme_poor"],
    "links": ["source", "file", "row", "person_id", "family_id"],
    "quarantine": ["source", "file", "row", "reasons"],
    "verification_candidates": ["family_id", "selection", "priority", "signals"],
}


def _table(release: Path, name: str) -> pa.Table:
    t = read_parquet_arrow(release / f"{name}.parquet")
    columns = KEYS[name]
    return t.select(columns).sort_by([(c, "ascending") for c in columns])


@pytest.mark.spark
def test_build_on_spark_gives_the_duckdb_release(tmp_path: Path) -> None:
    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    project = regency_project(tmp_path / "duckdb", PERSONS, seed=5)
    shutil.copytree(project, tmp_path / "spark")
    on_duckdb = build_on_duckdb(project)
    old = os.umask(0o077)  # as every dtsen command sets it at start
    try:
        on_spark = build(_spark_engine(), load_settings(tmp_path / "spark"))
    finally:
        os.umask(old)
    # what Spark (Hadoop) writes is owner-only too, though Hadoop sets modes itself
    written = [p for top in ("work", "releases") for p in (tmp_path / "spark" / top).rglob("*")]
    assert len(written) > 50
    assert [str(p) for p in written if stat.S_IMODE(p.lstat().st_mode) & 0o077] == []

    a, b = on_duckdb.manifest, on_spark.manifest
    assert a["accounting"] == b["accounting"]
    assert a["metrics"]["persons"] == b["metrics"]["persons"] > 0
    assert a["metrics"]["families"] == b["metrics"]["families"] > 0
    differ = []
    for name in KEYS:
        assert a["tables"][name]["rows"] == b["tables"][name]["rows"], name
        # values, not schemas: Spark writes some columns as not-null
        if _table(on_duckdb.path, name).to_pylist() != _table(on_spark.path, name).to_pylist():
            differ.append(name)
    assert differ == []
