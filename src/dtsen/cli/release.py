"""The release commands: `dtsen build` and `dtsen releases list | show | diff | checks | use | history`."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
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
    "index": "indeks layanan / serving index",
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


releases_app = typer.Typer(help="The published releases: list, show, compare, choose the current one.",
                           no_args_is_help=True)
app.add_typer(releases_app, name="releases")

STATUS_LABELS = {
    "current": "* saat ini / current",
    "earlier": "sebelumnya / earlier",
    "never current": "belum pernah dipakai / never current",
    "damaged": "rusak / damaged",
}


def _store(project: Path) -> Any:
    from dtsen.config import load_settings
    from dtsen.release.store import ReleaseStore

    settings = load_settings(project)
    return ReleaseStore(settings.path(settings.release.dir))


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else ""


@releases_app.command("list")
@clean_errors
def releases_list(project: ProjectOpt = Path(".")) -> None:
    """The releases, oldest first, with their status and headline counts."""
    store = _store(project)
    table = Table("release", "status", "created", "persons", "families", "quarantined", "candidates",
                  title=f"Releases in {store.root}")
    infos = store.releases()
    for info in infos:
        m = info.manifest.get("metrics")
        m = m if isinstance(m, dict) else {}
        table.add_row(info.release_id, STATUS_LABELS.get(info.status, info.status),
                      escape(str(info.manifest.get("created", ""))),
                      _count(m.get("persons")), _count(m.get("families")), _count(m.get("rows_quarantined")),
                      _count(m.get("verification_candidates")))
    console = _console()
    console.print(table)
    for info in infos:
        if info.problem:
            console.print(f"[red]{info.release_id} rusak / damaged:[/] {escape(info.problem)}", highlight=False)
    state = store.current_state()
    if state.problem:
        console.print(f"[bold red]CURRENT {escape(state.problem)}:[/] choose the release to continue from with "
                      "`dtsen releases use ID` (a build refuses to run until then)", highlight=False)


@releases_app.command("show")
@clean_errors
def releases_show(
    release: Annotated[str | None, typer.Argument(help="Release id (default: the current one).")] = None,
    project: ProjectOpt = Path("."),
    verify: Annotated[bool, typer.Option(help="Check every file of the release against the manifest: changed, "
                                              "missing, extra.")] = False,
) -> None:
    """A release's manifest: inputs, row accounting, models, metrics, tables."""
    from dtsen.release.manifest import legacy_manifest, verify_release
    from dtsen.release.store import ReleaseError

    store = _store(project)
    release_id = release or store.current()
    if release_id is None:
        raise DtsenError(f"no release yet in {store.root}: run `dtsen build`")
    manifest = store.manifest(release_id)
    console = _console()
    head = (f"created {manifest.get('created')}, previous {manifest.get('previous')}, engine {manifest.get('engine')}, "
            f"code {manifest.get('code')}")
    console.print(f"[bold]{release_id}[/] {escape(head)}", highlight=False)
    acc = Table("source", "rows read", "accepted", "quarantined", title="Row accounting (read = accepted + quarantined)")
    accounting = manifest.get("accounting")
    sources = accounting.get("sources") if isinstance(accounting, dict) else None
    for source, row in (sources if isinstance(sources, dict) else {}).items():
        row = row if isinstance(row, dict) else {}
        acc.add_row(escape(str(source)), _count(row.get("rows_read")), _count(row.get("accepted")),
                    _count(row.get("quarantined")))
    console.print(acc)
    console.print("Models: " + escape(json.dumps(manifest.get("models"))), highlight=False)
    console.print("Metrics: " + escape(json.dumps(manifest.get("metrics"))), highlight=False)
    tables = Table("table", "rows", "files", title="Tables")
    listed = manifest.get("tables")
    for name, entry in (listed if isinstance(listed, dict) else {}).items():
        entry = entry if isinstance(entry, dict) else {}
        files = entry.get("files")
        tables.add_row(escape(str(name)), _count(entry.get("rows")), str(len(files)) if isinstance(files, dict) else "")
    console.print(tables)
    if verify:
        problems = verify_release(store.path(release_id))
        if problems:
            raise ReleaseError(f"release {release_id} is damaged ({len(problems)} problems): restore it from a "
                               "backup, or make another release current with `dtsen releases use ID`", problems)
        if legacy_manifest(manifest):
            console.print("Every table file matches the manifest. This manifest was written by an older dtsen and "
                          "lists only the tables: the other files (rapor/, cek_lapangan/, link/, model/) cannot "
                          "be checked.")
        else:
            console.print(f"Every file matches the manifest ({len(manifest['files']):,} files, none missing, "
                          "none extra).")


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
    from dtsen.reference.regions import normalize_code
    from dtsen.release.store import ReleaseStore, project_lock
    from dtsen.release.tables import in_regions, release_tables
    from dtsen.vault.keyring import Keyring
    from dtsen.verify.campaign import write_village_exports

    code = normalize_code(region)
    if code is None:
        raise DtsenError(f"{region[:40]!r} is not a region code: give a province, regency, district or village "
                         "code such as 32, 32.04, 32.04.05 or 32.04.05.2001")
    settings = load_settings(project)
    store = ReleaseStore(settings.path(settings.release.dir))
    release_id = release or store.current()
    if release_id is None:
        raise DtsenError(f"no release yet in {store.root}: run `dtsen build`")
    store.manifest(release_id)  # a valid id of a known release, with a readable manifest
    directory = out or Path(f"cek_lapangan_{code.replace('.', '_')}_{release_id}")
    # writing into the project (its work directory, its release store, anywhere under its root)
    # takes the project lock, as every command that writes there does
    into_project = directory.resolve().is_relative_to(settings.project.root.resolve())
    lock = project_lock(settings, "dtsen releases checks") if into_project else contextlib.nullcontext()
    with lock:
        eng = Engine.duckdb()
        try:
            sealed = bool(store.manifest(release_id).get("vault"))  # vault.release: names from the vault
            keyring = Keyring.from_settings(settings) if sealed else None
            tables = release_tables(eng, store.path(release_id), keyring)
            candidates = eng.read_parquet(store.path(release_id) / "verification_candidates.parquet")
            if sealed:  # the family's KK from the decrypted families, in place of its token
                fam = tables.families.select(_fid=tables.families.family_id, kk=tables.families.kk)
                candidates = candidates.left_join(fam, candidates.family_id == fam._fid).drop("_fid", "kk_token")
            chosen = candidates.filter(in_regions(candidates, [code]))
            if int(chosen.count().execute()) == 0:
                raise DtsenError(f"release {release_id} has no ground-check candidates in region {code}")
            files = write_village_exports(eng, chosen, tables, directory, settings)
        finally:
            eng.close()
    _console().print(f"{len(files) // 3:,} villages written to {directory}")


