"""The release commands: `dtsen build` and `dtsen releases list | show | diff`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dtsen.cli import EngineOpt, ProjectOpt, _console, _engine_for, accounting_table, app, clean_errors
from dtsen.errors import DtsenError

STEP_LABELS = {
    "ingest": "membaca sumber / ingest",
    "link": "menautkan / link",
    "rank": "memeringkat / rank",
    "assess": "menilai kualitas / assess",
    "write": "menulis rilis / write",
    "publish": "menerbitkan / publish",
}


@app.command()
@clean_errors
def build(project: ProjectOpt = Path("."), engine: EngineOpt = None) -> None:
    """Run the whole job (ingest, link, rank, assess) and publish a new release atomically."""
    from dtsen.release.build import build as run_build

    settings, eng = _engine_for(project, engine)
    console = _console()
    summary = Table("step", "rows", "seconds", "rows/s", title="Build")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as bars:
            tasks: dict[str, Any] = {}

            def on_step(name: str, status: str, rows: int | None, seconds: float) -> None:
                label = STEP_LABELS.get(name, name)
                if status == "start":
                    tasks[name] = bars.add_task(label, total=1)
                    return
                bars.update(tasks[name], completed=1, description=f"{label}: selesai / done")
                rate = f"{rows / seconds:,.0f}" if rows and seconds > 0 else ""
                summary.add_row(name, f"{rows:,}" if rows is not None else "", f"{seconds:.1f}", rate)

            result = run_build(eng, settings, on_step)
    finally:
        eng.close()
    console.print(summary)
    console.print(accounting_table(settings.work_dir / "ingest"))
    m = result.manifest["metrics"]
    console.print(
        f"Rilis / release [bold]{result.release_id}[/]: {m['persons']:,} persons, {m['families']:,} families, "
        f"{m['rows_quarantined']:,} of {m['rows_read']:,} rows in quarantine, "
        f"{m['verification_candidates']:,} families to check in the field"
    )
    console.print(f"Release: {result.path}")
    console.print(f"Rapor kualitas data (scorecards): {result.path / 'rapor' / 'index.html'}")
    console.print(f"Daftar cek lapangan (ground-check lists): {result.path / 'cek_lapangan'}")
    for note in result.manifest.get("notes", []):
        console.print(f"[yellow]Note:[/] {note}", highlight=False)


releases_app = typer.Typer(help="The published releases: list, show, compare.", no_args_is_help=True)
app.add_typer(releases_app, name="releases")


def _store(project: Path) -> Any:
    from dtsen.config import load_settings
    from dtsen.release.build import store_for

    return store_for(load_settings(project))


@releases_app.command("list")
@clean_errors
def releases_list(project: ProjectOpt = Path(".")) -> None:
    """The releases, oldest first, with their headline counts."""
    store = _store(project)
    table = Table("release", "current", "created", "persons", "families", "quarantined", "candidates",
                  title=f"Releases in {store.root}")
    for info in store.releases():
        m = info.manifest.get("metrics", {})
        table.add_row(info.release_id, "*" if info.current else "", info.manifest.get("created", ""),
                      f"{m.get('persons', 0):,}", f"{m.get('families', 0):,}", f"{m.get('rows_quarantined', 0):,}",
                      f"{m.get('verification_candidates', 0):,}")
    _console().print(table)


@releases_app.command("show")
@clean_errors
def releases_show(
    release: Annotated[str | None, typer.Argument(help="Release id (default: the current one).")] = None,
    project: ProjectOpt = Path("."),
    verify: Annotated[bool, typer.Option(help="Check every table file against the manifest's sha256.")] = False,
) -> None:
    """A release's manifest: inputs, row accounting, models, metrics, tables."""
    from dtsen.release.manifest import verify_release

    store = _store(project)
    release_id = release or store.current()
    if release_id is None:
        raise DtsenError(f"no release yet in {store.root}: run `dtsen build`")
    manifest = store.manifest(release_id)
    console = _console()
    console.print(f"[bold]{release_id}[/] created {manifest['created']}, previous {manifest.get('previous')}, "
                  f"engine {manifest['engine']}, code {manifest['code']}")
    acc = Table("source", "rows read", "accepted", "quarantined", title="Row accounting (read = accepted + quarantined)")
    for source, row in manifest["accounting"]["sources"].items():
        acc.add_row(source, f"{row['rows_read']:,}", f"{row['accepted']:,}", f"{row['quarantined']:,}")
    console.print(acc)
    console.print("Models: " + json.dumps(manifest["models"]))
    console.print("Metrics: " + json.dumps(manifest["metrics"]))
    tables = Table("table", "rows", "files", title="Tables")
    for name, entry in manifest["tables"].items():
        tables.add_row(name, f"{entry['rows']:,}", str(len(entry["files"])))
    console.print(tables)
    if verify:
        problems = verify_release(store.path(release_id))
        if problems:
            raise DtsenError(f"release {release_id} is damaged", problems)
        console.print("Every table file matches the manifest.")


