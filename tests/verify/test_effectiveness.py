"""Errors found per 100 visits: hand-made numbers, and the ratio on a small synthetic project."""

from __future__ import annotations

import hashlib
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
import pytest

from dtsen.config import load_settings
from dtsen.engine import Engine
from dtsen.release.settings import VerifySettings
from dtsen.verify.campaign import draw_candidates
from dtsen.verify.effectiveness import ERROR_COLUMNS, ERROR_KINDS, effectiveness, true_errors
from dtsen.verify.risk import risk_signals

from ..conftest import REFDATA

A, B = "32.04.05.2001", "32.04.05.2002"
# family -> (village, kinds of its true errors)
ERRORS: dict[int, tuple[str, str]] = {
    1: (A, "eligibility_flip"),
    2: (A, "welfare_field"),
    3: (A, "duplicate;welfare_field"),
    **{f: (A, "") for f in range(4, 11)},
    11: (B, "stale_village"),
    12: (B, ""),
    13: (B, ""),
    14: (B, ""),
}
# family -> (village, selection); 99 has no row in the errors: it counts as no error
CANDIDATES = {
    1: (A, "risk"),
    2: (A, "risk"),
    4: (A, "risk"),
    3: (A, "random"),
    11: (B, "risk"),
    12: (B, "random"),
    99: (B, "risk"),
}
SEED = 9


def _tables(engine: Engine) -> tuple[ir.Table, ir.Table]:
    errors = pa.table(
        {
            "family_id": pa.array(list(ERRORS), pa.int64()),
            "error": pa.array([bool(k) for _, k in ERRORS.values()], pa.bool_()),
            "kinds": pa.array([k for _, k in ERRORS.values()], pa.string()),
            "region_code": pa.array([v for v, _ in ERRORS.values()], pa.string()),
        }
    )
    candidates = pa.table(
        {
            "family_id": pa.array(list(CANDIDATES), pa.int64()),
            "region_code": pa.array([v for v, _ in CANDIDATES.values()], pa.string()),
            "selection": pa.array([s for _, s in CANDIDATES.values()], pa.string()),
        }
    )
    return engine.from_arrow(candidates), engine.from_arrow(errors)


def _all_random_found() -> tuple[int, int]:
    """An independent oracle of the all-random draw: per village, as many as its candidates."""
    found = visits = 0
    for village in (A, B):
        k = sum(1 for v, _ in CANDIDATES.values() if v == village)
        pool = sorted(
            (f for f, (v, _) in ERRORS.items() if v == village),
            key=lambda f: (hashlib.md5(f"{SEED}:{f}".encode()).hexdigest(), f),
        )
        drawn = pool[:k]
        visits += len(drawn)
        found += sum(1 for f in drawn if ERRORS[f][1])
    return visits, found


def test_rates_per_100_visits_and_ratios_are_exact(duck: Engine) -> None:
    candidates, errors = _tables(duck)
    out = effectiveness(candidates, errors, seed=SEED)
    assert out["risk_visits"] == 5 and out["risk_found"] == 3  # 1, 2, 11 of 1, 2, 4, 11, 99
    assert out["risk_per_100"] == 60.0
    assert out["random_visits"] == 2 and out["random_found"] == 1 and out["random_per_100"] == 50.0
    assert out["ratio"] == 1.2
    visits, found = _all_random_found()
    assert out["all_random_visits"] == visits == 7  # village B has 4 families for its 3 candidates
    assert out["all_random_found"] == found
    assert out["all_random_per_100"] == round(100 * found / visits, 6)
    assert out["ratio_all_random"] == (round(60.0 / out["all_random_per_100"], 6) if found else None)
    assert out["target_met"] is (out["ratio_all_random"] is not None and out["ratio_all_random"] >= 3)
    assert out["by_kind"]["welfare_field"]["risk_per_100"] == 20.0  # family 2 of 5 risk visits
    assert out["by_kind"]["stale_village"]["risk_per_100"] == 20.0
    assert out["by_kind"]["duplicate"]["risk_per_100"] == 0.0
    assert set(out["by_kind"]) == set(ERROR_KINDS)


def test_no_visits_give_no_rate(duck: Engine) -> None:
    candidates, errors = _tables(duck)
    none = candidates.filter(candidates.selection == "nothing")
    out = effectiveness(none, errors, seed=SEED)
    assert out["risk_visits"] == 0 and out["risk_per_100"] is None and out["ratio"] is None
    assert out["all_random_visits"] == 0 and out["ratio_all_random"] is None and out["target_met"] is False


# -- integration: a small synthetic regency, ingested, linked and ranked ----------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dtsen.ingest.pipeline import ingest
    from dtsen.link.pipeline import link
    from dtsen.synth import generate
    from dtsen.welfare.pipeline import rank

    if not (REFDATA / "regions.csv").exists():
        pytest.skip(f"shared reference data not found at {REFDATA}")
    out = tmp_path_factory.mktemp("verify") / "project"
    generate(
        out, persons=2_000, seed=11, regions=REFDATA / "regions.csv", names=REFDATA / "names.csv", region_scope="32.04"
    )
    engine = Engine.duckdb(memory_limit="2GB", threads=2)
    try:
        settings = load_settings(out)
        ingest(settings, engine)
        link(engine, settings)
        rank(engine, settings)
    finally:
        engine.close()
    return out


def test_risk_visits_find_more_true_errors_than_random_ones(project: Path, duck: Engine) -> None:
    from dtsen.release.tables import work_tables

    settings = load_settings(project)
    tables = work_tables(duck, settings)
    signals = duck.materialize(risk_signals(duck, tables, settings))
    errors = duck.materialize(true_errors(duck, tables, project / "truth"))
    assert tuple(errors.columns) == ERROR_COLUMNS
    assert errors.count().execute() == signals.count().execute()
    verify = VerifySettings()  # the defaults: 5 visits per village, 1 of them at random
    candidates = duck.materialize(draw_candidates(duck, signals, verify))
    out = effectiveness(candidates, errors, seed=verify.seed)
    print("ground-check effectiveness:", out)
    assert out["risk_visits"] > 50 and out["random_visits"] > 50
    assert out["ratio_all_random"] is not None and out["ratio_all_random"] > 1
