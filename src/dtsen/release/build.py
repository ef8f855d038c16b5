"""`dtsen build`: the quarterly job, from the ministries' files to a published release.

Steps, each timed and reported to a progress callback (name, rows, seconds):

ingest     read, check and standardize every source; the row accounting must balance
link       persons and families, golden records; ids carry on from the current release
rank       train the PMT when there is no current model, rank every family
assess     quality indicators per region and source; ground-check candidates by risk
publish    write the release aside (tables, manifest, scorecards, village lists), flush,
           rename into place, switch CURRENT: atomic (see `store`)

The work directory is scratch: a build that dies leaves it half-updated, and the next build
redoes every step. Only the release store is the record, and it changes atomically. The build
holds the project lock throughout: a second build, or any other command that writes to the
project, is refused while it runs (`BuildLockedError`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from dtsen.config import Settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.link.previous import IdFloor, next_ids
from dtsen.release.errors import ManifestError
from dtsen.release.ids import LINK_RUN_ID_PATTERN, safe_component
from dtsen.release.manifest import (
    accounting,
    code_version,
    file_entries,
    input_entries,
    require_intact,
    settings_sha256,
    table_entries,
    write_manifest,
)
from dtsen.release.sealing import VAULT_DIR, open_keys, scrub_work, sealer_for
from dtsen.release.store import STATUS_CURRENT, STATUS_EARLIER, ReleaseStore, checkpoint, copy_private
from dtsen.release.tables import ReleaseTables, in_regions, work_tables

OnStep = Callable[[str, str, int | None, float], None]  # step, status ("start"/"done"), rows, seconds

# The release's Parquet tables, each with the columns that give its deterministic order.
TABLE_ORDER: dict[str, list[str]] = {
    "persons": ["person_id"],
    "families": ["family_id"],
    "links": ["source", "file", "sheet", "row"],
    "provenance": ["entity", "id", "field"],
    "conflicts": ["entity", "id", "field", "other_source", "other_value"],
    "events": ["kind", "event", "id", "other_id"],
    "quarantine": ["source", "file", "sheet", "row"],
    "quality": ["level", "region", "source", "indicator"],
    "verification_candidates": ["region_code", "priority", "family_id"],
    "headcounts": ["level", "region", "line"],
}
RANK_COLUMNS = (
    "province_code", "regency_code", "district_code", "urban", "head_age", "head_education",
    "predicted_consumption", "decile", "decile_province", "decile_regency", "rank_province", "rank_regency",
    "poverty_line", "extreme_line", "poor", "extreme_poor", "p_poor", "p_extreme", "model_id",
)  # fmt: skip


@dataclass
class BuildResult:
    release_id: str
    path: Path
    manifest: dict[str, Any]
    steps: dict[str, float] = field(default_factory=dict)


def store_for(settings: Settings) -> ReleaseStore:
    return ReleaseStore(settings.path(settings.release.dir))


def _families(tables: ReleaseTables) -> ir.Table:
    """Golden families with their rank (the release's `families` table)."""
    r = tables.ranking.select("family_id", *RANK_COLUMNS).rename(_fid="family_id")
    j = tables.families.left_join(r, tables.families.family_id == r._fid)
    return j.drop("_fid")


def _carry_ids(settings: Settings, store: ReleaseStore) -> str | None:
    """Point the linkage at the current release's mapping, so that ids carry on."""
    current = store.current()
    if current is None or settings.link.previous is not None:
        return current
    link_dir = store.path(current) / "link"
    path = link_dir / "manifest.json"
    if path.exists():
        try:
            run = json.loads(path.read_text(encoding="utf-8")).get("release_id")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            run = None
        if not (isinstance(run, str) and re.fullmatch(LINK_RUN_ID_PATTERN, run)):
            raise ManifestError(f"{path} is damaged (no valid linkage run id): release {current} cannot carry ids "
                                "on; restore it from a backup, or make another release current with "
                                "`dtsen releases use ID`")
        settings.link.previous = str(link_dir)
        settings.link.previous_release = run
    return current


def id_floor(store: ReleaseStore) -> IdFloor:
    """The highest next person and family ids that any release present handed on (its
    `link/manifest.json`): after `dtsen releases use R0003` while R0004-R0006 exist, the next
    build continues R0003's ids but hands out new ones only after every id R0004-R0006 gave."""
    floor = IdFloor()
    for rid in store.present():
        found = next_ids(store.path(rid) / "link")
        if found is not None:
            floor = floor.raised(found)
    return floor


def _history(store: ReleaseStore, engine: Engine) -> list[tuple[str, pd.DataFrame]]:
    """Earlier releases' quality indicators, oldest first (for the scorecards' trends): those
    that were current once (not damaged ones, nor ones a crash left never current)."""
    out = []
    for info in store.releases():
        path = info.path / "quality.parquet"
        if info.status in (STATUS_CURRENT, STATUS_EARLIER) and path.exists():
            out.append((info.release_id, read_parquet_arrow(path).to_pandas()))
    return out


def build(engine: Engine, settings: Settings, on_step: OnStep | None = None) -> BuildResult:
    """Run every step and publish a new release; see the module docstring."""
    from dtsen.ingest.pipeline import ingest, load_regions, resolve_files
    from dtsen.link.pipeline import link
    from dtsen.quality.indicators import indicators
    from dtsen.quality.scorecard import write_scorecards
    from dtsen.verify.campaign import draw_candidates, write_village_exports
    from dtsen.verify.risk import risk_signals
    from dtsen.welfare.pipeline import headcounts_path, rank, reported_head_as_of
    from dtsen.workflow.build_step import before_build

    store = store_for(settings)
    steps: dict[str, float] = {}

    def run(name: str, fn: Callable[[], Any], rows: Callable[[Any], int | None] = lambda _: None) -> Any:
        if on_step:
            on_step(name, "start", None, 0.0)
        t0 = time.perf_counter()
        out = fn()
        steps[name] = round(time.perf_counter() - t0, 3)
        if on_step:
            on_step(name, "done", rows(out), steps[name])
        checkpoint(f"after:{name}")
        return out

    with store.lock("dtsen build"):
        store.clear_leftovers()
        previous = _carry_ids(settings, store)
        if previous is not None:
            require_intact(store.path(previous))
        sealing = open_keys(settings) if settings.vault.release else None  # fail before the long steps
        workflow = before_build(settings)  # approved, signed cases of the store as sources (dtsen.workflow)
        report = run("ingest", lambda: ingest(settings, engine), lambda r: r.rows_read)
        report_dict = report.to_dict()
        acc = accounting(report_dict)
        floor = id_floor(store)
        linked = run("link", lambda: link(engine, settings, id_floor=floor), lambda r: r.counts.get("persons"))
        ranked = run("rank", lambda: rank(engine, settings), lambda r: r.counts.get("families"))
        tables = work_tables(engine, settings)

        def assess() -> tuple[ir.Table, ir.Table]:
            mapped = {name: set(src.columns.values()) for name, src in settings.sources.items()}
            quality = engine.materialize(indicators(engine, tables, settings.quality, mapped_fields=mapped))
            signals = engine.materialize(risk_signals(engine, tables, settings))
            return quality, engine.materialize(draw_candidates(engine, signals, settings.verify))

        quality, candidates = run("assess", assess, lambda out: int(out[1].count().execute()))

        release_id = store.next_id()
        staging = store.begin(release_id)
        notes: list[str] = list(workflow.notes) if workflow is not None else []

        sealer = sealer_for(engine, settings, *sealing, release_id, staging) if sealing is not None else None

        def write() -> dict[str, Any]:
            out = {
                "persons": tables.persons, "families": _families(tables), "links": tables.links,
                "provenance": tables.provenance, "conflicts": tables.conflicts, "events": tables.events,
                "quarantine": tables.quarantine, "quality": quality, "verification_candidates": candidates,
                "headcounts": engine.read_parquet(headcounts_path(settings)),
            }  # fmt: skip
            for name, table in out.items():
                order = TABLE_ORDER[name]
                if sealer is not None:
                    table, order = sealer.seal(name, table, order)
                    out[name] = table
                engine.write_parquet(table, staging / f"{name}.parquet", order_by=order)
                checkpoint(f"write:{name}")
            # the linkage mapping and the PMT model travel with the release
            copy_private(settings.work_dir / "link", staging / "link", only={"manifest.json", "links.parquet", "model.json"})
            if ranked.model.path is not None:
                copy_private(ranked.model.path, staging / "model" / safe_component(ranked.model.model_id, "model id"))
            regions = load_regions(settings)
            write_scorecards(engine, quality, staging / "rapor", release_id=release_id,
                             regions=regions if len(regions) else None, history=_history(store, engine),
                             settings=settings.quality,
                             headcounts=read_parquet_arrow(headcounts_path(settings)).to_pandas())
            chosen = export_candidates(candidates, settings)
            if sealer is not None:
                notes.append("vault.release: the ground-check village lists were not written (they would hold names "
                             "in plaintext); run `dtsen releases checks REGION` when a visit is due")
            elif chosen is not None:
                write_village_exports(engine, chosen, tables, staging / "cek_lapangan", settings)
            else:
                notes.append(
                    "the ground-check lists were not written: more villages have candidates than "
                    f"[verify] export_max_villages ({settings.verify.export_max_villages}); set [verify] "
                    "export_regions, or run `dtsen releases checks REGION`"
                )
            checkpoint("write:reports")
            return out

        written = run("write", write)
        files = file_entries(staging)
        manifest = {
            "release_id": release_id,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "previous": previous,
            "engine": engine.kind,
            "as_of": str(tables.as_of),
            "reported_head_as_of": str(reported) if (reported := reported_head_as_of(settings)) else None,
            "code": code_version(),
            "settings": {"sha256": settings_sha256(settings)},
            "region_master": {"edition": settings.reference.regions_edition or None},
            "inputs": input_entries(settings, report_dict, resolve_files(settings)),
            "accounting": acc,
            "models": {"link_run": linked.release_id, "pmt": ranked.model.model_id, "pmt_kind": ranked.model.kind},
            "metrics": _metrics(ranked.counts, linked.counts, acc, candidates, quality),
            "timings": steps,
            "notes": notes,
            **({"vault": {"dir": VAULT_DIR, "tables": sealer.sealed, "token_version": sealer.token_keys.active}}
               if sealer is not None else {}),
            "tables": table_entries(staging, list(written), files),
            "files": files,
        }
        write_manifest(staging, manifest)
        checkpoint("write:manifest")
        if on_step:
            on_step("publish", "start", None, 0.0)
        t0 = time.perf_counter()
        path = store.publish(staging, release_id)
        steps["publish"] = round(time.perf_counter() - t0, 3)
        if on_step:
            on_step("publish", "done", None, steps["publish"])
        if sealer is not None:
            sealer.vault.close()
            scrub_work(settings.work_dir)  # the plain values the steps left; the next build redoes them
        if settings.serving.index_on_build:
            from dtsen.serve.index import index_release

            # the release is current already; the service keeps serving the previous one until
            # this index is in place (a release without an index is `pending`)
            run("index", lambda: index_release(settings, release_id, engine=engine if engine.kind == "duckdb" else None))
        if workflow is not None:
            workflow.published(release_id, path)  # approved cases in this release become released
    return BuildResult(release_id=release_id, path=path, manifest=manifest, steps=steps)


def export_candidates(candidates: ir.Table, settings: Settings) -> ir.Table | None:
    """The candidates whose village lists a build writes: those of `[verify] export_regions`,
    else all while there are at most `export_max_villages` villages, else none (None)."""
    regions = settings.verify.export_regions
    if regions:
        return candidates.filter(in_regions(candidates, regions))
    villages = int(candidates.region_code.nunique().execute())
    return candidates if villages <= settings.verify.export_max_villages else None


def _metrics(rank_counts: dict[str, int], link_counts: dict[str, int], acc: dict[str, Any],
             candidates: ir.Table, quality: ir.Table) -> dict[str, Any]:
    c = candidates.aggregate(n=candidates.count(), risk=(candidates.selection == "risk").cast("int64").sum())
    cand = c.to_pyarrow().to_pylist()[0]
    return {
        "persons": link_counts.get("persons"),
        "families": link_counts.get("families"),
        "rows_read": acc["total"]["rows_read"],
        "rows_quarantined": acc["total"]["quarantined"],
        "families_ranked": rank_counts.get("ranked"),
        "persons_poor": rank_counts.get("poor_persons"),
        "persons_extreme_poor": rank_counts.get("extreme_persons"),
        "verification_candidates": int(cand["n"] or 0),
        "verification_by_risk": int(cand["risk"] or 0),
        "quality_rows": int(quality.count().execute()),
    }

