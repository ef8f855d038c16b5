"""The head as a survey states it (issue 12, item 7): `reported_head_*` survive like other
family fields, and the PMT's head predictors fall back on them where the golden head person's
value is unknown, never over a known one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from dtsen.config import load_settings
from dtsen.consolidate.families import golden_families
from dtsen.consolidate.rules import SurvivorshipSettings
from dtsen.engine import Engine
from dtsen.welfare.pipeline import reported_head_as_of
from dtsen.welfare.predictors import family_features, whole_years

D = dt.date
AS_OF = D(2025, 6, 30)  # the registry's date
SURVEY = D(2024, 3, 31)  # the survey's: one whole year before
R1 = "32.04.01.2001"
PERSON_SCHEMA = pa.schema([
    ("person_id", pa.int64()), ("family_id", pa.int64()), ("kk", pa.string()), ("sex", pa.string()),
    ("birth_date", pa.date32()), ("relationship", pa.string()), ("disability", pa.string()),
    ("is_deceased", pa.bool_()), ("region_code", pa.string()), ("education", pa.string()),
    ("occupation", pa.string()),
])
PERSONS: list[tuple[Any, ...]] = [
    # family 1: the head is known, with birth date, sex and education
    (101, 1, "K1", "L", D(1970, 1, 1), "KEPALA_KELUARGA", None, False, R1, "SMA", "PETANI"),
    (102, 1, "K1", "P", D(2015, 1, 1), "ANAK", None, False, R1, "SD", None),
    # family 2: the head is a member, but the registry knows nothing of her but her name
    (201, 2, "K2", None, None, "KEPALA_KELUARGA", None, False, R1, None, None),
    (202, 2, "K2", "L", D(2012, 5, 5), "ANAK", None, False, R1, "SD", None),
    # family 4: the same, and the survey did not visit it
    (401, 4, "K4", None, None, "KEPALA_KELUARGA", None, False, R1, None, None),
]
FAMILY_SCHEMA = pa.schema([
    ("family_id", pa.int64()), ("record_key", pa.string()), ("source", pa.string()), ("observed_at", pa.date32()),
    ("kk", pa.string()), ("consumption_per_capita", pa.float64()), ("survey_weight", pa.float64()),
    ("reported_head_sex", pa.string()), ("reported_head_age", pa.int64()), ("reported_head_education", pa.string()),
])
RECORDS: list[tuple[Any, ...]] = [
    (1, "s1", "survei", SURVEY, "K1", 800_000.0, 120.0, "P", 30, "SD"),  # contradicts the known head: ignored
    (2, "s2", "survei", SURVEY, "K2", 600_000.0, 80.0, "P", 40, "SMP"),
    (3, "s3", "survei", SURVEY, "K3", 700_000.0, 95.0, "L", 50, "S1"),  # no member known at all
]


def _table(engine: Engine, schema: pa.Schema, rows: list[tuple[Any, ...]]) -> Any:
    cols = list(zip(*rows, strict=True))
    return engine.from_arrow(pa.table({f.name: pa.array(c, f.type) for f, c in zip(schema, cols, strict=True)}))


def test_head_predictors_fall_back_on_the_reported_head(engine: Engine) -> None:
    persons = _table(engine, PERSON_SCHEMA, PERSONS)
    records = _table(engine, FAMILY_SCHEMA, RECORDS)
    golden = golden_families(records, persons, SurvivorshipSettings(), {}, AS_OF)
    survived = {r["family_id"]: (r["reported_head_sex"], r["reported_head_age"], r["reported_head_education"])
                for r in golden.table.to_pyarrow().to_pylist()}
    assert survived == {1: ("P", 30, "SD"), 2: ("P", 40, "SMP"), 3: ("L", 50, "S1"), 4: (None, None, None)}
    prov = {(r["id"], r["field"]): (r["value"], r["source"], r["observed_at"])
            for r in golden.provenance.to_pyarrow().to_pylist()}
    assert prov[(2, "reported_head_age")] == ("40", "survei", SURVEY)

    def heads(reported_as_of: dt.date | None) -> dict[int, tuple[Any, ...]]:
        f = family_features(golden.table, persons, AS_OF, reported_as_of).to_pyarrow().to_pylist()
        return {r["family_id"]: (r["head_age"], r["head_female"], r["head_education"], r["survey_weight"]) for r in f}

    assert heads(SURVEY) == {
        1: (55.0, False, "SMA", 120.0),  # the golden head's, not the survey's
        2: (41.0, True, "SMP", 80.0),  # the survey's, its age a whole year older on the registry's date
        3: (51.0, False, "S1", 95.0),
        4: (None, None, None, None),  # neither knows
    }
    assert heads(None)[2] == (40.0, True, "SMP", 80.0)  # without the survey's date: the age as stated


def test_whole_years_and_the_date_of_the_reported_ages(tmp_path: Any) -> None:
    assert [whole_years(SURVEY, d) for d in (D(2025, 3, 30), D(2025, 3, 31), D(2027, 1, 1), D(2020, 1, 1))] \
        == [0, 1, 2, 0]
    toml = """\
[sources.dukcapil]
files = ["d.csv"]
as_of = "2025-06-30"
columns = { NIK = "nik", NAMA = "full_name" }
[sources.survei]
level = "family"
files = ["s.csv"]
as_of = "2024-03-31"
columns = { NO_KK = "kk", UMUR_KRT = "reported_head_age", WEIND = "survey_weight" }
"""
    (tmp_path / "dtsen.toml").write_text(toml, encoding="utf-8")
    assert reported_head_as_of(load_settings(tmp_path)) == SURVEY
    (tmp_path / "dtsen.toml").write_text(toml.replace('UMUR_KRT = "reported_head_age", ', ""), encoding="utf-8")
    assert reported_head_as_of(load_settings(tmp_path)) is None
