"""The `dtsen` command line: parses arguments, calls the library, prints. Nothing else.

Every command starts by making the files it creates owner-only (umask 077: folders 0700, files
0600). Every command that writes to the project's work directory or release store holds the
project lock (`_writing`). Errors reach the user as one clean message, identifiers masked, never
as a traceback (`clean_errors`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dtsen.errors import DtsenError
from dtsen.privacy import mask_identifiers, owner_only

app = typer.Typer(
    name="dtsen",
    help="DTSEN: one registry of persons and families, linked, ranked and released.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEBUG_ENV = "DTSEN_DEBUG"
EXIT_ERROR = 2  # a DtsenError: bad input, a refused operation
EXIT_UNEXPECTED = 3  # any other exception: a defect


@app.callback()
def _start() -> None:
    # every folder dtsen creates is 0700 and every file 0600, whatever the shell's umask
    owner_only()


def _console(stderr: bool = False) -> Console:
    """A Rich console for this command: the terminal's width, or into a file or pipe 140 columns
    (`DTSEN_CONSOLE_WIDTH` sets another width, e.g. for logs read by a program)."""
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    width = os.environ.get("DTSEN_CONSOLE_WIDTH", "")
    return Console(stderr=stderr, width=int(width) if width.isdigit() and int(width) >= 40 else 140)

F = TypeVar("F", bound=Callable[..., Any])


def _unexpected(exc: Exception) -> None:
    console = _console(stderr=True)
    text = mask_identifiers(str(exc))
    text = text if len(text) <= 300 else text[:300] + " ..."
    console.print(
        f"[bold red]Galat tak terduga / unexpected error[/] ({escape(type(exc).__qualname__)}): {escape(text)}\n"
        "Ini mungkin cacat dtsen; laporkan pesan ini kepada pengelola / this may be a defect in dtsen: please "
        f"report this message. Jalankan lagi dengan {DEBUG_ENV}=1 untuk jejak lengkapnya / run again with "
        f"{DEBUG_ENV}=1 to see the traceback.",
        highlight=False, markup=True, soft_wrap=True,
    )
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        trace = "".join(traceback.format_exception(exc))
        console.print(escape(mask_identifiers(trace)), highlight=False, markup=True, soft_wrap=True)


def clean_errors(fn: F) -> F:
    """Turn every DtsenError into a message and exit code 2, any other exception into a short
    message and exit code 3 (the traceback only with DTSEN_DEBUG=1); never a traceback by
    default. NIK- and KK-like numbers are masked in both (`dtsen.privacy.mask_identifiers`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DtsenError as exc:
            message = escape(mask_identifiers(str(exc)))
            _console(stderr=True).print(f"[bold red]Galat / error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            _unexpected(exc)
            raise typer.Exit(EXIT_UNEXPECTED) from None

    return wrapper  # type: ignore[return-value]


ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project directory or its dtsen.toml.")]


@app.command()
@clean_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Directory to create the project in.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing dtsen.toml.")] = False,
) -> None:
    """Write a commented starter project (dtsen.toml and an example source) that runs."""
    from dtsen.starter import write_starter

    for path in write_starter(directory, force=force):
        _console().print(f"ditulis / wrote {path}")
    _console().print(f"Next: [bold]dtsen ingest --project {directory}[/]")


@app.command()
@clean_errors
def synth(
    out: Annotated[Path, typer.Argument(help="Output directory for the synthetic sources, truth and dtsen.toml.")],
    persons: Annotated[int, typer.Option(min=10, help="Number of true persons.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 42,
    regions: Annotated[Path | None, typer.Option(help="Kemendagri region list (code,name,level).")] = None,
    names: Annotated[Path | None, typer.Option(help="Name-frequency file like refdata/names.csv.")] = None,
    scope: Annotated[str | None, typer.Option(help="Restrict to a province or regency code, e.g. 32.04.")] = None,
) -> None:
    """Generate a synthetic population, its source files as ministries send them, and the truth."""
    from dtsen.synth import generate

    with _console().status("membangkitkan data sintetis / generating synthetic data") as status:
        summary = generate(out, persons=persons, seed=seed, regions=regions, names=names, region_scope=scope,
                           progress=lambda msg: status.update(msg))
    table = Table(title=f"Synthetic population in {out}")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for source, rows in summary.rows.items():
        table.add_row(source, f"{rows:,}")
    _console().print(table)
    _console().print(f"{summary.persons:,} persons in {summary.families:,} families, {summary.seconds:.1f} s")


class _Bars:
    """Rich progress bars, one per source."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, source: str, steps: int) -> None:
        self.tasks[source] = self.progress.add_task(source, total=steps, status="")

    def step(self, source: str, label: str) -> None:
        self.progress.update(self.tasks[source], advance=1, status=label)

    def finish(self, source: str, count: Any) -> None:
        task = self.tasks[source]
        self.progress.update(task, completed=self.progress.tasks[task].total,
                             status=f"{count.rows_read:,} baris, {count.seconds:.1f} s")


@app.command()
@clean_errors
def ingest(
    project: ProjectOpt = Path("."),
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only these sources.")] = None,
    engine: Annotated[str | None, typer.Option(help="Override the engine: duckdb or spark.")] = None,
) -> None:
    """Read, check and standardize every source; print rows read, accepted and quarantined."""
    from dtsen.ingest.pipeline import ingest as run_ingest

    columns = (SpinnerColumn(), TextColumn("{task.description:<18}"), BarColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn())
    with _writing(project, engine, "dtsen ingest") as (settings, eng), Progress(*columns, console=_console()) as bars:
        report = run_ingest(settings, eng, sources=source, progress=_Bars(bars))
    _console().print(accounting_table(report))
    out = settings.work_dir / "ingest"
    _console().print(f"Records: {out / 'records'}   Quarantine: {out / 'quarantine'}   Report: {out / 'report.json'}")


def accounting_table(report: Any) -> Table:
    """The per-source row table of an `IngestReport`, or of the report an ingest wrote into a
    directory (`work/ingest`, as `dtsen build` prints it)."""
    if isinstance(report, Path):
        from dtsen.ingest.accounting import IngestReport

        report = IngestReport.read(report)
    table = Table(title="Row accounting (rows read = accepted + quarantined)")
    for name, justify in (("source", "left"), ("level", "left"), ("read", "right"), ("accepted", "right"),
                          ("quarantined", "right"), ("quarantine reasons", "left"), ("warnings on accepted rows", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in report.sources:
        reasons = ", ".join(f"{k} {v:,}" for k, v in s.reasons.most_common())
        flags = ", ".join(f"{k} {v:,}" for k, v in s.flags.most_common(4))
        table.add_row(s.source, s.level, f"{s.rows_read:,}", f"{s.accepted:,}", f"{s.quarantined:,}", reasons, flags)
    table.add_row("[bold]total", "", f"[bold]{report.rows_read:,}", f"[bold]{report.accepted:,}",
                  f"[bold]{report.quarantined:,}", "", "")
    # files quarantined whole, notes on sources, and warnings about the mappings, under the table
    lines = [f"{f.source}: {f.file} dikarantina seluruhnya / quarantined whole ({f.reason}): {f.detail}"
             for f in report.files_quarantined]
    lines += [f"{s.source}: {note}" for s in report.sources for note in s.notes]
    lines += [f"Peringatan / warning: {w}" for w in report.warnings]
    if lines:
        table.caption = escape("\n".join(lines))
        table.caption_justify = "left"
    return table


@app.command()
@clean_errors
def nik(
    value: Annotated[str, typer.Argument(help="A NIK as written, e.g. '3204 0515 0780 0003'.")],
    as_of: Annotated[str | None, typer.Option(help="Date to judge the century by (YYYY-MM-DD).")] = None,
) -> None:
    """Check one NIK: format, Excel damage, birth date and sex it encodes."""
    from dtsen.reference.nik import check_nik

    when = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    result = check_nik(value, when)
    table = Table(show_header=False)
    for key, val in vars(result).items():
        table.add_row(key, str(val))
    _console().print(table)
    if result.reasons:
        raise typer.Exit(1)


@app.command()
@clean_errors
def region(
    query: Annotated[str, typer.Argument(help="A code (32.04 or 3204) or a name ('kab. bandung').")],
    regions: Annotated[Path, typer.Option(help="Kemendagri region list (code,name,level).")],
    level: Annotated[str | None, typer.Option(help="province, regency, district or village.")] = None,
) -> None:
    """Look a region up by code or name, with its parents and number of children."""
    from dtsen.reference.regions import RegionMaster

    master = RegionMaster.load(regions)
    hit = master.get(query)
    found = [hit] if hit else master.find(query, level=level)
    if not found:
        raise DtsenError(f"no region matches {query!r}")
    table = Table("code", "name", "level", "within", "children")
    for r in found[:50]:
        within = " / ".join(a.name for a in master.ancestors(r.code))
        table.add_row(r.code, r.name, r.level, within, str(len(master.children(r.code))))
    _console().print(table)


def _settings_for(project: Path, engine: str | None) -> Any:
    from dtsen.config import load_settings

    settings = load_settings(project)
    if engine:
        if engine not in ("duckdb", "spark"):
            raise DtsenError(f"--engine must be duckdb or spark, not {engine!r}")
        settings.engine.kind = engine  # type: ignore[assignment]
    return settings


def _engine_for(project: Path, engine: str | None) -> tuple[Any, Any]:
    from dtsen.engine import Engine

    settings = _settings_for(project, engine)
    return settings, Engine.from_settings(settings.engine)


@contextlib.contextmanager
def _writing(project: Path, engine: str | None, command: str) -> Iterator[tuple[Any, Any]]:
    """The settings and an engine for a command that writes to the project's work directory or
    release store, under the project lock (refused at once while another command holds it);
    the engine is closed and the lock freed at the end."""
    from dtsen.engine import Engine
    from dtsen.release.store import project_lock

    settings = _settings_for(project, engine)
    with project_lock(settings, command):
        eng = Engine.from_settings(settings.engine)
        try:
            yield settings, eng
        finally:
            eng.close()


EngineOpt = Annotated[str | None, typer.Option(help="Override the engine: duckdb or spark.")]


@app.command()
@clean_errors
def link(project: ProjectOpt = Path("."), engine: EngineOpt = None) -> None:
    """Link the ingested records into persons and families, with golden records and stable ids."""
    from dtsen.link.pipeline import link as run_link

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with _writing(project, engine, "dtsen link") as (settings, eng), Progress(*columns, console=_console()) as bars:
        task = bars.add_task("linking")
        result = run_link(eng, settings, step=lambda label: bars.update(task, description=label))
    table = Table(title=f"Linkage run {result.release_id}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in result.counts.items():
        table.add_row(name, f"{n:,}")
    _console().print(table)
    _console().print("Phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    _console().print(f"Output: {result.out_dir}")
    for note in result.notes:
        _console().print(f"[yellow]Note:[/] {note}", highlight=False)
    if result.review_file:
        _console().print(f"{result.review_pairs:,} pairs to review: {result.review_file} "
                         "(fill 'keputusan' with SAMA or BEDA, then list the file under \\[link] decisions)")


explain_app = typer.Typer(help="Explain a result: why records were linked, why a family has its rank.",
                          no_args_is_help=True)
app.add_typer(explain_app, name="explain")


@explain_app.command("person")
@clean_errors
def explain_person(
    person_id: Annotated[int, typer.Argument(help="The person_id to explain.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Show the source records behind a person and why they were linked, field by field."""
    from dtsen.link.explain import explain_person as run_explain
    from dtsen.link.pipeline import link_dir
    from dtsen.link.records import load_records

    settings, eng = _engine_for(project, "duckdb")
    try:
        records = eng.con.to_pyarrow(load_records(eng, settings).person)
    finally:
        eng.close()
    ex = run_explain(link_dir(settings), person_id, records)
    console = _console()
    golden = Table("field", "value", "source", "as of", "agree", title=f"Person {person_id}")
    for p in ex.provenance:
        golden.add_row(p["field"], str(p["value"]), p["source"], str(p["observed_at"]),
                       f"{p['agreeing_sources']}/{p['candidate_sources']}")
    console.print(golden)
    recs = Table(title="Source records")
    keys = {"record": 16, "nik": 16, "kk": 16, "village": 13}  # copied by hand: never cut
    for col in ("record", "method", "p", "source", "row", "nik", "name", "sex", "born", "kk", "village"):
        recs.add_column(col, no_wrap=col in keys, min_width=keys.get(col))
    for r in ex.records:
        recs.add_row(r["record_key"], r["method"], f"{r['match_probability']:.3f}", r.get("source", ""),
                     str(r.get("row", "")), str(r.get("nik") or ""), str(r.get("full_name") or ""),
                     str(r.get("sex") or ""), str(r.get("birth_date") or ""), str(r.get("kk") or ""),
                     str(r.get("region_code") or ""))
    console.print(recs)
    nik_members = [r for r in ex.records if r["method"] == "nik"]
    if nik_members:
        console.print(f"{len(nik_members)} record(s) joined deterministically: the same valid NIK, with birth "
                      "date, sex and name agreeing with the most trusted record of that NIK.")
    for pair in ex.pairs:
        t = Table("comparison", "level reached", "weight",
                  title=f"{pair.record_l} ~ {pair.record_r}: p={pair.probability:.4f}, weight {pair.weight:.1f}")
        for comp, level, weight in pair.fields:
            t.add_row(comp, level, f"{weight:+.2f}")
        console.print(t)


@app.command()
@clean_errors
def evaluate(
    what: Annotated[str, typer.Argument(help="What to score: linkage or welfare.")] = "linkage",
    project: ProjectOpt = Path("."),
    truth: Annotated[Path | None, typer.Option(help="Ground truth directory (default: the project's truth/).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON here.")] = None,
) -> None:
    """Score linkage (precision, recall, F1) or welfare ranking (inclusion and exclusion errors)."""
    import json

    if what not in ("linkage", "welfare"):
        raise DtsenError(f"dtsen evaluate knows 'linkage' and 'welfare', not {what!r}")
    if what == "linkage":
        figures = _evaluate_linkage(project, truth)
    else:
        from dtsen.cli.welfare import evaluate_welfare_command

        figures = evaluate_welfare_command(project, truth)
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2), encoding="utf-8")


def _evaluate_linkage(project: Path, truth: Path | None) -> dict[str, Any]:
    from dtsen.link.evaluation import evaluate_links, family_attachment, load_truth, shared_niks
    from dtsen.link.pipeline import link_dir

    settings, eng = _engine_for(project, "duckdb")
    try:
        links_path = link_dir(settings) / "links.parquet"
        if not links_path.exists():
            raise DtsenError(f"no linkage output at {links_path}: run `dtsen link` first")
        links, truth_records = eng.read_parquet(links_path), load_truth(eng, truth or settings.project.root / "truth")
        result = evaluate_links(eng, links, truth_records)
        attachment = family_attachment(links, truth_records)
        persons_path = link_dir(settings) / "persons.parquet"
        shared = shared_niks(eng.read_parquet(persons_path)) if persons_path.exists() else None
    finally:
        eng.close()
    figures = result.to_dict()
    figures["family_attachment"] = attachment.to_dict()
    if shared is not None:
        figures["shared_niks"] = shared.to_dict()
    table = Table("level", "records", "linked", "quarantined", "precision", "recall", "F1", "B3 F1", "exact",
                  title="Linkage against the ground truth")
    for level in ("persons", "persons_accepted", "families"):  # persons_accepted: the accepted rows only
        f = figures[level]
        table.add_row(level, f"{f['records']:,}", f"{f['linked']:,}", f"{f['quarantined']:,}",
                      f"{f['precision']:.5f}", f"{f['recall']:.5f}", f"{f['f1']:.5f}", f"{f['bcubed_f1']:.5f}",
                      f"{f['exact_share']:.4f}")
    _console().print(table)
    _console().print(f"Family-level records attached to the right family: {attachment.right:,} of "
                     f"{attachment.records:,} ({attachment.share:.4f}; {attachment.attached:,} attached to some family)")
    if shared is not None:
        _console().print(f"NIKs held by two or more golden persons: {shared.niks:,}, "
                         f"of which with agreeing names: {shared.names_agree:,}")
    misses = Table("kind", "level", "records", "quarantined", "linked", "split", "merged",
                   title="Misses by planted error")
    for row in result.misses.to_pylist():
        misses.add_row(row["kind"], row["level"], *(f"{row[k]:,}" for k in
                                                     ("records", "quarantined", "linked", "split", "merged")))
    _console().print(misses)
    return figures


def main() -> None:  # pragma: no cover
    owner_only()
    app()


# the command groups of later steps register themselves on `app`
from dtsen.cli import backup as _backup  # noqa: E402, F401
from dtsen.cli import demo as _demo  # noqa: E402, F401
from dtsen.cli import keys as _keys  # noqa: E402, F401
from dtsen.cli import release as _release  # noqa: E402
from dtsen.cli import service as _service  # noqa: E402, F401
from dtsen.cli import serving as _serving  # noqa: E402, F401
from dtsen.cli import sources as _sources  # noqa: E402
from dtsen.cli import welfare as _welfare  # noqa: E402
from dtsen.cli import workflow as _workflow  # noqa: E402, F401

__all__ = ["_release", "_sources", "_welfare", "app", "clean_errors", "main"]