@releases_app.command("diff")
@clean_errors
def releases_diff(
    a: Annotated[str, typer.Argument(help="The older release.")],
    b: Annotated[str, typer.Argument(help="The newer release.")],
    project: ProjectOpt = Path("."),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the comparison as JSON here.")] = None,
) -> None:
    """What changed from release A to B: people added, removed, merged, split, deceased;
    families whose decile moved, by how much, by regency."""
    from dtsen.engine import Engine
    from dtsen.release.diff import diff_releases

    store = _store(project)
    for rid in (a, b):
        store.manifest(rid)  # a clear error for an unknown id
    eng = Engine.duckdb()
    try:
        d = diff_releases(eng, store.path(a), store.path(b))
    finally:
        eng.close()
    console = _console()
    for what, counts in (("persons", d.persons), ("families", d.families)):
        t = Table("", *counts.keys(), title=f"{what}: {a} -> {b}")
        t.add_row(what, *(f"{v:,}" for v in counts.values()))
        console.print(t)
    moves = Table("decile move (B - A)", "families", title="Families whose decile moved")
    for row in d.decile_moves:
        moves.add_row(f"{row['move']:+d}", f"{row['families']:,}")
    console.print(moves)
    reg = Table("regency", "moved", "poorer", "richer", "mean move", title="By regency")
    for row in d.by_regency:
        reg.add_row(str(row["regency_code"]), f"{row['families_moved']:,}", f"{row['poorer']:,}",
                    f"{row['richer']:,}", f"{row['mean_move']:+.2f}")
    console.print(reg)
    if json_out:
        json_out.write_text(json.dumps(d.to_dict(), indent=2), encoding="utf-8")


@releases_app.command("checks")
@clean_errors
def releases_checks(
    region: Annotated[str, typer.Argument(help="Region code prefix, e.g. 32.04 or 32.04.05.")],
    release: Annotated[str | None, typer.Option(help="Release id (default: the current one).")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory to write into (default: cek_lapangan_<region>_<id>).")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Write the ground-check lists and forms of a region's villages from a published release."""
    from dtsen.config import load_settings
    from dtsen.engine import Engine
    from dtsen.release.build import store_for
    from dtsen.release.tables import in_regions, release_tables
    from dtsen.verify.campaign import write_village_exports

    settings = load_settings(project)
    store = store_for(settings)
    release_id = release or store.current()
    if release_id is None:
        raise DtsenError(f"no release yet in {store.root}: run `dtsen build`")
    store.manifest(release_id)
    directory = out or Path(f"cek_lapangan_{region.replace('.', '_')}_{release_id}")
    eng = Engine.duckdb()
    try:
        tables = release_tables(eng, store.path(release_id))
        candidates = eng.read_parquet(store.path(release_id) / "verification_candidates.parquet")
        chosen = candidates.filter(in_regions(candidates, [region]))
        if int(chosen.count().execute()) == 0:
            raise DtsenError(f"release {release_id} has no ground-check candidates in region {region!r}")
        files = write_village_exports(eng, chosen, tables, directory, settings)
    finally:
        eng.close()
    _console().print(f"{len(files) // 3:,} villages written to {directory}")
