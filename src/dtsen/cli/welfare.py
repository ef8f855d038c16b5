"""The welfare commands: `dtsen pmt ...`, `dtsen rank`, `dtsen target`, `dtsen explain family`,
and the figures of `dtsen evaluate welfare`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dtsen.cli import EngineOpt, ProjectOpt, _console, _engine_for, _writing, app, clean_errors, explain_app
from dtsen.errors import DtsenError


@explain_app.command("family")
@clean_errors
def explain_family(
    family_id: Annotated[int, typer.Argument(help="The family_id to explain.")],
    project: ProjectOpt = Path("."),
    against: Annotated[Path | None, typer.Option(help="WORK directory of an earlier run to compare with.")] = None,
) -> None:
    """Show what places a family in its decile, predictor by predictor, and what moved it."""
    from dtsen.welfare.explain import explain_family as run_explain
    from dtsen.welfare.explain import read_run
    from dtsen.welfare.pipeline import current_run

    settings, eng = _engine_for(project, "duckdb")
    try:
        model, features, ranking = current_run(eng, settings)
        before = read_run(eng, against) if against else None
        ex = run_explain(eng, model, features, ranking, family_id, before)
    finally:
        eng.close()
    console = _console()
    pc = f"Rp {ex.predicted_consumption:,.0f}" if ex.predicted_consumption is not None else "not ranked"
    console.print(f"Family {family_id}: predicted consumption {pc} per person per month, decile {ex.decile} "
                  f"(model {ex.model_id})")
    console.print(", ".join(f"{k} {v}" for k, v in ex.ranking.items()))
    table = Table("predictor", "value", "contribution", "average", "difference", title="Why (ln consumption)")
    for c in ex.contributions:
        table.add_row(c.predictor, str(c.value), f"{c.contribution:+.3f}", f"{c.average:+.3f}",
                      f"{c.contribution - c.average:+.3f}")
    console.print(table)
    console.print(f"base (intercept and region): {ex.base:.3f}")
    if before is not None:
        b = ex.before
        console.print(f"Earlier run: decile {b.get('decile')} -> now {ex.decile}")
        changes = Table("predictor", "before", "after", "effect", title="What changed")
        for ch in ex.changes:
            changes.add_row(ch["predictor"], str(ch["before"]), str(ch["after"]), f"{ch['effect']:+.3f}")
        console.print(changes)


pmt_app = typer.Typer(help="The proxy means test: predictors, training, coefficient tables.", no_args_is_help=True)
app.add_typer(pmt_app, name="pmt")


@pmt_app.command("predictors")
def pmt_predictors() -> None:
    """List the predictors a PMT model can use (names for [welfare] predictors)."""
    from dtsen.welfare.predictors import PREDICTORS

    table = Table("predictor", "kind", "description", "categories (first = reference)", title="PMT predictors")
    for p in PREDICTORS.values():
        table.add_row(p.name, p.kind, p.description, ", ".join(p.categories))
    _console().print(table)


def _metrics_table(title: str, models: dict[str, dict[str, Any]]) -> Table:
    table = Table("model", "families", "R²", "RMSE (ln)", "rank corr.",
                  *(f"{c} {k}" for c in ("10%", "20%", "40%") for k in ("incl.", "excl.")), title=title)
    for name, m in models.items():
        if not m:
            continue
        errs = [f"{e[k]:.3f}" for e in m["errors"] for k in ("inclusion_error", "exclusion_error")]
        rho = m.get("rank_correlation")
        table.add_row(name, f"{m['families']:,}", f"{m['r2']:.3f}", f"{m['rmse_log']:.3f}",
                      f"{rho:.3f}" if rho is not None else "-", *errs)
    return table


def _selection_table(selection: dict[str, Any]) -> Table:
    table = Table("model", "rank corr.", "short of best", "± SE", "excl. 40%", "above best", "± SE",
                  "as good as best", title="Pilihan model / model choice (held-out regions)")
    for row in selection.get("candidates", []):
        mark = "[bold]chosen[/]" if row["model"] == selection.get("chosen") else ("yes" if row["as_good_as_best"] else "")
        table.add_row(row["model"], f"{row['rank_correlation']:.3f}", f"{row['rank_correlation_shortfall']:.3f}",
                      f"{row['rank_correlation_se']:.3f}", f"{row['exclusion_40']:.3f}", f"{row['exclusion_excess']:.3f}",
                      f"{row['exclusion_se']:.3f}", mark)
    return table


@pmt_app.command("train")
@clean_errors
def pmt_train(project: ProjectOpt = Path("."), engine: EngineOpt = None) -> None:
    """Train every candidate PMT (OLS, boosted, asset index, blend) on the survey, cross-validated
    by region; compare them, choose one for model = "auto", and save them."""
    from dtsen.welfare.pipeline import train

    with _writing(project, engine, "dtsen pmt train") as (settings, eng), _console().status(
            "melatih model / training the PMT"):
        trained = train(eng, settings)
    console = _console()
    cv = {kind: a.metrics["cross_validation"] for kind, a in trained.artefacts.items()}
    console.print(_metrics_table(f"Held-out survey families ({trained.survey_families:,}, folds by "
                                 f"{trained.fold_level}; weighted by sampling weight x persons)", cv))
    if trained.choice is not None:
        console.print(_selection_table(trained.choice.to_dict()))
        chosen = trained.artefacts[trained.choice.chosen]
        console.print(f"auto -> [bold]{chosen.kind}[/] ({chosen.model_id}): {trained.choice.reason}", highlight=False)
    for kind, a in trained.artefacts.items():
        console.print(f"{kind}: {a.path}")
    for warning in trained.warnings:
        console.print(f"[bold yellow]Peringatan / warning:[/] {warning}", highlight=False)
    for note in trained.notes:
        console.print(f"[yellow]Note:[/] {note}", highlight=False)


@pmt_app.command("export")
@clean_errors
def pmt_export(
    out: Annotated[Path, typer.Argument(help="CSV file to write (predictor,category,weight).")],
    model: Annotated[str | None, typer.Option(help="Model id (default: the current OLS model).")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Write a linear model's coefficients (OLS, asset index, blend) as a table that [welfare]
    coefficients can read back."""
    import json

    from dtsen.config import load_settings
    from dtsen.welfare.artefact import LINEAR_KINDS, find_model, models_dir
    from dtsen.welfare.coefficients import write_coefficients

    settings = load_settings(project)
    current = models_dir(settings.work_dir) / "current.json"
    model_id = model or (json.loads(current.read_text()).get("ols") if current.exists() else None)
    if not model_id:
        raise DtsenError("no OLS model yet: run `dtsen pmt train` first")
    artefact = find_model(settings.work_dir, model_id)
    if artefact.coefficients is None or artefact.kind not in LINEAR_KINDS:
        raise DtsenError(f"model {model_id} is a {artefact.kind} model: it has no coefficient table (only OLS, "
                         "the asset index and the blend are linear)")
    write_coefficients(artefact.coefficients, out)
    _console().print(f"ditulis / wrote {out}")


