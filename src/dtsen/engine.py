"""The compute engine: one object holding the Ibis backend and the matching Splink DB API.

DuckDB (in-process, memory-limited, spilling to disk) is the embedded default; PySpark is the
distributed engine, imported only when asked for (the `dtsen[spark]` extra). Pipeline steps
take an `Engine` and work on Ibis tables, so the same code runs on both. Where the two
dialects differ, the difference is kept in `DIALECTS` below, not as branches in the pipeline.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from dtsen.errors import EngineError

if TYPE_CHECKING:
    from dtsen.config import EngineSettings

EngineKind = Literal["duckdb", "spark"]


@dataclass(frozen=True)
class Dialect:
    """What differs between engines, as data."""

    kind: EngineKind
    # Writing Parquet: DuckDB writes one file into the directory; Spark writes part files.
    single_file_output: bool


DIALECTS: dict[EngineKind, Dialect] = {
    "duckdb": Dialect("duckdb", single_file_output=True),
    "spark": Dialect("spark", single_file_output=False),
}

# Spark settings that make it behave like DuckDB on bad values (NULL instead of an error)
# and keep dates timezone-free, so that both engines give identical output.
SPARK_CONF: dict[str, str] = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # the shuffle partitions are sized to the session's cores when it starts (see
    # `shuffle_partitions`); adaptive execution merges the ones the data leaves small
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # Constraint propagation (inferred filters) grows exponentially on wide projections of
    # conditional expressions, and a local checkpoint copies a plan's constraints: ingesting a
    # 37-column file whose total-line test is such an expression filled a 2 GB driver heap.
    # dtsen's joins do not need the inferred not-null filters.
    "spark.sql.constraintPropagation.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    # Hadoop sets the modes of what Spark writes itself (umask 022 by default), whatever the
    # process's umask: owner-only files and folders, as dtsen writes everywhere else
    "spark.hadoop.fs.permissions.umask-mode": "077",
}


# How Splink cuts its long Spark plans (`SparkAPI(break_lineage_method=...)`): "persist" caches
# on the executors (memory, then their local disk), so nothing is written to shared storage;
# "parquet" and "checkpoint" write to the checkpoint directory.
BreakLineage = Literal["persist", "parquet", "checkpoint"]


def shuffle_partitions(cores: int) -> int:
    """Shuffle partitions for a session with `cores` cores: 3 per core, at least 4 (adaptive
    execution coalesces the partitions that the data leaves small)."""
    return max(4, 3 * cores)


class Engine:
    """Holds an Ibis backend and knows how to read and write Parquet on it."""

    def __init__(
        self,
        kind: EngineKind,
        backend: Any,
        *,
        spark: Any = None,
        tag: str = "",
        break_lineage: BreakLineage = "parquet",
    ) -> None:
        self.kind: EngineKind = kind
        self.dialect = DIALECTS[kind]
        self.con = backend
        self._spark = spark
        self.break_lineage: BreakLineage = break_lineage
        self._n = 0
        self._tag = tag  # in the names of the tables this engine makes (several share a database)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def duckdb(
        cls,
        database: str | Path = ":memory:",
        *,
        memory_limit: str = "4GB",
        threads: int | None = None,
        spill_dir: str | Path | None = None,
    ) -> Engine:
        config: dict[str, Any] = {"memory_limit": memory_limit, "preserve_insertion_order": True}
        if threads:
            config["threads"] = threads
        spill = Path(spill_dir) if spill_dir else Path(tempfile.gettempdir()) / "dtsen-spill"
        spill.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(spill)
        backend = ibis.duckdb.connect(database=str(database), **config)
        # Ibis 12 writes array lambdas (intersect, filter) as `x -> ...`, which DuckDB 2 refuses
        # unless told to accept the older syntax.
        backend.raw_sql("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
        return cls("duckdb", backend)

    def connection(self, tag: str) -> Engine:
        """Another connection to this DuckDB database, for work on another thread.

        The connections share the database (tables made by one are seen by all), its memory
        limit and its threads, so that two threads interleave their Python work (building and
        compiling expressions) with each other's queries. `tag` keeps their table names apart.
        Close it with `close()`. DuckDB only: a Spark session already runs work in parallel.
        """
        if self.kind != "duckdb":
            raise EngineError("Engine.connection is for DuckDB; Spark runs one session")
        backend = ibis.duckdb.from_connection(self.con.con.cursor())
        backend.raw_sql("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
        return Engine("duckdb", backend, tag=tag)

    def adopt(self, table: ir.Table) -> ir.Table:
        """A table materialized (or registered) by another connection of the same database."""
        return self.con.table(self.physical_name(table))

    @classmethod
    def spark(
        cls,
        master: str = "local[2]",
        *,
        driver_memory: str = "4g",
        conf: dict[str, str] | None = None,
        session: Any = None,
        partitions: int | None = None,
        checkpoint_dir: str | None = None,
        break_lineage: BreakLineage = "parquet",
    ) -> Engine:
        """A Spark engine. `partitions`: shuffle partitions (default `shuffle_partitions` of the
        session's cores, unless `conf` sets spark.sql.shuffle.partitions); `checkpoint_dir`:
        where checkpoints go (default a temp dir, which only a local session can use);
        `break_lineage`: how Splink cuts long plans (`BreakLineage`)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise EngineError(
                "engine = 'spark' needs PySpark: install the extra with "
                "`uv sync --extra spark` (or `pip install 'dtsen[spark]'`)"
            ) from exc
        if shutil.which("java") is None and session is None:
            raise EngineError("engine = 'spark' needs Java (a JDK 17 or 21) on the PATH")
        if session is None:
            builder = SparkSession.builder.master(master).appName("dtsen")
            # Python workers run this interpreter (the one that has dtsen), not whatever python3 the
            # PATH finds; a cluster whose executors have it elsewhere sets PYSPARK_PYTHON
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            for key, value in {**SPARK_CONF, **(conf or {})}.items():
                builder = builder.config(key, value)
            builder = builder.config("spark.driver.memory", driver_memory)
            try:
                from splink.backends.spark import similarity_jar_location

                builder = builder.config("spark.jars", similarity_jar_location())
            except ImportError:  # pragma: no cover
                pass
            session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        if partitions is not None:
            session.conf.set("spark.sql.shuffle.partitions", str(partitions))
        elif "spark.sql.shuffle.partitions" not in (conf or {}):
            session.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(session.sparkContext.defaultParallelism)))
        if checkpoint_dir:
            session.sparkContext.setCheckpointDir(checkpoint_dir)
        elif session.sparkContext.getCheckpointDir() is None:
            # Splink's "parquet" and "checkpoint" lineage cuts need a directory
            checkpoints = Path(tempfile.gettempdir()) / "dtsen-spark-checkpoints"
            checkpoints.mkdir(parents=True, exist_ok=True)
            session.sparkContext.setCheckpointDir(str(checkpoints))
        backend = ibis.pyspark.connect(session)
        return cls("spark", backend, spark=session, break_lineage=break_lineage)

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> Engine:
        if settings.kind == "spark":
            return cls.spark(
                settings.spark_master,
                driver_memory=settings.spark_driver_memory,
                conf=dict(settings.spark_conf),
                partitions=settings.spark_shuffle_partitions,
                checkpoint_dir=settings.spark_checkpoint_dir,
                break_lineage=settings.spark_break_lineage,
            )
        return cls.duckdb(
            settings.database,
            memory_limit=settings.memory_limit,
            threads=settings.threads,
            spill_dir=settings.spill_dir,
        )

    # -- splink ---------------------------------------------------------------------------
    def splink_db_api(self) -> Any:
        """The Splink database API on the same engine."""
        if self.kind == "spark":
            from splink import SparkAPI

            partitions = int(self._spark.conf.get("spark.sql.shuffle.partitions"))
            return SparkAPI(
                spark_session=self._spark,
                break_lineage_method=self.break_lineage,
                num_partitions_on_repartition=partitions,
            )
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con.con)

    @staticmethod
    def physical_name(table: ir.Table) -> str:
        """The bare name of a materialized table, as Splink wants it (no catalog or schema)."""
        return str(table.get_name()).split(".")[-1]

    # -- tables ---------------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"_dtsen_{self._tag}{prefix}_{self._n}"

    def read_parquet(self, path: str | Path) -> ir.Table:
        """Read a Parquet file or a directory of Parquet files as an Ibis table."""
        p = Path(path)
        target = str(p / "*.parquet") if p.is_dir() else str(p)
        return self.con.read_parquet(target, table_name=self._name("pq"))

    def read_parquet_files(self, paths: Sequence[str | Path]) -> ir.Table:
        """Read several Parquet files with the same columns as one table (one scan, not a union)."""
        if not paths:
            raise ValueError("read_parquet_files needs at least one file")
        if self.kind == "spark":
            tname = self._name("pq")
            self._spark.read.parquet(*(str(p) for p in paths)).createOrReplaceTempView(tname)
            return self.con.table(tname)
        return self.con.read_parquet([str(p) for p in paths], table_name=self._name("pq"))

    def from_arrow(self, table: pa.Table, name: str | None = None) -> ir.Table:
        """Register a small in-memory Arrow table (reference data, lookups) on the engine."""
        tname = name or self._name("mem")
        if self.kind == "spark":
            # A temporary view: nothing on disk, nulls stay nulls (pandas would turn them into NaN).
            self._spark.createDataFrame(table).createOrReplaceTempView(tname)
            return self.con.table(tname)
        return self.con.create_table(tname, table, overwrite=True)

    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        """Compute an expression once and keep it as a table on the engine."""
        tname = name or self._name("tmp")
        if self.kind == "spark":
            # computed now, and cut from its lineage, so that later plans stay small
            df = self.con._session.sql(self.con.compile(expr)).localCheckpoint(eager=True)
            df.createOrReplaceTempView(tname)
            return self.con.table(tname)
        return self.con.create_table(tname, expr, overwrite=True)

    def map_batches(
        self,
        expr: ir.Table,
        fn: Callable[[pa.RecordBatch], pa.RecordBatch],
        schema: pa.Schema,
        directory: str | Path,
        batch_rows: int = 200_000,
    ) -> ir.Table:
        """Apply `fn` to `expr` batch by batch (Arrow in, Arrow out with `schema`), write the
        results as Parquet into `directory` (replaced) and return them as a table.

        Nothing is held whole in Python: DuckDB streams the batches to this process; Spark
        runs `fn` on its executors (`mapInArrow`), so `fn` must be picklable.
        """
        out = Path(directory)
        if out.exists():
            shutil.rmtree(out)
        if self.kind == "spark":
            from pyspark.sql.pandas.types import from_arrow_schema

            session = self.con._session
            session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
            df = session.sql(self.con.compile(expr))

            def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
                for batch in batches:
                    if batch.num_rows:
                        yield fn(batch)

            df.mapInArrow(run, from_arrow_schema(schema)).write.mode("overwrite").parquet(str(out))
            return self.read_parquet(out)
        out.mkdir(parents=True)
        self.con._run_pre_execute_hooks(expr)  # registers in-memory tables, as Ibis does
        # Ibis 12's own to_pyarrow_batches calls a reader DuckDB 2 no longer has; DuckDB's does.
        reader = self.con.con.sql(self.con.compile(expr)).to_arrow_reader(batch_rows)
        parts = 0
        for batch in reader:
            if batch.num_rows:
                pq.write_table(pa.Table.from_batches([fn(batch)], schema=schema), out / f"part-{parts:05d}.parquet")
                parts += 1
        if not parts:  # no rows: one empty part keeps the schema
            pq.write_table(schema.empty_table(), out / "part-00000.parquet")
        return self.read_parquet(out)

    def write_parquet(self, expr: ir.Table, directory: str | Path, *, order_by: list[str] | None = None) -> Path:
        """Write a table as Parquet into `directory` (replaced), in a deterministic order."""
        out = Path(directory)
        if out.exists():
            shutil.rmtree(out)
        if order_by:
            expr = expr.order_by(order_by)
        if self.dialect.single_file_output:
            out.mkdir(parents=True)
            self.con.to_parquet(expr, out / "part-0.parquet")
        else:
            df = self.con._session.sql(self.con.compile(expr))
            if order_by:
                df = df.coalesce(1).sortWithinPartitions(*order_by)
            df.write.mode("overwrite").parquet(str(out))
        return out

    def close(self) -> None:
        if self.kind == "duckdb":
            self.con.disconnect()


