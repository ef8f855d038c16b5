"""The serving-index commands: `dtsen index build` and `dtsen index match`.

(`dtsen serve` starts the HTTP service; these are a separate group so that the two never
collide.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dtsen.cli import ProjectOpt, _console, app, clean_errors

index_app = typer.Typer(help="The serving index of a release: build it; match a list against it (padan data).",
                        no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("build")
@clean_errors
def index_build(
    project: ProjectOpt = Path("."),
    release: Annotated[str | None, typer.Option(help="Release id (default: the current release).")] = None,
) -> None:
    """(Re)build the serving index of a release: indexed lookups, region counts, change feed."""
    from dtsen.config import load_settings
    from dtsen.serve.index import index_release

    settings = load_settings(project)
    console = _console()
    with console.status("membangun indeks / building the serving index") as status:
        info = index_release(settings, release, on_step=lambda step: status.update(f"indeks / index: {step}"))
    table = Table("table", "rows", title=f"Serving index of {info.release_id}")
    for name, n in info.counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    console.print(f"Index: {info.path} ({info.seconds:.1f} s)")
    console.print(f"Change feed from: {info.changes_from or '-'}; linkage model: {info.link_model}")


@index_app.command("match")
@clean_errors
def index_match(
    file: Annotated[Path, typer.Argument(help="CSV, XLSX or Parquet with NIK, NAMA and TANGGAL_LAHIR columns.")],
    project: ProjectOpt = Path("."),
    out: Annotated[Path, typer.Option(help="Directory for the results.")] = Path("padan"),
) -> None:
    """Match a list (NIK, name, birth date) against the current release: how each row matched."""
    from dtsen.config import load_settings
    from dtsen.serve.match_job import match_file
    from dtsen.serve.matching import MatchOptions
    from dtsen.serve.releases import ServingReleases

    settings = load_settings(project)
    releases = ServingReleases.from_settings(settings)
    options = MatchOptions(threshold=settings.serving.match_threshold,
                           ambiguity_margin=settings.serving.ambiguity_margin)
    console = _console()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with releases.acquire() as handle, Progress(*columns, console=console) as bars:
        task = bars.add_task("padan data", total=1.0)
        result = match_file(handle, file, out, options=options,
                            on_progress=lambda stage, done: bars.update(task, completed=done, description=stage))
    releases.close()
    table = Table("status", "rows", title=f"{result.rows:,} rows matched against {result.release_id}")
    for status, n in result.counts.items():
        table.add_row(status, f"{n:,}")
    console.print(table)
    console.print(f"Results: {result.path} ({result.seconds:.1f} s)")
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {note}", highlight=False)
