"""The serving index of a release: point lookups that never scan Parquet, and region counts.

SERVING/<release_id>/
    index.sqlite      persons and families (every column of the release tables), indexed on
                      person_id, family_id, NIK, KK and region code; per-region counts at every
                      level (`aggregates`); the quality indicators; the linkage events; the
                      change feed against the previous release (`changes`); `meta` (release id,
                      manifest, when built, what the matching model is)
    match.parquet     the registry side of bulk matching (`match_table`)
    features.parquet  every family's PMT predictor values, for explaining a rank
    link_model.json   the trained linkage model bulk matching scores with (when one was found)

The directory is written aside (`.building-<id>-*`) and renamed into place, so a reader sees
the old index or the new one, never half of one. Region prefixes are ranges on the indexed
`region_code` (see `regions`). The SQLite file is opened read-only and immutable by readers.

`build_serving_index(release_dir, out)` is what a build calls at publish time;
`index_release(settings)` is what `dtsen index build` calls.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pyarrow as pa

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.release.sealing import is_sealed, unsealed
from dtsen.serve.aggregates import region_aggregates
from dtsen.serve.changes import record_changes
from dtsen.serve.match_table import registry_match_table
from dtsen.serve.sqlite_tables import create_index, create_table, insert_batches
from dtsen.vault.keyring import Keyring

if TYPE_CHECKING:
    from dtsen.config import Settings

FORMAT = 1
INDEX_FILE = "index.sqlite"
MATCH_FILE = "match.parquet"
FEATURES_FILE = "features.parquet"
LINK_MODEL_FILE = "link_model.json"
BUILDING = ".building-"
OnStep = Callable[[str], None]


class ServingIndexError(DtsenError):
    """A serving index cannot be built or opened."""


@dataclass
class ServingIndexInfo:
    release_id: str
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    link_model: str = "none"
    changes_from: str | None = None
    seconds: float = 0.0


def _batches(engine: Engine, expr: ir.Table, rows: int = 100_000) -> Iterator[pa.RecordBatch]:
    engine.con._run_pre_execute_hooks(expr)
    reader = engine.con.con.sql(engine.con.compile(expr)).to_arrow_reader(rows)
    yield from reader


def _copy(engine: Engine, con: sqlite3.Connection, name: str, expr: ir.Table, primary_key: str | None = None,
          indexes: tuple[tuple[str, ...], ...] = ()) -> int:
    columns = create_table(con, name, expr.schema().to_pyarrow(), primary_key)
    n = insert_batches(con, name, columns, _batches(engine, expr))
    for cols in indexes:
        create_index(con, name, *cols)
    return n


def _previous_dir(release_dir: Path, manifest: dict[str, Any]) -> Path | None:
    previous = manifest.get("previous")
    if not previous:
        return None
    path = release_dir.parent / previous
    return path if (path / "persons.parquet").exists() else None


def build_serving_index(
    release_dir: Path,
    out: Path,
    *,
    link_model: Path | None = None,
    previous_dir: Path | None = None,
    engine: Engine | None = None,
    on_step: OnStep | None = None,
    keyring: Keyring | None = None,
) -> ServingIndexInfo:
    """Build the serving index of the release in `release_dir` into the directory `out`
    (replaced atomically if it exists).

    link_model    the linkage model (Splink JSON) bulk matching scores with; default the
                  release's `link/model.json` when it has one. Without one, matching uses only
                  exact NIK matches and reports every other row as not matched (see `matching`).
    previous_dir  the release to compute the change feed against; default the manifest's
                  `previous` next to `release_dir`.
    keyring       opens the vault of a sealed release (`vault.release`): its persons and
                  families are decrypted into the index, so that lookups by NIK answer.
    """
    started = time.perf_counter()
    release_dir, out = Path(release_dir), Path(out)
    manifest_path = release_dir / "manifest.json"
    if not manifest_path.exists():
        raise ServingIndexError(f"{release_dir} is not a release: it has no manifest.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    release_id = str(manifest["release_id"])
    previous = Path(previous_dir) if previous_dir is not None else _previous_dir(release_dir, manifest)
    model = Path(link_model) if link_model is not None else release_dir / "link" / "model.json"

    def step(name: str) -> None:
        if on_step:
            on_step(name)

    own = engine is None
    eng = engine or Engine.duckdb(memory_limit="2GB")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{BUILDING}{release_id}-", dir=out.parent))
    info = ServingIndexInfo(release_id=release_id, path=out)
    try:
        persons = eng.read_parquet(release_dir / "persons.parquet")
        families = eng.read_parquet(release_dir / "families.parquet")
        if is_sealed(manifest):
            if keyring is None:
                raise ServingIndexError(f"release {release_id} is sealed (vault.release): its index needs the project's "
                                        "keys; build it with `dtsen index build` in the project")
            persons = unsealed(eng, release_dir, release_id, keyring, "persons", persons)
            families = unsealed(eng, release_dir, release_id, keyring, "families", families)
        persons = eng.materialize(persons)
        families = eng.materialize(families)
        con = sqlite3.connect(staging / INDEX_FILE)
        try:
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            step("persons")
            info.counts["persons"] = _copy(eng, con, "persons", persons.order_by("person_id"), "person_id",
                                           (("nik",), ("kk",), ("family_id",), ("region_code",)))
            step("families")
            info.counts["families"] = _copy(eng, con, "families", families.order_by("family_id"), "family_id",
                                            (("kk",), ("region_code",), ("head_person_id",)))
            step("regions")
            info.counts["regions"] = _copy(eng, con, "regions", region_aggregates(persons, families), None,
                                           (("region",),))
            for table, order in (("quality", ["level", "region", "source", "indicator"]),
                                 ("events", ["kind", "event", "id", "other_id"])):
                path = release_dir / f"{table}.parquet"
                if path.exists():
                    step(table)
                    keys = (("region",),) if table == "quality" else (("kind", "id"),)
                    info.counts[table] = _copy(eng, con, table, eng.read_parquet(path).order_by(order), None, keys)
            if previous is not None:
                step("changes")
                changes = record_changes(eng, previous, release_dir)
                info.counts["changes"] = _copy(eng, con, "changes", changes, None,
                                               (("change",), ("region_code",), ("entity", "id")))
                info.changes_from = previous.name
            step("meta")
            if model.exists():
                shutil.copyfile(model, staging / LINK_MODEL_FILE)
                info.link_model = str(model)
            meta = {
                "format": FORMAT,
                "release_id": release_id,
                "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "as_of": manifest.get("as_of"),
                "previous": manifest.get("previous"),
                "changes_from": info.changes_from,
                "link_model": info.link_model,
                "manifest": manifest,
                "counts": info.counts,
            }
            con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            con.commit()
            con.execute("ANALYZE")
            con.commit()
        finally:
            con.close()
        step("matching")
        eng.write_parquet(registry_match_table(eng, persons, families), staging / MATCH_FILE, order_by=["person_id"])
        step("features")
        from dtsen.welfare.predictors import family_features

        as_of = dt.date.fromisoformat(manifest["as_of"]) if manifest.get("as_of") else dt.date.today()
        reported = manifest.get("reported_head_as_of")  # the date the survey's head ages were counted on
        reported_as_of = dt.date.fromisoformat(reported) if reported else None
        eng.write_parquet(family_features(families, persons, as_of, reported_as_of), staging / FEATURES_FILE,
                          order_by=["family_id"])
        _fsync_tree(staging)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if own:
            eng.close()
    info.seconds = round(time.perf_counter() - started, 3)
    return info


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename `staging` to `out`; an existing `out` is moved aside first and removed after.
    Readers that hold files of the old index open keep reading them."""
    old = None
    if out.exists():
        old = out.parent / f".old-{out.name}-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- from a project ------------------------------------------------------------------------------