def read_parquet_arrow(directory: str | Path) -> pa.Table:
    """Read what `Engine.write_parquet` wrote, whichever engine wrote it."""
    p = Path(directory)
    if p.is_dir():
        files = sorted(str(f) for f in p.glob("*.parquet"))
        return pads.dataset(files, format="parquet").to_table() if files else pa.table({})
    return pads.dataset(str(p), format="parquet").to_table()


# -- types that survive every engine's own Parquet writer -------------------------------------
# Ibis drops a cast to the type it already assumes, but the engines disagree with it: Spark's
# row_number() and integer literals are 32-bit, DuckDB's SUM of BIGINT is a 128-bit HUGEINT
# (written to Parquet as a double) and its float literals are DECIMALs. A round trip through an
# exact decimal forces the cast that Ibis would have dropped.


def as_int64(value: ir.NumericValue) -> ir.IntegerValue:
    """A real 64-bit integer on every engine, also in the Parquet the engine writes."""
    return value.cast(ibis.expr.datatypes.Decimal(20, 0)).cast("int64")


def as_float64(value: ir.NumericValue) -> ir.FloatingValue:
    """A real double on every engine (a DuckDB float literal is otherwise a DECIMAL)."""
    return value.cast("string").cast("float64")


def typed(t: ir.Table, types: dict[str, str]) -> ir.Table:
    """`t` with each column of `types` forced to int64 or float64 (see `as_int64`)."""
    force = {"int64": as_int64, "float64": as_float64}
    return t.mutate(**{c: force[k](t[c]) for c, k in types.items()})
