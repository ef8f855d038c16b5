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
    table = Table("model", "families", "R²", "RMSE (ln)", *(f"{c} {k}" for c in ("10%", "20%", "40%")
                                                             for k in ("incl.", "excl.")), title=title)
    for name, m in models.items():
        errs = [f"{e[k]:.3f}" for e in m["errors"] for k in ("inclusion_error", "exclusion_error")]
        table.add_row(name, f"{m['families']:,}", f"{m['r2']:.3f}", f"{m['rmse_log']:.3f}", *errs)
    return table


@pmt_app.command("train")
@clean_errors
def pmt_train(project: ProjectOpt = Path("."), engine: EngineOpt = None) -> None:
    """Train the OLS and the boosted PMT on the survey, cross-validated by region, and save them."""
    from dtsen.welfare.pipeline import train

    with _writing(project, engine, "dtsen pmt train") as (settings, eng), _console().status(
            "melatih model / training the PMT"):
        trained = train(eng, settings)
    cv = {kind: a.metrics["cross_validation"] for kind, a in trained.artefacts.items()}
    _console().print(_metrics_table(f"Held-out survey families ({trained.survey_families:,}, folds by "
                                    f"{trained.fold_level})", cv))
    for kind, a in trained.artefacts.items():
        _console().print(f"{kind}: {a.path}")
    for note in trained.notes:
        _console().print(f"[yellow]Note:[/] {note}", highlight=False)


@pmt_app.command("export")
@clean_errors
def pmt_export(
    out: Annotated[Path, typer.Argument(help="CSV file to write (predictor,category,weight).")],
    model: Annotated[str | None, typer.Option(help="Model id (default: the current OLS model).")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Write an OLS model's coefficients as a table that [welfare] coefficients can read back."""
    import json

    from dtsen.config import load_settings
    from dtsen.welfare.artefact import find_model, models_dir
    from dtsen.welfare.coefficients import write_coefficients

    settings = load_settings(project)
    current = models_dir(settings.work_dir) / "current.json"
    model_id = model or (json.loads(current.read_text()).get("ols") if current.exists() else None)
    if not model_id:
        raise DtsenError("no OLS model yet: run `dtsen pmt train` first")
    artefact = find_model(settings.work_dir, model_id)
    if artefact.coefficients is None:
        raise DtsenError(f"model {model_id} is a {artefact.kind} model without coefficients")
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
    table = Table("", "families", "persons", title=f"Ranking with {result.model.model_id}")
    table.add_row("ranked", f"{c['ranked']:,}", f"{c['persons']:,}")
    table.add_row("poor", f"{c['poor_families']:,}", f"{c['poor_persons']:,}")
    table.add_row("extremely poor", f"{c['extreme_families']:,}", f"{c['extreme_persons']:,}")
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


def evaluate_welfare_command(project: Path, truth: Path | None) -> dict[str, Any]:
    from dtsen.welfare.evaluation import evaluate_welfare

    with _writing(project, "duckdb", "dtsen evaluate welfare") as (settings, eng), _console().status(
            "menilai peringkat / evaluating the ranking"):
        result = evaluate_welfare(eng, settings, truth)
    figures = result.to_dict()
    console = _console()
    console.print(_metrics_table("Held-out survey families (cross-validated by region)", figures["held_out_survey"]))
    table = Table("view / model", "ranked", "of true", "rank corr.", "extreme poor in desil 1",
                  *(f"{c} {k}" for c in ("10%", "20%", "40%") for k in ("incl.", "excl.")),
                  title="Against the synthetic truth (every true family; missed families are never selected)")
    for name, view in figures["synthetic_truth"].items():
        errs = [f"{e[k]:.3f}" for e in view["errors"] for k in ("inclusion_error", "exclusion_error")]
        ext = view["extreme_poor_in_desil_1"]
        table.add_row(name, f"{view['ranked_families']:,}", f"{view['true_families']:,}",
                      f"{view['rank_correlation']:.3f}" if view["rank_correlation"] is not None else "-",
                      f"{ext:.3f}" if ext is not None else "-", *errs)
    console.print(table)
    integration = figures["integration"]
    if integration:
        console.print(
            f"Integration ({integration['model']}): exclusion error at 40% coverage "
            f"{integration['exclusion_40_registry']:.3f} for the registry against "
            f"{integration['exclusion_40_best_single_source']:.3f} for the best single source "
            f"({integration['best_single_source']})"
        )
    return figures
