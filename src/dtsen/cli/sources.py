"""The onboarding commands: `dtsen sources check` (does each mapping fit its files?) and
`dtsen fields` (the canonical fields a mapping can name)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dtsen.cli import ProjectOpt, _console, _engine_for, app, clean_errors

sources_app = typer.Typer(help="The project's sources: does each mapping fit its files?", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
@clean_errors
def sources_check(
    project: ProjectOpt = Path("."),
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only these sources.")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Data rows read from each file.")] = 1000,
) -> None:
    """Per source and mapped field: the columns it is read from, the share of values that parse,
    the most common values that do not; the columns no mapping uses. Exit status 1 when a mapped
    field mostly fails, a file cannot be read or lacks a mapped column."""
    from dtsen.config import source_warnings
    from dtsen.ingest.source_check import FAIL_SHARE, check_sources

    settings, eng = _engine_for(project, "duckdb")
    try:
        results = check_sources(settings, eng, source, rows)
    finally:
        eng.close()
    console = _console()
    for r in results:
        table = Table("field", "from", "how", "values", "parse", "most common values that do not parse",
                      title=f"{r.source} ({r.level}): {r.rows:,} rows sampled")
        for f in r.fields:
            share = f"{f.share:.0%}" if f.share is not None else "–"
            if f.fails:
                share = f"[bold red]{share}[/]"
            unparsed = ", ".join(f"{escape(v)} ×{n:,}" for v, n in f.unparsed)
            table.add_row(f.name, escape(", ".join(f.source_columns)), f.how, f"{f.values:,}", share, unparsed)
        console.print(table)
        if r.unmapped:
            console.print(f"  kolom tidak dipetakan / unmapped columns: {escape(', '.join(r.unmapped))}", highlight=False)
        for problem in r.problems:
            console.print(f"  [bold red]masalah / problem:[/] {escape(problem)}", highlight=False)
    for warning in source_warnings(settings):
        console.print(f"[yellow]Peringatan / warning:[/] {escape(str(warning))}", highlight=False)
    bad = [r for r in results if not r.ok]
    if bad:
        names = ", ".join(f"{r.source} ({', '.join(f.name for f in r.failing) or 'files'})" for r in bad)
        console.print(f"[bold red]Gagal / failed:[/] {escape(names)}: fewer than {FAIL_SHARE:.0%} of the values "
                      "parse, or a file does not fit", highlight=False)
        raise typer.Exit(1)
    console.print("Semua pemetaan cocok / every mapping fits its files.")


@app.command("fields")
@clean_errors
def fields(
    project: Annotated[Path | None, typer.Option("--project", "-p", help="Show this project's ranges.")] = None,
    level: Annotated[str | None, typer.Option(help="person or family.")] = None,
) -> None:
    """The canonical fields a mapping can name: level, type, vocabulary, plausible range."""
    from dtsen.config import load_settings
    from dtsen.schema import FIELDS

    ranges = load_settings(project).ingest.field_ranges() if project else None
    if level is not None and level not in FIELDS:
        raise typer.BadParameter(f"level must be person or family, not {level!r}")
    table = Table("level", "field", "type", "vocabulary", "range", "description", title="Canonical fields")
    for lvl, specs in FIELDS.items():
        if level is not None and lvl != level:
            continue
        for spec in specs.values():
            low, high = ranges.get(spec.name, (spec.low, spec.high)) if ranges else (spec.low, spec.high)
            span = "" if low is None and high is None else f"{_num(low)} .. {_num(high)}"
            if spec.name == "birth_date":
                span = "age 0 .. ingest.max_age"
            table.add_row(lvl, spec.name, spec.dtype, ", ".join(spec.vocabulary), span, spec.description)
    _console().print(table)


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"
