"""The welfare steps of a run: train the PMT, rank every family, write the ranking.

WORK/welfare/
    models/<model_id>/    one artefact per trained model (see `artefact`)
    models/current.json   the model id of the latest training per kind
    ranking.parquet/      the ranked families (RANKED_COLUMNS)
    features.parquet/     every family's predictor values, so a later run can say what moved it
    poverty.parquet/      families and persons poor and extremely poor per regency and district
    headcounts.parquet/   per region and line: the estimated headcount, its source, the survey's and
                          the model's estimates, and the persons and families flagged (`headcounts`)
    recipients/           current recipients against the ranking: report.parquet (by regency),
                          leakage.csv (receiving, desil 6-10), undercoverage.csv (extremely poor,
                          receiving nothing)
    programmes/NAME/      `dtsen target NAME`: recipients.csv, recipients.parquet, simulation.json
    summary.json          the model used, the poverty lines, counts by decile, timings
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from dtsen.config import Settings
from dtsen.engine import Engine, typed
from dtsen.errors import DtsenError
from dtsen.export import Column, write_csv_batches
from dtsen.welfare.artefact import ModelArtefact, find_model, models_dir
from dtsen.welfare.headcounts import headcount_arrow
from dtsen.welfare.poverty import read_poverty_lines
from dtsen.welfare.predictors import family_features
from dtsen.welfare.probability import matched_spread
from dtsen.welfare.ranking import predict_log, rank_families
from dtsen.welfare.training import TrainedModels, external_artefact, train_models

CURRENT = "current.json"
Step = Callable[[str], None]


class WelfareInputError(DtsenError):
    """The linkage output that ranking needs is missing."""


@dataclass
class RankResult:
    model: ModelArtefact
    out_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    headcounts: pd.DataFrame | None = None


def welfare_dir(settings: Settings) -> Path:
    return settings.work_dir / "welfare"


def ranking_path(settings: Settings) -> Path:
    return welfare_dir(settings) / "ranking.parquet"


def features_path(settings: Settings) -> Path:
    return welfare_dir(settings) / "features.parquet"


def registry_as_of(settings: Settings) -> dt.date:
    """The date ages are counted on: the newest as-of date among the sources."""
    return max(src.as_of for src in settings.sources.values()) if settings.sources else dt.date.today()


def reported_head_as_of(settings: Settings) -> dt.date | None:
    """The date the head ages that family records state were counted on: the newest as-of date
    of the sources that map `reported_head_age` (None when none does)."""
    dates = [src.as_of for src in settings.sources.values() if "reported_head_age" in src.mapped_fields()]
    return max(dates) if dates else None


def golden_tables(engine: Engine, settings: Settings) -> tuple[ir.Table, ir.Table]:
    link_out = settings.work_dir / "link"
    paths = [link_out / "families.parquet", link_out / "persons.parquet"]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise WelfareInputError(f"no golden records at {missing[0]}: run `dtsen link` first")
    return engine.read_parquet(paths[0]), engine.read_parquet(paths[1])


def features_for(engine: Engine, settings: Settings) -> tuple[ir.Table, ir.Table]:
    """(golden families, their feature table), the feature table materialised once."""
    families, persons = golden_tables(engine, settings)
    as_of = registry_as_of(settings)
    features = engine.materialize(family_features(families, persons, as_of, reported_head_as_of(settings)))
    return families, features


def survey_as_of(settings: Settings) -> dt.date | None:
    src = settings.sources.get(settings.welfare.survey)
    return src.as_of if src else None


def train(engine: Engine, settings: Settings, features: ir.Table | None = None) -> TrainedModels:
    """Train every candidate PMT on the survey; record them, and the one `auto` chose, as the
    current models."""
    if features is None:
        _, features = features_for(engine, settings)
    trained = train_models(engine, features, settings.welfare, settings.work_dir, survey_as_of=survey_as_of(settings))
    current = _read_current(settings)
    current.update({kind: a.model_id for kind, a in trained.artefacts.items()})
    if trained.chosen is not None:
        current["auto"] = trained.chosen.model_id
    (models_dir(settings.work_dir) / CURRENT).write_text(json.dumps(current, indent=2, sort_keys=True), encoding="utf-8")
    return trained


def _read_current(settings: Settings) -> dict[str, str]:
    path = models_dir(settings.work_dir) / CURRENT
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def ranking_model(engine: Engine, settings: Settings, features: ir.Table, model_id: str | None = None) -> ModelArtefact:
    """The model that ranks: the one named, else the current model of `[welfare] model`
    (trained now when there is none yet)."""
    if model_id:
        return find_model(settings.work_dir, model_id)
    kind = settings.welfare.model
    if kind == "external":
        if settings.welfare.coefficients is None:
            raise DtsenError(f"{settings.where('welfare', 'model')}: model = 'external' needs "
                             "[welfare] coefficients = 'FILE.csv' (predictor,category,weight)")
        from dtsen.welfare.coefficients import read_coefficients

        path = settings.path(settings.welfare.coefficients)
        return external_artefact(engine, features, settings.welfare, read_coefficients(path), path, settings.work_dir)
    current = _read_current(settings).get(kind)
    if current is None:
        trained = train(engine, settings, features)
        chosen = trained.chosen if kind == "auto" else trained.artefacts.get(kind)
        if chosen is None:
            raise DtsenError(f"training made no {kind} model")
        return chosen
    return find_model(settings.work_dir, current)


def rank(engine: Engine, settings: Settings, model_id: str | None = None, step: Step | None = None) -> RankResult:
    """Score every golden family with the ranking model and write the ranking."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        if step:
            step(name)

    families, features = features_for(engine, settings)
    phase("features")
    model = ranking_model(engine, settings, features, model_id)
    phase("model")
    out_dir = welfare_dir(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    predicted = engine.materialize(predict_log(engine, model, features, out_dir, settings.welfare.boosted.batch_rows))
    phase("score")
    lines = read_poverty_lines(
        settings.path(settings.welfare.poverty_lines) if settings.welfare.poverty_lines else None,
        settings.welfare.poverty_line,
        settings.welfare.extreme_line,
    )
    engine.write_parquet(features, features_path(settings), order_by=["family_id"])
    spread = matched_spread(predicted, features, model.survey_variance, model.residual_sd)
    ranked = engine.materialize(rank_families(families, features, predicted, lines, model.model_id, spread))
    phase("rank")
    counter = counting_model(settings, model)
    counting, counter_spread = None, spread
    if counter.model_id != model.model_id:
        scored = engine.materialize(predict_log(engine, counter, features, out_dir, settings.welfare.boosted.batch_rows))
        counter_spread = matched_spread(scored, features, counter.survey_variance, counter.residual_sd)
        counting = engine.materialize(with_probabilities(ranked, scored, counter_spread))
    ranked, headcounts = estimate_and_flag(engine, settings, features, ranked, counter_spread, counting)
    engine.write_parquet(ranked, ranking_path(settings), order_by=["family_id"])
    engine.write_parquet(engine.from_arrow(headcount_arrow(headcounts)), headcounts_path(settings),
                         order_by=["level", "region", "line"])
    phase("headcounts")
    ranked = engine.read_parquet(ranking_path(settings))
    engine.write_parquet(poverty_counts(ranked), out_dir / "poverty.parquet", order_by=["region_level", "region"])
    write_recipient_reports(engine, ranked, out_dir / "recipients")
    counts = _counts(ranked)
    phase("write")
    summary: dict[str, Any] = {
        "model_id": model.model_id,
        "model_kind": model.kind,
        "poverty_lines": lines.to_dict(),
        "counts": counts,
        "deciles": decile_counts(ranked),
        "flags": settings.welfare.flags,
        "headcount_model_id": counter.model_id,
        "residual_sd": model.residual_sd,
        "spread": spread,
        "headcount_spread": counter_spread,
        "headcounts": headcount_summary(headcounts),
        "timings": timings,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    return RankResult(model=model, out_dir=out_dir, counts=counts, timings=timings, headcounts=headcounts)


def headcounts_path(settings: Settings) -> Path:
    return welfare_dir(settings) / "headcounts.parquet"


COUNTING_KIND = "blend"


def counting_model(settings: Settings, model: ModelArtefact) -> ModelArtefact:
    """The model whose probabilities give the expected counts: the blend trained with the ranking
    model, else the ranking model itself.

    The blend's probabilities held best in the tails in the synthetic measurements
    (`benchmarks/welfare.py`): with about 300 survey families it estimated the extremely poor
    within -18% to +3% where OLS overstated them by up to 37% and the boosted model by up to 70%;
    with 3,000, within 10% where the boosted model overstated them by up to 27%. The flags still
    follow the ranking model's order."""
    if model.kind == COUNTING_KIND or model.kind == "external":
        return model
    blend_id = _read_current(settings).get(COUNTING_KIND)
    if blend_id is None:
        return model
    blend = find_model(settings.work_dir, blend_id)
    same = blend.training.get("sha256") == model.training.get("sha256")
    return blend if same else model


def with_probabilities(ranked: ir.Table, predicted: ir.Table, residual_sd: float | None) -> ir.Table:
    """The ranked families with predicted consumption, p_poor and p_extreme of another model."""
    from dtsen.welfare.probability import below_line_expr

    p = predicted.select(_fid=predicted.family_id, _lp=predicted.log_predicted)
    j = ranked.left_join(p, ranked.family_id == p._fid)
    pc = (j.persons > 0).ifelse(j._lp.exp(), ibis.null("float64"))
    j = j.mutate(predicted_consumption=pc)
    j = j.mutate(p_poor=below_line_expr(j.predicted_consumption, j.poverty_line, residual_sd),
                 p_extreme=below_line_expr(j.predicted_consumption, j.extreme_line, residual_sd))
    return j.select(*ranked.columns)


def survey_families(engine: Engine, settings: Settings, features: ir.Table, ranked: ir.Table) -> pd.DataFrame:
    """The screened survey families with their sampling weight and lines, for direct estimates."""
    from dtsen.welfare.predictors import select_predictors
    from dtsen.welfare.robust import screen_survey
    from dtsen.welfare.training import ridge_of, training_frame

    predictors = select_predictors(settings.welfare.predictors, where="[welfare] predictors")
    raw = training_frame(features, predictors)
    if raw.empty:
        return pd.DataFrame(columns=["family_id", "regency_code", "persons", "consumption_per_capita", "weight",
                                     "poverty_line", "extreme_line"])
    screen = screen_survey(raw, predictors, ridge_of(settings.welfare))
    frame = raw.assign(weight=screen.weight)[screen.kept]
    frame = frame[["family_id", "regency_code", "persons", "consumption_per_capita", "weight"]]
    ids = [int(i) for i in frame.family_id]
    lines = ranked.filter(ranked.family_id.isin(ids)).select("family_id", "poverty_line", "extreme_line").to_pandas()
    return frame.merge(lines, on="family_id", how="inner")


def estimate_and_flag(engine: Engine, settings: Settings, features: ir.Table, ranked: ir.Table,
                      residual_sd: float | None, counting: ir.Table | None = None) -> tuple[ir.Table, pd.DataFrame]:
    """The headcounts per region (survey, official, model) and, with `welfare.flags =
    "calibrated"`, the ranking flagged to reproduce them (see `headcounts`). The model's expected
    counts come from `counting` (the ranked families with another model's probabilities, whose
    residual spread is `residual_sd`; see `counting_model`) when given, else from `ranked`."""
    from dtsen.welfare.headcounts import (
        Shared,
        direct_estimates,
        flag_families,
        flagged_counts,
        headcount_table,
        level_variance,
        model_totals,
        plan_targets,
        regency_targets,
        registry_persons,
        spread_variance,
    )
    from dtsen.welfare.official import read_headcounts

    official = read_headcounts(settings.path(settings.welfare.headcounts)) if settings.welfare.headcounts else {}
    totals = model_totals(counting if counting is not None else ranked, residual_sd)
    survey = survey_families(engine, settings, features, ranked)
    direct = direct_estimates(survey, registry_persons(totals))
    shared = Shared(level_variance(survey, residual_sd), spread_variance(survey, residual_sd))
    plan = plan_targets(totals, direct, official, settings.welfare.headcount_max_rse, shared)
    if settings.welfare.flags == "calibrated":
        targets = engine.from_arrow(pa.Table.from_pandas(regency_targets(plan), preserve_index=False))
        ranked = engine.materialize(flag_families(ranked, targets))
    return ranked, headcount_table(plan, flagged_counts(ranked))


def headcount_summary(headcounts: pd.DataFrame) -> dict[str, Any]:
    """The whole registry's headcounts, for summary.json."""
    from dtsen.welfare.headcounts import records

    return {
        str(r["line"]): {"estimate": round(float(r["estimate"]), 1), "source": r["source"],
                         "flagged_persons": int(r["flagged_persons"]),
                         "survey_estimate": None if pd.isna(r["survey_estimate"]) else round(float(r["survey_estimate"]), 1)}
        for r in records(headcounts[headcounts["level"] == "national"])
    }


def poverty_counts(ranked: ir.Table) -> ir.Table:
    """Families and persons, poor and extremely poor (by predicted consumption), per regency and
    district, and nationally."""
    parts = []
    for level, column in (("national", None), ("regency", "regency_code"), ("district", "district_code")):
        region = ibis.literal("ALL") if column is None else ranked[column].fill_null("")
        t = ranked.mutate(region_level=ibis.literal(level), region=region)
        persons = t.persons
        parts.append(
            t.group_by(["region_level", "region"]).aggregate(
                families=t.count(),
                persons=persons.sum(),
                poor_families=t.poor.cast("int64").sum(),
                poor_persons=t.poor.ifelse(persons, 0).sum(),
                extreme_families=t.extreme_poor.cast("int64").sum(),
                extreme_persons=t.extreme_poor.ifelse(persons, 0).sum(),
            )
        )
    counts = ("families", "persons", "poor_families", "poor_persons", "extreme_families", "extreme_persons")
    return typed(ibis.union(*parts), dict.fromkeys(counts, "int64"))


def decile_counts(ranked: ir.Table) -> list[dict[str, Any]]:
    t = ranked.filter(ranked.decile.notnull())
    rows = (
        t.group_by("decile")
        .aggregate(families=t.count(), persons=t.persons.sum(), max_consumption=t.predicted_consumption.max())
        .order_by("decile")
        .to_pyarrow()
        .to_pylist()
    )
    return [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def _counts(ranked: ir.Table) -> dict[str, int]:
    row = ranked.aggregate(
        families=ranked.count(),
        ranked=ranked.decile.notnull().cast("int64").sum(),
        persons=ranked.persons.sum(),
        poor_families=ranked.poor.cast("int64").sum(),
        poor_persons=ranked.poor.ifelse(ranked.persons, 0).sum(),
        extreme_families=ranked.extreme_poor.cast("int64").sum(),
        extreme_persons=ranked.extreme_poor.ifelse(ranked.persons, 0).sum(),
    ).to_pyarrow().to_pylist()[0]
    return {k: int(v or 0) for k, v in row.items()}


def write_recipient_reports(engine: Engine, ranked: ir.Table, out_dir: Path) -> dict[str, Path]:
    """The current-recipient report by regency, and the leakage and undercoverage lists."""
    from dtsen.welfare.recipients import (
        LIST_COLUMNS,
        PROGRAMMES,
        current_recipient_report,
        leakage_list,
        undercoverage_list,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"report": engine.write_parquet(current_recipient_report(ranked), out_dir / "report.parquet",
                                            order_by=["region", "programme"])}
    columns = [_list_column(name, PROGRAMMES) for name in LIST_COLUMNS]
    for name, table in (("leakage", leakage_list(ranked)), ("undercoverage", undercoverage_list(ranked))):
        rows = table.order_by(["region_code", "family_id"]).to_pyarrow()
        files[name] = write_csv_batches(out_dir / f"{name}.csv", columns, rows.to_batches())
    return files


def _list_column(name: str, programmes: tuple[str, ...]) -> Column:
    """A column of the leakage and undercoverage lists (`dtsen.export`): codes kept as text,
    programme flags as YA / TIDAK, counts and amounts as numbers."""
    if name == "kk" or name.endswith("_code"):
        return Column(name, "code", key=name)
    if name in programmes:
        return Column(name, "text", key=name)
    return Column(name, "number", key=name)


def current_run(engine: Engine, settings: Settings) -> tuple[ModelArtefact, ir.Table, ir.Table]:
    """(model, features, ranking) of the latest `dtsen rank` of this project."""
    summary = welfare_dir(settings) / "summary.json"
    if not summary.exists() or not ranking_path(settings).exists():
        raise WelfareInputError(f"no ranking under {welfare_dir(settings)}: run `dtsen rank` first")
    model_id = json.loads(summary.read_text(encoding="utf-8"))["model_id"]
    model = find_model(settings.work_dir, model_id)
    return model, engine.read_parquet(features_path(settings)), engine.read_parquet(ranking_path(settings))


def truth_for(engine: Engine, settings: Settings, truth_dir: Path | None) -> ir.Table | None:
    """The true families (see `dtsen.welfare.truth.family_truth`) when the project has a synthetic
    truth (or `truth_dir` names one); None otherwise."""
    from dtsen.link.evaluation import load_truth
    from dtsen.welfare.truth import family_truth, load_truth_families

    directory = truth_dir or settings.project.root / "truth"
    if truth_dir is None and not (directory / "families.parquet").exists():
        return None
    links = engine.read_parquet(settings.work_dir / "link" / "links.parquet")
    return engine.materialize(
        family_truth(engine, links, load_truth(engine, directory), load_truth_families(engine, directory))
    )


@dataclass
class TargetResult:
    simulation: Any
    files: dict[str, Path]


def target(engine: Engine, settings: Settings, programme: str, truth_dir: Path | None = None) -> TargetResult:
    """The recipient list of one programme, its simulation, and the files written."""
    from dtsen.welfare.targeting import select_recipients, simulate, write_recipients

    rule = settings.programmes.get(programme)
    if rule is None:
        known = ", ".join(sorted(settings.programmes)) or "none (add a [programmes.NAME] section)"
        raise DtsenError(f"no programme {programme!r} in the project file; known: {known}")
    if not ranking_path(settings).exists():
        rank(engine, settings)
    ranked = engine.read_parquet(ranking_path(settings))
    recipients = engine.materialize(select_recipients(ranked, programme, rule))
    truth = truth_for(engine, settings, truth_dir)
    simulation = simulate(recipients, rule, truth, ranked=ranked)
    files = write_recipients(engine, recipients, simulation, welfare_dir(settings) / "programmes" / programme)
    return TargetResult(simulation=simulation, files=files)