def serving_dir(settings: Settings) -> Path:
    return settings.path(settings.serving.dir)


def project_link_model(settings: Settings, manifest: dict[str, Any], release_dir: Path) -> Path | None:
    """The linkage model of a release: its own `link/model.json`, else the project's
    `work/link/model.json` when that work directory's link run is the one the release names."""
    own = release_dir / "link" / "model.json"
    if own.exists():
        return own
    work = settings.work_dir / "link"
    run = (manifest.get("models") or {}).get("link_run")
    if run and (work / "model.json").exists() and (work / "manifest.json").exists():
        work_run = json.loads((work / "manifest.json").read_text(encoding="utf-8")).get("release_id")
        if work_run == run:
            return work / "model.json"
    return None


def index_release(settings: Settings, release_id: str | None = None, engine: Engine | None = None,
                  on_step: OnStep | None = None) -> ServingIndexInfo:
    """(Re)build the serving index of a release of the project (the current one by default)."""
    from dtsen.release.build import store_for

    store = store_for(settings)
    rid = release_id or store.current()
    if rid is None:
        raise ServingIndexError(f"no release in {store.root} yet: run `dtsen build` first")
    manifest = store.manifest(rid)
    release_dir = store.path(rid)
    return build_serving_index(
        release_dir, serving_dir(settings) / rid, link_model=project_link_model(settings, manifest, release_dir),
        engine=engine, on_step=on_step, keyring=Keyring.from_settings(settings) if is_sealed(manifest) else None,
    )
