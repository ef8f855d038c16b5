"""Headcounts first, then flags: the survey's weighted estimate with its standard error, the
official figures, benchmarking, the calibrated flags, and the probability of being poor."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.welfare.headcounts import (
    NATIONAL,
    Shared,
    direct_estimates,
    flag_families,
    flagged_counts,
    headcount_arrow,
    headcount_table,
    plan_targets,
    records,
    regency_targets,
    registry_persons,
)
from dtsen.welfare.official import HeadcountError, OfficialHeadcount, read_headcounts
from dtsen.welfare.probability import below_line_expr, normal_cdf, normal_cdf_expr


def keyed(frame: pd.DataFrame, *columns: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """The rows of a small frame by the values of `columns`."""
    return {tuple(str(r[c]) for c in columns): r for r in records(frame)}


def test_normal_cdf_matches_erf_in_numpy_and_on_the_engine(engine: Engine) -> None:
    x = np.linspace(-6, 6, 241)
    exact = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert normal_cdf(x) == pytest.approx(exact, abs=1e-7)
    t = engine.from_arrow(pa.table({"i": np.arange(len(x)), "x": x}))
    got = t.select("i", p=normal_cdf_expr(t.x)).to_pandas().sort_values("i").p.to_numpy()
    assert got == pytest.approx(exact, abs=1e-7)
    lines = t.mutate(pc=ibis.literal(500_000.0), line=ibis.literal(595_000.0))
    p = lines.select(p=below_line_expr(lines.pc, lines.line, 0.3)).to_pandas().p.iloc[0]
    assert p == pytest.approx(0.5 * (1 + math.erf(math.log(595_000 / 500_000) / 0.3 / math.sqrt(2))), abs=1e-7)
    step = lines.select(p=below_line_expr(lines.pc, lines.line, None)).to_pandas().p.iloc[0]
    assert step == 1.0  # no residual spread: under the line for sure


SURVEY = pd.DataFrame({
    "regency_code": ["32.04", "32.04", "32.04", "32.04", "32.05", "32.05"],
    "persons": [4, 2, 5, 3, 4, 1],
    "consumption_per_capita": [300_000.0, 500_000.0, 700_000.0, 1_000_000.0, 450_000.0, 900_000.0],
    "weight": [100.0, 50.0, 100.0, 200.0, 80.0, 80.0],
    "poverty_line": [595_000.0] * 6,
    "extreme_line": [391_000.0] * 6,
})


def test_the_survey_estimate_is_weighted_by_sampling_weight_and_persons() -> None:
    persons = {NATIONAL: 10_000.0, "32": 10_000.0, "32.04": 6_000.0, "32.05": 4_000.0}
    out = keyed(direct_estimates(SURVEY, persons), "region", "line")
    # 32.04: weighted persons 400, 100, 500, 600 = 1,600; poor: the first two (500), extreme: the first (400)
    r = out[("32.04", "poor")]
    assert r["share"] == pytest.approx(500 / 1600) and r["estimate"] == pytest.approx(6_000 * 500 / 1600)
    assert out[("32.04", "extreme")]["share"] == pytest.approx(400 / 1600)
    assert r["survey_families"] == 4
    # the standard error by linearisation, by hand
    x = np.array([400.0, 100.0, 500.0, 600.0])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    z = x * (y - 500 / 1600) / 1600
    assert r["share_se"] == pytest.approx(math.sqrt(4 / 3 * (z**2).sum()))
    assert r["se"] == pytest.approx(r["share_se"] * 6_000)
    # the whole: 32.05 adds 320 (poor) of 400
    assert out[(NATIONAL, "poor")]["share"] == pytest.approx(820 / 2000)
    # unweighted, the share would differ: the weights are used
    assert r["share"] != pytest.approx(6 / 14)


TOTALS = pd.DataFrame({
    "regency": ["32.01", "32.02", "33.01"],
    "persons": [10_000.0, 20_000.0, 30_000.0],
    "expected_poor": [1_000.0, 1_500.0, 3_000.0],
    "variance_poor": [400.0, 900.0, 1_600.0],
    "expected_extreme": [100.0, 200.0, 300.0],
    "variance_extreme": [100.0, 100.0, 100.0],
    "level_poor": [3_000.0, 4_500.0, 9_000.0],  # persons per unit of ln consumption the model is off
    "level_extreme": [1_000.0, 2_000.0, 3_000.0],
})
LEVEL_VAR = 0.01  # the model's level known to ±0.1 in ln consumption


def _direct(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"region": r, "line": ln, "survey_families": 300, "share": e / 1, "share_se": se,
                          "estimate": e, "se": se} for r, ln, e, se in rows])


def test_official_figures_come_first_then_precise_survey_estimates_then_the_model() -> None:
    official = {"32.01": OfficialHeadcount("32.01", 2024, 0.12, None, 2)}
    direct = _direct([(NATIONAL, "poor", 6_000.0, 300.0), ("33.01", "poor", 2_000.0, 900.0),
                      (NATIONAL, "extreme", 500.0, 250.0)])
    plan = keyed(plan_targets(TOTALS, direct, official, 0.10, Shared(LEVEL_VAR)), "level", "region", "line")
    # 32.01: the official share
    assert plan[("regency", "32.01", "poor")]["estimate"] == pytest.approx(1_200.0)
    assert plan[("regency", "32.01", "poor")]["source"] == "official"
    assert plan[("regency", "32.01", "poor")]["official_year"] == 2024
    # the national survey estimate (RSE 5%) is the anchor: the others share 6,000 - 1,200 by the model
    rest = 6_000.0 - 1_200.0
    assert plan[("regency", "32.02", "poor")]["estimate"] == pytest.approx(rest * 1_500 / 4_500)
    assert plan[("regency", "33.01", "poor")]["estimate"] == pytest.approx(rest * 3_000 / 4_500)
    assert plan[("regency", "33.01", "poor")]["source"] == "model"
    assert plan[("regency", "33.01", "poor")]["benchmark"] == NATIONAL
    assert plan[("national", NATIONAL, "poor")]["estimate"] == pytest.approx(6_000.0)
    assert plan[("national", NATIONAL, "poor")]["source"] == "survey"
    assert plan[("province", "32", "poor")]["estimate"] == pytest.approx(1_200 + rest / 3)
    # 33.01's own survey estimate (RSE 45%) is too loose to use, but is reported
    assert plan[("regency", "33.01", "poor")]["survey_estimate"] == pytest.approx(2_000.0)
    # extreme: no official share, the national estimate is too loose (RSE 50%): the model alone
    for regency, expected, level in (("32.01", 100.0, 1_000.0), ("32.02", 200.0, 2_000.0), ("33.01", 300.0, 3_000.0)):
        row = plan[("regency", regency, "extreme")]
        assert row["estimate"] == pytest.approx(expected) and row["source"] == "model"
        assert row["standard_error"] == pytest.approx(math.sqrt(100.0 + level**2 * LEVEL_VAR))
    national = plan[("national", NATIONAL, "extreme")]
    assert national["source"] == "model"
    # the level error is shared: the regencies' errors add up, they do not cancel
    assert national["standard_error"] == pytest.approx(math.sqrt(300.0 + 6_000.0**2 * LEVEL_VAR))
    # a looser rule takes the national survey estimate for the extreme line too
    loose = keyed(plan_targets(TOTALS, direct, official, 0.5, Shared(LEVEL_VAR)), "level", "region", "line")
    assert loose[("national", NATIONAL, "extreme")]["estimate"] == pytest.approx(500.0)
    # a survey estimate less precise than the model's count is not taken, however small its RSE
    sure = keyed(plan_targets(TOTALS, direct, official, 0.10, Shared()), "level", "region", "line")
    assert sure[("national", NATIONAL, "poor")]["source"] == "mixed"  # official 32.01, the model elsewhere
    assert sure[("regency", "33.01", "poor")]["estimate"] == pytest.approx(3_000.0)


def _ranked(engine: Engine) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({
        "family_id": np.arange(1, n + 1, dtype=np.int64),
        "regency_code": np.where(np.arange(n) < 250, "32.04", "32.05"),
        "persons": rng.integers(1, 7, n).astype(np.int64),
        "predicted_consumption": np.exp(rng.normal(13.6, 0.5, n)),
        "poverty_line": np.where(np.arange(n) % 3 == 0, 650_000.0, 595_000.0),
        "extreme_line": 391_000.0,
        "poor": False,
        "extreme_poor": False,
    })
    frame.loc[n - 1, ["predicted_consumption", "persons"]] = [np.nan, 0]  # nobody alive: never flagged
    return frame, engine.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))


def test_flags_reach_each_regency_target_most_likely_first(engine: Engine) -> None:
    frame, table = _ranked(engine)
    targets = pd.DataFrame({"regency": ["32.04", "32.05"], "target_poor": [300.0, 120.5],
                            "target_extreme": [40.0, 0.0]})
    flagged = flag_families(table, engine.from_arrow(pa.Table.from_pandas(targets, preserve_index=False)))
    out = flagged.to_pandas().sort_values("family_id").reset_index(drop=True)
    assert list(out.columns) == list(frame.columns)
    for regency, target in (("32.04", 300.0), ("32.05", 120.5)):
        part = out[out.regency_code == regency]
        got = part.persons[part.poor].sum()
        biggest = part.persons.max()
        assert abs(got - target) <= biggest / 2  # the closest a prefix of whole families can be
        # most likely first: every flagged family is relatively poorer than every unflagged one
        ratio = part.predicted_consumption / part.poverty_line
        alive = part.predicted_consumption.notna()
        assert ratio[part.poor].max() <= ratio[~part.poor & alive].min()
    assert out.extreme_poor.sum() > 0 and not (out.extreme_poor & ~out.poor).any()  # extreme is also poor
    assert not out.loc[out.family_id == 400, "poor"].any()
    counts = flagged_counts(flagged).set_index("regency")
    assert counts.loc["32.05", "persons_extreme"] == 0


def test_the_headcount_table_puts_estimate_source_and_flagged_side_by_side(duck: Engine) -> None:
    _, table = _ranked(duck)
    totals = pd.DataFrame({"regency": ["32.04", "32.05"], "persons": [800.0, 500.0],
                           "expected_poor": [200.0, 100.0], "variance_poor": [9.0, 4.0],
                           "expected_extreme": [30.0, 10.0], "variance_extreme": [1.0, 1.0]})
    plan = plan_targets(totals, _direct([]), {}, 0.1)
    targets = duck.from_arrow(pa.Table.from_pandas(regency_targets(plan), preserve_index=False))
    flagged = flag_families(table, targets)
    out = headcount_table(plan, flagged_counts(flagged))
    national = out[(out.level == "national") & (out.line == "poor")].iloc[0]
    assert national.estimate == pytest.approx(300.0) and national.source == "model"
    assert national.flagged_persons == out[(out.level == "regency") & (out.line == "poor")].flagged_persons.sum()
    assert abs(national.flagged_persons - 300) <= 6
    assert list(out.level.unique()) == ["national", "province", "regency"]
    arrow = headcount_arrow(out)
    assert arrow.schema.field("official_share").type == pa.float64() and arrow.num_rows == len(out)
    assert registry_persons(totals) == {NATIONAL: 1300.0, "32.04": 800.0, "32": 1300.0, "32.05": 500.0}


def test_official_headcounts_are_read_with_every_mistake_at_once(tmp_path: Path) -> None:
    good = tmp_path / "bps.csv"
    good.write_text("region,year,poor_share,extreme_share\n32,2024,7.46,0.9\n32.04,2024,6.12,\n"
                    "3204,2023,7,1\n3205,2024,6.5,1.1\n", encoding="utf-8")
    rows = read_headcounts(good)  # percentages: a share in the file is above 1
    first = rows["32"]
    assert (first.region, first.year, first.line) == ("32", 2024, 2)
    assert first.poor_share == pytest.approx(0.0746) and first.extreme_share == pytest.approx(0.009)
    assert rows["32.04"].year == 2024 and rows["32.04"].poor_share == pytest.approx(0.0612)
    assert rows["32.04"].extreme_share is None and rows["32.04"].share("extreme") is None
    assert rows["32.05"].poor_share == pytest.approx(0.065)
    fractions = tmp_path / "pecahan.csv"
    fractions.write_text("region,year,poor_share,extreme_share\n32.04,2024,0.0612,0.009\n", encoding="utf-8")
    assert read_headcounts(fractions)["32.04"].extreme_share == pytest.approx(0.009)
    bad = tmp_path / "salah.csv"
    bad.write_text("region;year;poor_share;extreme_share\n3x;2024;7,4;1\n32;24;7,4;\n32;2024;abc;\n"
                   "32;2024;150;\n33;2024;5;6\n", encoding="utf-8")
    with pytest.raises(HeadcountError) as err:
        read_headcounts(bad)
    message = str(err.value)
    for line, text in ((2, "bad region code '3x'"), (3, "bad year '24'"), (4, "poor_share 'abc'"),
                       (5, "poor_share '150'"), (6, "extreme_share 6 is above poor_share 5")):
        assert f"line {line}" in message and text in message, (line, message)


def test_a_survey_estimate_from_a_handful_of_families_is_never_taken_as_precise() -> None:
    # three survey families, all poor: a share of 1 with a standard error of 0
    direct = _direct([("32.02", "poor", 20_000.0, 0.0)]).assign(survey_families=3)
    plan = keyed(plan_targets(TOTALS, direct, {}, 0.10, Shared(LEVEL_VAR)), "level", "region", "line")
    row = plan[("regency", "32.02", "poor")]
    assert row["source"] == "model" and row["estimate"] == pytest.approx(1_500.0)
    assert row["survey_estimate"] == pytest.approx(20_000.0) and row["survey_families"] == 3


def test_the_scorecard_rows_show_estimate_source_and_flagged_with_small_counts_hidden() -> None:
    from dtsen.welfare.headcount_report import regency_rows

    plan = plan_targets(TOTALS, _direct([("32.02", "poor", 1_700.0, 400.0)]), {}, 0.10, Shared(LEVEL_VAR))
    flagged = pd.DataFrame({"regency": ["32.01", "32.02", "33.01"], "persons_poor": [1_000, 1_502, 3_001],
                            "families_poor": [250, 380, 760], "persons_extreme": [98, 7, 300],
                            "families_extreme": [25, 2, 80]})
    rows = regency_rows(headcount_table(plan, flagged), "32.02", threshold=10)
    assert [r["line"] for r in rows] == ["Miskin", "Miskin ekstrem"]
    poor, extreme = rows
    assert poor == {"line": "Miskin", "persons": "20.000", "estimate": "1.500", "source": "Model PMT",
                    "survey": "1.700 ± 400", "survey_families": "300", "model": "1.500", "flagged": "1.502",
                    "flagged_families": "380"}
    assert extreme["flagged"] == "<10" and extreme["flagged_families"] == "<10" and extreme["survey"] == "\u2013"


def test_model_totals_and_the_level_variance_have_known_values(engine: Engine) -> None:
    from dtsen.welfare.headcounts import level_variance, model_totals

    pc = np.array([400_000.0, 600_000.0, 900_000.0, np.nan])
    frame = pd.DataFrame({"family_id": [1, 2, 3, 4], "regency_code": ["32.04", "32.04", None, "32.04"],
                          "persons": [2, 3, 4, 0], "predicted_consumption": pc, "poverty_line": 595_000.0,
                          "extreme_line": 391_000.0, "p_poor": [0.6, 0.45, 0.1, None], "p_extreme": [0.3, 0.1, 0.0, None]})
    out = keyed(model_totals(engine.from_arrow(pa.Table.from_pandas(frame, preserve_index=False)), 0.3), "regency")
    r = out[("32.04",)]
    assert r["persons"] == 5.0 and r["expected_poor"] == pytest.approx(2 * 0.6 + 3 * 0.45)
    assert r["variance_poor"] == pytest.approx(4 * 0.24 + 9 * 0.45 * 0.55)
    z = np.log(595_000 / pc[:2]) / 0.3
    assert r["level_poor"] == pytest.approx(float((np.array([2, 3]) * np.exp(-z**2 / 2) / math.sqrt(2 * math.pi) / 0.3).sum()))
    assert out[("",)]["persons"] == 4.0  # a family without a regency counts under ""
    survey = pd.DataFrame({"weight": [1.0, 1.0, 2.0], "persons": [2.0, 2.0, 1.0]})
    # weights x persons = 2, 2, 2: n_eff = 3
    assert level_variance(survey, 0.3) == pytest.approx(0.09 / 3)
    assert level_variance(survey, None) == 0.0


def test_the_spread_matches_the_survey_variance(engine: Engine) -> None:
    from dtsen.welfare.probability import matched_spread

    lp = np.array([13.0, 13.5, 14.0, 14.5])
    persons = np.array([1, 2, 3, 4])
    predicted = engine.from_arrow(pa.table({"family_id": np.arange(1, 5), "log_predicted": lp}))
    features = engine.from_arrow(pa.table({"family_id": np.arange(1, 6), "persons": [*persons, 0]}))
    mean = np.average(lp, weights=persons)
    variance = np.average((lp - mean) ** 2, weights=persons)
    got = matched_spread(predicted, features, variance + 0.09, 0.4)
    assert got == pytest.approx(0.3)  # sqrt(survey variance - variance of the predictions)
    assert matched_spread(predicted, features, variance + 0.01, 0.4) == pytest.approx(0.2)  # half the held-out
    assert matched_spread(predicted, features, None, 0.4) == 0.4  # no survey variance: the held-out error


def test_the_spread_error_is_shared_and_comes_from_the_survey_moments() -> None:
    from dtsen.welfare.headcounts import spread_variance

    totals = TOTALS.assign(spread_poor=[500.0, 1_000.0, 1_500.0])
    plan = keyed(plan_targets(totals, _direct([]), {}, 0.10, Shared(0.0, 0.0004)), "level", "region", "line")
    row = plan[("regency", "32.02", "poor")]
    assert row["standard_error"] == pytest.approx(math.sqrt(900.0 + 1_000.0**2 * 0.0004))
    national = plan[("national", NATIONAL, "poor")]
    assert national["standard_error"] == pytest.approx(math.sqrt(2_900.0 + 3_000.0**2 * 0.0004))
    # Var(s²) = (m4 - s⁴) / n_eff, Var(σ) = Var(s²) / (4σ²): two values ±1 around 14, equal weights
    survey = pd.DataFrame({"consumption_per_capita": np.exp([13.0, 15.0] * 50), "weight": 1.0, "persons": 1.0})
    assert spread_variance(survey, 0.5) == pytest.approx((1.0 - 1.0) / 100 / 1.0)
    skewed = pd.DataFrame({"consumption_per_capita": np.exp([13.0, 13.0, 13.0, 16.0] * 25), "weight": 1.0,
                           "persons": 1.0})
    d = np.array([13.0, 13.0, 13.0, 16.0]) - 13.75
    expected = (np.mean(d**4) - np.mean(d**2) ** 2) / 100 / (4 * 0.25)
    assert spread_variance(skewed, 0.5) == pytest.approx(expected)
