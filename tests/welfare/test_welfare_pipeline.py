"""The welfare steps end to end on a small synthetic regency: train, rank, target, evaluate,
explain; the project-file checks; and the same ranking on DuckDB and Spark."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.errors import SettingsError
from dtsen.ingest.pipeline import ingest
from dtsen.link.pipeline import link
from dtsen.synth import generate
from dtsen.welfare.artefact import find_model
from dtsen.welfare.pipeline import rank, ranking_path, train, welfare_dir

from ..conftest import REFDATA, spark_skip_reason

PERSONS = 4_000


def _engine() -> Engine:
    return Engine.duckdb(memory_limit="2GB", threads=2)


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("welfare") / "project"
    if (REFDATA / "regions.csv").exists():
        generate(out, persons=PERSONS, seed=11, regions=REFDATA / "regions.csv", names=REFDATA / "names.csv",
                 region_scope="32")
    else:
        generate(out, persons=PERSONS, seed=11)
    engine = _engine()
    try:
        settings = load_settings(out)
        ingest(settings, engine)
        link(engine, settings)
    finally:
        engine.close()
    return out


@pytest.fixture(scope="module")
def ranked(linked: Path) -> Path:
    engine = _engine()
    try:
        rank(engine, load_settings(linked))  # trains both models first: there is no current one
    finally:
        engine.close()
    return linked


def _ranking(project: Path) -> pa.Table:
    return read_parquet_arrow(ranking_path(load_settings(project))).sort_by("family_id")


def test_training_is_reproducible_and_records_its_fallback(ranked: Path) -> None:
    settings = load_settings(ranked)
    current = json.loads((welfare_dir(settings) / "models" / "current.json").read_text())
    assert set(current) == {"ols", "boosted", "asset_index", "blend", "auto"}
    engine = _engine()
    try:
        again = train(engine, settings)
    finally:
        engine.close()
    # same inputs and settings: the same model ids, byte for byte the same booster, the same choice
    assert {k: a.model_id for k, a in again.artefacts.items()} == {k: v for k, v in current.items() if k != "auto"}
    assert again.choice is not None and current["auto"] == again.artefacts[again.choice.chosen].model_id
    # the survey's sampling weights were used, and every candidate has its residual spread
    assert again.artefacts["ols"].training["sampling_weights"] is True
    assert all(0.1 < (a.residual_sd or 0) < 1.0 for a in again.artefacts.values())
    assert again.choice.rows and {r["model"] for r in again.choice.rows} == set(current) - {"auto"}
    ols = find_model(settings.work_dir, current["ols"])
    assert ols.training["families"] >= 30 and len(ols.training["sha256"]) == 64
    assert ols.fallback["region_level"] == "province"
    cv = ols.metrics["cross_validation"]
    assert [e["coverage"] for e in cv["errors"]] == [0.1, 0.2, 0.4]
    boosted = find_model(settings.work_dir, current["boosted"])
    assert boosted.path is not None and (boosted.path / "model.txt").exists()


def test_deciles_hold_a_tenth_of_the_people(ranked: Path) -> None:
    t = _ranking(ranked)
    rows = [r for r in t.to_pylist() if r["decile"] is not None]
    total = sum(r["persons"] for r in rows)
    biggest = max(r["persons"] for r in rows)
    for d in range(1, 11):
        people = sum(r["persons"] for r in rows if r["decile"] == d)
        assert abs(people - total / 10) <= biggest, d  # off by at most the boundary family
    # deciles follow the predicted consumption
    ordered = sorted(rows, key=lambda r: (r["predicted_consumption"], r["family_id"]))
    assert [r["decile"] for r in ordered] == sorted(r["decile"] for r in rows)
    # probabilities follow the prediction relative to the line; flags are the most likely first
    for r in rows:
        assert 0.0 <= r["p_extreme"] <= r["p_poor"] <= 1.0
        assert (r["p_poor"] > 0.5) == (r["predicted_consumption"] < r["poverty_line"])
        assert not r["extreme_poor"] or r["poor"]
    for regency in {r["regency_code"] for r in rows}:
        mine = [r for r in rows if r["regency_code"] == regency]
        flagged = [r["predicted_consumption"] / r["poverty_line"] for r in mine if r["poor"]]
        unflagged = [r["predicted_consumption"] / r["poverty_line"] for r in mine if not r["poor"]]
        assert not flagged or not unflagged or max(flagged) <= min(unflagged), regency
    # as many people flagged as the headcount says, in each regency
    headcounts = read_parquet_arrow(welfare_dir(load_settings(ranked)) / "headcounts.parquet").to_pylist()
    biggest = max(r["persons"] for r in rows)
    for h in headcounts:
        if h["level"] == "regency":
            assert abs(h["flagged_persons"] - h["estimate"]) <= biggest / 2 + 1e-9, h
        assert h["source"] in ("model", "survey", "official", "mixed")
    settings = load_settings(ranked)
    summary = json.loads((welfare_dir(settings) / "summary.json").read_text())
    current = json.loads((welfare_dir(settings) / "models" / "current.json").read_text())
    assert summary["headcount_model_id"] == current["blend"]  # the counts come from the blend
    national = {h["line"]: h for h in headcounts if h["level"] == "national"}
    assert national["poor"]["flagged_persons"] == sum(r["persons"] for r in rows if r["poor"])
    assert national["poor"]["survey_families"] >= 30 and national["poor"]["survey_estimate"] is not None
    # every golden family is in the ranking; the ones with nobody alive are not ranked
    families = pq.read_table(ranked / "work" / "link" / "families.parquet")
    assert t.num_rows == families.num_rows
    dead = {r["family_id"] for r in families.to_pylist() if r["size"] == 0}
    assert {r["family_id"] for r in t.to_pylist() if r["decile"] is None} == dead


def test_cli_target_honours_the_rules_and_the_quota(ranked: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["target", "blt_lansia", "--project", str(ranked)])
    assert result.exit_code == 0, result.output
    out = welfare_dir(load_settings(ranked)) / "programmes" / "blt_lansia"
    listed = read_parquet_arrow(out / "recipients.parquet").to_pylist()
    by_id = {r["family_id"]: r for r in _ranking(ranked).to_pylist()}
    eligible = [r for r in by_id.values() if r["decile"] is not None and r["decile"] <= 3
                and r["head_age"] is not None and r["head_age"] >= 60 and r["persons"] > 0]
    assert len(listed) == min(500, len(eligible))
    assert all(by_id[r["family_id"]]["decile"] <= 3 and by_id[r["family_id"]]["head_age"] >= 60 for r in listed)
    # poorest first
    assert [r["priority"] for r in listed] == list(range(1, len(listed) + 1))
    consumption = [r["predicted_consumption"] for r in listed]
    assert consumption == sorted(consumption)
    simulation = json.loads((out / "simulation.json").read_text())
    assert simulation["families"] == len(listed)
    assert simulation["cost"] == pytest.approx(3_600_000 * len(listed))
    assert simulation["truth"] is not None  # the synthetic truth is there: errors are measured
    csv = (out / "recipients.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf") and b"desil" in csv.splitlines()[0]


def test_cli_evaluate_welfare_writes_both_models_and_the_value_of_integration(ranked: Path, tmp_path: Path) -> None:
    out = tmp_path / "welfare.json"
    result = CliRunner().invoke(app, ["evaluate", "welfare", "--project", str(ranked), "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert set(figures["held_out_survey"]) == {"ols", "boosted", "asset_index", "blend"}
    assert {"registry/ols", "registry/boosted", "registry/asset_index"} <= set(figures["synthetic_truth"])
    registry = figures["synthetic_truth"]["registry/ols"]
    assert registry["ranked_families"] <= registry["true_families"]
    assert 0.0 <= registry["errors"][2]["exclusion_error"] < 0.6  # a PMT, not a coin
    assert figures["integration"]["best_single_source"] == "regsosek_keluarga"
    assert figures["selection"]["chosen"] in figures["held_out_survey"]
    # the headcounts: true, estimated and flagged, and the figures by region are printed
    lines = {(h["region"], h["line"]): h for h in figures["headcounts"]}
    for line in ("poor", "extreme"):
        h = lines[("ALL", line)]
        assert h["true"] > 0 and h["flagged"] > 0 and h["source"] in ("model", "survey")
    assert "Headcounts: true (synthetic), estimated and flagged" in result.output
    assert "by regency" in result.output and "Held-out survey by region" in result.output
    assert 0.0 < figures["extreme_poor"]["in_desil_1_or_flagged"] <= 1.0
    # the families whose welfare moved since the census, for the registry and the census alone
    changes = figures["welfare_changes"]
    assert any(view.startswith("regsosek_keluarga alone/") for view in changes)
    moved = {r["change"] for rows in changes.values() for r in rows}
    assert {"none", "job_loss"} <= moved


def test_explain_family_contributions_add_up_and_name_what_moved_it(ranked: Path, tmp_path: Path) -> None:
    settings = load_settings(ranked)
    rows = [r for r in _ranking(ranked).to_pylist() if r["decile"] is not None]
    family = rows[len(rows) // 2]
    result = CliRunner().invoke(app, ["explain", "family", str(family["family_id"]), "--project", str(ranked)])
    assert result.exit_code == 0, result.output
    assert f"decile {family['decile']}" in result.output

    from dtsen.welfare.explain import explain_family
    from dtsen.welfare.pipeline import current_run

    # an earlier run in which the family's floor was earth and it had no motorbike
    before = tmp_path / "before"
    shutil.copytree(welfare_dir(settings), before / "welfare")
    features = read_parquet_arrow(before / "welfare" / "features.parquet")
    rows_f = features.to_pylist()
    mine = next(r for r in rows_f if r["family_id"] == family["family_id"])
    old_floor, old_bike = mine["floor_type"], mine["has_motorbike"]
    mine["floor_type"], mine["has_motorbike"] = "TANAH", not old_bike
    shutil.rmtree(before / "welfare" / "features.parquet")
    (before / "welfare" / "features.parquet").mkdir()
    pq.write_table(pa.Table.from_pylist(rows_f, schema=features.schema), before / "welfare" / "features.parquet" / "p.parquet")
    engine = _engine()
    try:
        from dtsen.welfare.explain import read_run

        model, feats, ranking = current_run(engine, settings)
        ex = explain_family(engine, model, feats, ranking, family["family_id"], read_run(engine, before))
    finally:
        engine.close()
    # OLS contributions are exact: base + sum = ln(predicted consumption)
    total = ex.base + sum(c.contribution for c in ex.contributions)
    assert total == pytest.approx(math.log(family["predicted_consumption"]), abs=1e-9)
    coef = model.coefficients
    assert coef is not None
    changed = {c["predictor"]: c for c in ex.changes}
    expected = {"has_motorbike"} | ({"floor_type"} if old_floor != "TANAH" else set())
    assert set(changed) == expected
    bike = changed["has_motorbike"]
    w = coef.weight("has_motorbike")
    assert bike["effect"] == pytest.approx(w if old_bike else -w, abs=1e-12)
    if "floor_type" in changed:
        assert changed["floor_type"]["effect"] == pytest.approx(coef.weight("floor_type", old_floor), abs=1e-12)


def test_boosted_contributions_add_up_to_its_prediction(ranked: Path) -> None:
    from dtsen.welfare.explain import contributions
    from dtsen.welfare.pipeline import features_path
    from dtsen.welfare.ranking import predict_log

    settings = load_settings(ranked)
    current = json.loads((welfare_dir(settings) / "models" / "current.json").read_text())
    engine = _engine()
    try:
        model = find_model(settings.work_dir, current["boosted"])
        assert model.coefficients is not None  # the trees start from the OLS prediction
        feats = engine.read_parquet(features_path(settings))
        family = int(feats.filter(feats.persons > 0).family_id.min().execute())
        base, mine, _ = contributions(engine, model, feats, family)
        scored = predict_log(engine, model, feats, settings.work_dir / "welfare", 10_000)
        expected = scored.filter(scored.family_id == family).log_predicted.execute().iloc[0]
    finally:
        engine.close()
    assert base + sum(mine.values()) == pytest.approx(expected, abs=1e-9)


def test_programme_and_welfare_mistakes_are_reported_with_their_lines(linked: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    text = (linked / "dtsen.toml").read_text(encoding="utf-8")
    text = text.replace('any_of = ["children", "elderly", "disabled"]', 'any_of = ["children", "cucu"]')
    text = text.replace("quota = 500", "quota = -5")
    text = text.replace('survey = "susenas"', 'survey = "survei"')
    (project / "dtsen.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(project)
    message = str(err.value)
    lines = text.splitlines()
    quota_line = next(i for i, line in enumerate(lines, 1) if line.startswith("quota = -5"))
    assert f"line {quota_line}" in message and "greater than or equal to 0" in message
    text = text.replace("quota = -5", "quota = 5")
    (project / "dtsen.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(project)
    message = str(err.value)
    assert "unknown field 'cucu'" in message and "survey 'survei' is not a source" in message
    any_line = next(i for i, line in enumerate(lines, 1) if line.startswith('any_of = ["children", "cucu"]'))
    assert f"line {any_line}" in message


def test_external_coefficients_with_mistakes_are_a_clean_cli_error(ranked: Path, tmp_path: Path) -> None:
    project = tmp_path / "ext"
    shutil.copytree(ranked, project)
    (project / "koefisien.csv").write_text(
        "predictor;category;weight\nintercept;;13,1\nluas_lantai;;0,3\nhas_car;;abc\n", encoding="utf-8"
    )
    toml = (project / "dtsen.toml").read_text(encoding="utf-8")
    toml = toml.replace('model = "auto"', 'model = "external"\ncoefficients = "koefisien.csv"')
    (project / "dtsen.toml").write_text(toml, encoding="utf-8")
    result = CliRunner().invoke(app, ["rank", "--project", str(project)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "luas_lantai" in result.output and "line 3" in result.output and "line 4" in result.output


@pytest.mark.spark
def test_duckdb_and_spark_rank_alike(ranked: Path, tmp_path: Path) -> None:
    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    from ..conftest import _spark_engine

    for kind in ("blend", "boosted"):
        settings = load_settings(ranked)
        model_id = json.loads((welfare_dir(settings) / "models" / "current.json").read_text())[kind]
        duck_project, spark_project = tmp_path / f"duck-{kind}", tmp_path / f"spark-{kind}"
        out: dict[str, list[dict[str, object]]] = {}
        for name, project in (("duckdb", duck_project), ("spark", spark_project)):
            shutil.copytree(ranked, project)
            engine = _engine() if name == "duckdb" else _spark_engine()
            try:
                rank(engine, load_settings(project), model_id)
            finally:
                if name == "duckdb":
                    engine.close()
            rows = _ranking(project).to_pylist()
            for r in rows:  # floats from exp() may differ in the last bit between engines
                for column, digits in (("predicted_consumption", 4), ("p_poor", 9), ("p_extreme", 9)):
                    r[column] = None if r[column] is None else round(r[column], digits)
            out[name] = rows
        assert out["duckdb"] == out["spark"], kind
