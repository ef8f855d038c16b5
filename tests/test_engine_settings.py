"""Spark settings of the engine: shuffle partitions sized to the cores, how Splink cuts lineage."""

from __future__ import annotations

import pytest

from dtsen.config import EngineSettings
from dtsen.engine import Engine, shuffle_partitions


def test_shuffle_partitions_three_per_core_at_least_four() -> None:
    assert shuffle_partitions(1) == 4
    assert shuffle_partitions(2) == 6
    assert shuffle_partitions(64) == 192


def test_engine_settings_defaults_and_validation() -> None:
    s = EngineSettings()
    assert s.spark_shuffle_partitions is None
    assert s.spark_checkpoint_dir is None
    assert s.spark_break_lineage == "parquet"  # Splink's own default, proven in the parity tests
    with pytest.raises(ValueError):
        EngineSettings(spark_break_lineage="delta")
    with pytest.raises(ValueError):
        EngineSettings(spark_shuffle_partitions=0)


@pytest.mark.spark
def test_spark_session_gets_sized_partitions_and_the_lineage_setting(engine: Engine) -> None:
    if engine.kind != "spark":
        pytest.skip("Spark only")
    cores = engine._spark.sparkContext.defaultParallelism
    assert engine._spark.conf.get("spark.sql.shuffle.partitions") == str(shuffle_partitions(cores))
    assert engine._spark.conf.get("spark.sql.adaptive.enabled") == "true"
    api = engine.splink_db_api()
    assert api.break_lineage_method == "parquet"
    assert api.num_partitions_on_repartition == shuffle_partitions(cores)