@releases_app.command("use")
@clean_errors
def releases_use(
    release: Annotated[str, typer.Argument(help="The release to make current, e.g. R0003.")],
    reason: Annotated[str | None, typer.Option(help="Why: recorded in the store's history.")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Make an existing release current (a rollback or roll-forward), checked whole first and
    recorded in the store's history; the next build continues from it with a new id."""
    store = _store(project)
    with store.lock("dtsen releases use"):
        event = store.use(release, reason)
        following = store.next_id()
    console = _console()
    if event is None:
        console.print(f"{release} is already the current release: nothing changed, nothing recorded.")
        return
    before = event.from_release or f"none ({event.note})"
    console.print(f"Rilis saat ini / current release: [bold]{release}[/] (was {before}); recorded in "
                  f"{store.root / 'HISTORY.jsonl'}. The next build continues from {release} as {following}.",
                  highlight=False)


@releases_app.command("history")
@clean_errors
def releases_history(project: ProjectOpt = Path(".")) -> None:
    """Every change of the current release: builds that published one, and `releases use`."""
    store = _store(project)
    events, problems = store.history()
    table = Table("time (UTC)", "event", "from", "to", "user", "reason", title=f"History of {store.root}")
    for e in events:
        table.add_row(escape(e.time), e.event, e.from_release or escape(e.note or ""), e.to_release, escape(e.user),
                      escape(e.reason or ""))
    console = _console()
    console.print(table)
    for problem in problems:
        console.print(f"[red]rusak / damaged:[/] {escape(str(problem))}", highlight=False)
    state = store.current_state()
    if state.problem:
        console.print(f"[bold red]CURRENT {escape(state.problem)}[/]: choose a release with `dtsen releases use ID`",
                      highlight=False)
    elif events and state.release_id != events[-1].to_release:
        console.print(f"[yellow]Note:[/] CURRENT is {state.release_id}, but the last event names "
                      f"{events[-1].to_release}: a build stopped between switching and recording, or CURRENT was "
                      "changed by hand", highlight=False)