@app.command()
@clean_errors
def rank(
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
    model: Annotated[str | None, typer.Option(help="Model id to rank with (default: [welfare] model).")] = None,
) -> None:
    """Rank every family: predicted consumption, person-weighted deciles, poverty flags."""
    from dtsen.welfare.pipeline import rank as run_rank

    with _writing(project, engine, "dtsen rank") as (settings, eng), _console().status(
            "memeringkat / ranking families") as status:
        result = run_rank(eng, settings, model, step=lambda label: status.update(f"ranking: {label}"))
    c = result.counts
    table = Table("", "families", "persons", "estimated persons", "source",
                  title=f"Ranking with {result.model.model_id} (flags: {settings.welfare.flags})")
    table.add_row("ranked", f"{c['ranked']:,}", f"{c['persons']:,}", "", "")
    national = {}
    if result.headcounts is not None:
        h = result.headcounts
        national = {str(r["line"]): r for r in h[h["level"] == "national"].to_dict("records")}
    for label, key, line in (("poor", "poor", "poor"), ("extremely poor", "extreme", "extreme")):
        est = national.get(line)
        table.add_row(label, f"{c[f'{key}_families']:,}", f"{c[f'{key}_persons']:,}",
                      f"{est['estimate']:,.0f}" if est else "", str(est["source"]) if est else "")
    _console().print(table)
    _console().print("Phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    _console().print(f"Output: {result.out_dir}")


@app.command()
@clean_errors
def target(
    programme: Annotated[str, typer.Argument(help="A programme of the project file ([programmes.NAME]).")],
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
    truth: Annotated[Path | None, typer.Option(help="Synthetic truth to score the list against "
                                                      "(default: the project's truth/ when present).")] = None,
) -> None:
    """Write a programme's recipient list (ranked, within quota) and its simulation."""
    from dtsen.welfare.pipeline import target as run_target

    with _writing(project, engine, "dtsen target") as (settings, eng):
        result = run_target(eng, settings, programme, truth)
    sim = result.simulation.to_dict()

    def shown(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, float):
            return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.0f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    table = Table("figure", "value", title=f"Programme {programme}")
    for key, value in sim.items():
        if not isinstance(value, (list, dict)):
            table.add_row(key, shown(value))
    for key, value in (sim.get("truth") or {}).items():
        table.add_row(f"against the truth: {key}", shown(value))
    _console().print(table)
    for name, path in result.files.items():
        _console().print(f"{name}: {path}")


def _num(value: Any, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def evaluate_welfare_command(project: Path, truth: Path | None) -> dict[str, Any]:
    from dtsen.welfare.evaluation import evaluate_welfare

    with _writing(project, "duckdb", "dtsen evaluate welfare") as (settings, eng), _console().status(
            "menilai peringkat / evaluating the ranking"):
        result = evaluate_welfare(eng, settings, truth)
    figures = result.to_dict()
    console = _console()
    console.print(_metrics_table("Held-out survey families (cross-validated by region)", figures["held_out_survey"]))
    if figures["selection"]:
        console.print(_selection_table(figures["selection"]))
        console.print(f"auto: {figures['selection']['reason']}", highlight=False)
    table = Table("view / model", "ranked", "of true", "rank corr.", "extreme poor in desil 1",
                  *(f"{c} {k}" for c in ("10%", "20%", "40%") for k in ("incl.", "excl.")),
                  title="Against the synthetic truth (every true family; missed families are never selected)")
    for name, view in figures["synthetic_truth"].items():
        errs = [f"{e[k]:.3f}" for e in view["errors"] for k in ("inclusion_error", "exclusion_error")]
        table.add_row(name, f"{view['ranked_families']:,}", f"{view['true_families']:,}",
                      _num(view["rank_correlation"], ".3f"), _num(view["extreme_poor_in_desil_1"], ".3f"), *errs)
    console.print(table)
    integration = figures["integration"]
    if integration:
        console.print(
            f"Integration ({integration['model']}): exclusion error at 40% coverage "
            f"{integration['exclusion_40_registry']:.3f} for the registry against "
            f"{integration['exclusion_40_best_single_source']:.3f} for the best single source "
            f"({integration['best_single_source']})"
        )
    _print_by_region(figures)
    _print_headcounts(figures)
    _print_changes(figures)
    return figures


def _print_by_region(figures: dict[str, Any]) -> None:
    console = _console()
    survey = figures["held_out_survey_by_region"]
    kinds = [k for k in survey if survey[k]]
    if kinds:
        regions = sorted({r["region"] for k in kinds for r in survey[k]})
        table = Table("region", "families", *(f"{k} rank corr." for k in kinds), *(f"{k} excl. 40%" for k in kinds),
                      title="Held-out survey by region")
        by = {k: {r["region"]: r for r in survey[k]} for k in kinds}
        for region in regions:
            first = next(by[k][region] for k in kinds if region in by[k])
            table.add_row(region or "-", f"{first['families']:,}",
                          *(_num(by[k].get(region, {}).get("rank_correlation"), ".3f") for k in kinds),
                          *(_num(by[k].get(region, {}).get("exclusion_40"), ".3f") for k in kinds))
        console.print(table)
    truth = {k: v for k, v in figures["synthetic_truth_by_regency"].items() if v}
    if truth:
        views = list(truth)
        regencies = sorted({r["regency"] for v in views for r in truth[v]})
        by = {v: {r["regency"]: r for r in truth[v]} for v in views}
        table = Table("regency", "families", *(f"{v} excl. 40%" for v in views),
                      title="Against the synthetic truth by regency (exclusion error at 40% coverage)")
        for code in regencies:
            first = next(by[v][code] for v in views if code in by[v])
            table.add_row(code or "-", f"{first['families']:,}",
                          *(_num(by[v].get(code, {}).get("exclusion_40"), ".3f") for v in views))
        console.print(table)


def _print_headcounts(figures: dict[str, Any]) -> None:
    rows = figures["headcounts"]
    if not rows:
        return
    table = Table("region", "line", "persons", "true", "estimated", "source", "survey est.", "flagged",
                  "flagged vs true", title="Headcounts: true (synthetic), estimated and flagged persons")
    for r in rows:
        table.add_row(r["region"] or "-", r["line"], f"{r['persons']:,.0f}", _num(r["true"]), _num(r["estimate"]),
                      r["source"], _num(r["survey_estimate"]), f"{r['flagged']:,}",
                      _num(r["flagged_error"], "+.1%"))
    _console().print(table)
    ext = figures["extreme_poor"]
    if ext.get("true_persons"):
        _console().print(f"Of the {ext['true_persons']:,.0f} truly extremely poor persons: "
                         f"{ext['in_desil_1_or_flagged']:.1%} are in national desil 1 or flagged extremely poor, "
                         f"{ext['flagged']:.1%} flagged extremely poor")


def _print_changes(figures: dict[str, Any]) -> None:
    changes = figures["welfare_changes"]
    if not changes:
        return
    table = Table("view / model", "change", "families", "persons", "rank lag", "excluded of poorest 40%",
                  title="Families whose welfare moved since the census (rank lag: predicted minus true percentile)")
    for view, rows in changes.items():
        for r in rows:
            table.add_row(view, r["change"], f"{r['families']:,}", f"{r['persons']:,.0f}",
                          _num(r["rank_lag"], "+.3f"), _num(r["exclusion_40"], ".3f"))
    _console().print(table)
