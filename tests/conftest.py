"""Shared fixtures: an engine per backend, and the shared reference data when present."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dtsen.engine import Engine

pytest_plugins = ["tests.store.fixtures"]  # the operational store on SQLite and PostgreSQL

if TYPE_CHECKING:
    from dtsen.release.build import BuildResult

# the CLI's output into CliRunner is not wrapped at 140 columns, so that texts the tests look for
# are not cut by a long temporary path (xdist's are longer)
os.environ.setdefault("DTSEN_CONSOLE_WIDTH", "2000")

REFDATA = Path(__file__).resolve().parents[1].parent / "shared" / "refdata"


def spark_skip_reason() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (uv sync --extra spark)"
    if shutil.which("java") is None:
        return "Java is not on the PATH; Spark tests need a JDK"
    return None


_SPARK: Engine | None = None


def _spark_engine() -> Engine:
    global _SPARK
    if _SPARK is None:
        _SPARK = Engine.spark("local[2]", driver_memory="2g")
    return _SPARK


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Every engine test runs on DuckDB, and on Spark where Java and PySpark are present."""
    if request.param == "spark":
        reason = spark_skip_reason()
        if reason:
            pytest.skip(reason)
        yield _spark_engine()
        return
    eng = Engine.duckdb(memory_limit="2GB", threads=2)
    yield eng
    eng.close()


@pytest.fixture
def duck() -> Iterator[Engine]:
    eng = Engine.duckdb(memory_limit="2GB", threads=2)
    yield eng
    eng.close()


def regency_project(out: Path, persons: int, seed: int) -> Path:
    """A synthetic project of one regency (Kab. Bandung with the shared region list, synthetic
    regions without it), written to `out`."""
    from dtsen.synth import generate

    if (REFDATA / "regions.csv").exists():
        generate(out, persons=persons, seed=seed, regions=REFDATA / "regions.csv", names=REFDATA / "names.csv",
                 region_scope="32.04")
    else:
        generate(out, persons=persons, seed=seed)
    return out


def build_on_duckdb(project: Path) -> BuildResult:
    """`dtsen build` of `project` on a fresh, closed-after DuckDB engine."""
    from dtsen.config import load_settings
    from dtsen.release.build import build

    engine = Engine.duckdb(memory_limit="2GB", threads=2)
    try:
        return build(engine, load_settings(project))
    finally:
        engine.close()


@pytest.fixture(scope="session")
def refdata() -> Path:
    if not (REFDATA / "regions.csv").exists():
        pytest.skip(f"shared reference data not found at {REFDATA}")
    return REFDATA


# Test files that take minutes (a whole build on Spark): run first, so that the two test workers
# (`--dist loadfile`) finish together instead of one waiting on the other at the end.
SLOWEST_FIRST = ("tests/release/test_build_spark.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in SLOWEST_FIRST)  # stable: order kept otherwise
