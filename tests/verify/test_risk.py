"""Risk signals on a hand-made registry: one family per signal (and per variant), one clean."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.release.tables import QUARANTINE_COLUMNS, ReleaseTables
from dtsen.verify.risk import DEFAULT_WEIGHTS, RISK_COLUMNS, SIGNALS, RiskSettingsError, risk_signals

AS_OF = dt.date(2025, 6, 30)
RECENT = dt.date(2025, 6, 30)
OLD = dt.date(2020, 1, 1)  # more than 730 days before AS_OF
ADULT = dt.date(1980, 1, 1)
CHILD = dt.date(2015, 1, 1)
VILLAGES = ("32.04.05.2001", "32.04.05.2002")

# family_id: (decile, predicted consumption, extra ranking values)
# t4 = 500,000 (largest in desil 4: family 8), t5 = 700,000 (largest in desil 5: family 10)
FAMILIES: dict[int, dict[str, Any]] = {
    1: {"decile": 3, "pc": 400_000.0},  # clean (and a splink link at 0.97: not low confidence)
    2: {"decile": 7, "pc": 1_500_000.0},  # conflict on a member's KK
    3: {"decile": 8, "pc": 2_000_000.0},  # a member linked by splink at 0.90
    4: {"decile": 9, "pc": 2_500_000.0},  # every observation from 2020
    5: {"decile": 7, "pc": 1_600_000.0},  # a member aged 105, not in Dukcapil
    6: {"decile": 8, "pc": 2_100_000.0, "pkh": True},  # recipient in desil 8
    7: {"decile": 1, "pc": 300_000.0, "extreme_poor": True},  # extremely poor, receives nothing
    8: {"decile": 4, "pc": 500_000.0},  # at the desil-4 boundary
    9: {"decile": 6, "pc": 1_000_000.0},  # two heads
    10: {"decile": 5, "pc": 700_000.0},  # at the desil-5 boundary
    11: {"decile": 6, "pc": 1_100_000.0},  # head deceased (the wife remains, so no living head)
    12: {"decile": 7, "pc": 1_700_000.0},  # provenance: sources disagree on a death
    13: {"decile": 7, "pc": 1_800_000.0},  # conflict on a member's death
    14: {"decile": 6, "pc": 1_200_000.0},  # a head aged 12, alone
    15: {"decile": None, "pc": None, "bpnt": True, "all_deceased": True, "persons": 0},  # all died, receives
    16: {"decile": None, "pc": None, "all_deceased": True, "persons": 0},  # all died, receives nothing
    17: {"decile": 9, "pc": 2_600_000.0},  # a member linked by a review decision
    18: {"decile": 4, "pc": 480_000.0},  # within 5% of the desil-4 boundary
    19: {"decile": 2, "pc": 610_000.0, "p_poor": 0.45},  # the model cannot tell: poor or not
    20: {"decile": 1, "pc": 380_000.0, "p_poor": 0.95, "p_extreme": 0.55},  # surely poor, maybe extremely
    21: {"decile": 2, "pc": 330_000.0, "p_poor": 0.97, "p_extreme": 0.85},  # surely poor, likely extremely
}
EXPECTED: dict[int, str] = {
    1: "",
    2: "conflict",
    3: "low_confidence_link",
    4: "stale",
    5: "suspected_deceased",
    6: "rich_recipient",
    7: "poor_not_receiving",
    8: "near_threshold",
    9: "implausible_composition",
    10: "near_threshold",
    11: "suspected_deceased;implausible_composition",
    12: "suspected_deceased",
    13: "conflict;suspected_deceased",
    14: "implausible_composition",
    15: "suspected_deceased",
    17: "low_confidence_link",
    18: "near_threshold;incomplete_welfare",
    19: "uncertain_poverty",
    20: "uncertain_poverty",
    21: "",
}

# persons: (person_id, family_id, relationship, birth_date, is_deceased)
PERSONS: list[tuple[int, int, str, dt.date, bool]] = []
for _fid in FAMILIES:
    if _fid in (14,):
        continue
    PERSONS.append((_fid * 10, _fid, "KEPALA_KELUARGA", ADULT, _fid in (11, 15, 16)))
    PERSONS.append((_fid * 10 + 1, _fid, "ISTRI" if _fid != 9 else "KEPALA_KELUARGA", ADULT, _fid in (15, 16)))
    PERSONS.append((_fid * 10 + 2, _fid, "ANAK", CHILD, _fid in (15, 16)))
PERSONS.append((140, 14, "KEPALA_KELUARGA", dt.date(2013, 1, 1), False))
PERSONS.append((53, 5, "ORANG_TUA", dt.date(1920, 1, 1), False))


def _persons_table() -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([p[0] for p in PERSONS], pa.int64()),
            "family_id": pa.array([p[1] for p in PERSONS], pa.int64()),
            "full_name": pa.array([f"ORANG {p[0]}" for p in PERSONS], pa.string()),
            "relationship": pa.array([p[2] for p in PERSONS], pa.string()),
            "birth_date": pa.array([p[3] for p in PERSONS], pa.date32()),
            "is_deceased": pa.array([p[4] for p in PERSONS], pa.bool_()),
        }
    )


def _ranking_table() -> pa.Table:
    rows = []
    for fid, f in FAMILIES.items():
        living = [p for p in PERSONS if p[1] == fid and not p[4]]
        rows.append(
            {
                "family_id": fid,
                "kk": f"3204050101{fid:06d}",
                "region_code": VILLAGES[fid % 2],
                "persons": f.get("persons", len(living)),
                "all_deceased": f.get("all_deceased", False),
                "head_person_id": fid * 10,
                "head_age": 12.0 if fid == 14 else 45.0,
                "pkh": f.get("pkh", False),
                "bpnt": f.get("bpnt", False),
                "pbi_jk": False,
                "predicted_consumption": f["pc"],
                "decile": f["decile"],
                "extreme_poor": f.get("extreme_poor", False),
                "p_poor": f.get("p_poor", 0.0 if f["pc"] is None or f["pc"] > 600_000 else 1.0),
                "p_extreme": f.get("p_extreme", 0.0),
            }
        )
    schema = pa.schema(
        [
            ("family_id", pa.int64()),
            ("kk", pa.string()),
            ("region_code", pa.string()),
            ("persons", pa.int64()),
            ("all_deceased", pa.bool_()),
            ("head_person_id", pa.int64()),
            ("head_age", pa.float64()),
            ("pkh", pa.bool_()),
            ("bpnt", pa.bool_()),
            ("pbi_jk", pa.bool_()),
            ("predicted_consumption", pa.float64()),
            ("decile", pa.int64()),
            ("extreme_poor", pa.bool_()),
            ("p_poor", pa.float64()),
            ("p_extreme", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema)


def _families_table() -> pa.Table:
    n = len(FAMILIES)
    # family 18: no floor, wall or roof known (incomplete_welfare)
    known = [fid != 18 for fid in FAMILIES]
    return pa.table(
        {
            "family_id": pa.array(list(FAMILIES), pa.int64()),
            "address": pa.array([f"JL MAWAR {fid}" for fid in FAMILIES], pa.string()),
            "rt": pa.array(["003"] * n, pa.string()),
            "rw": pa.array(["001"] * n, pa.string()),
            "floor_type": pa.array(["KERAMIK" if k else None for k in known], pa.string()),
            "wall_type": pa.array(["TEMBOK" if k else None for k in known], pa.string()),
            "roof_type": pa.array(["GENTENG" if k else None for k in known], pa.string()),
            "water_source": pa.array(["SUMUR_TERLINDUNG"] * n, pa.string()),
            "sanitation": pa.array(["SENDIRI"] * n, pa.string()),
            "lighting": pa.array(["PLN_METER"] * n, pa.string()),
            "electricity_va": pa.array([900] * n, pa.int64()),
            "cooking_fuel": pa.array(["GAS"] * n, pa.string()),
            "has_motorbike": pa.array([True] * n, pa.bool_()),
            "has_car": pa.array([False] * n, pa.bool_()),
            "has_fridge": pa.array([True] * n, pa.bool_()),
            "has_ac": pa.array([False] * n, pa.bool_()),
            "has_land": pa.array([False] * n, pa.bool_()),
            "has_gold": pa.array([False] * n, pa.bool_()),
            "livestock": pa.array([0] * n, pa.int64()),
        }
    )


def _links_and_records() -> tuple[pa.Table, pa.Table]:
    links: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for pid, fid, *_ in PERSONS:
        if pid == 53:  # the 105-year-old: no Dukcapil record
            continue
        row = len(records) + 2
        links.append(
            {
                "record_key": f"d{pid}",
                "source": "dukcapil",
                "file": "d.csv",
                "sheet": None,
                "row": row,
                "level": "person",
                "person_id": pid,
                "family_id": fid,
                "match_probability": 1.0,
                "method": "nik",
            }
        )
        records.append(
            {
                "source": "dukcapil",
                "file": "d.csv",
                "sheet": None,
                "row": row,
                "observed_at": OLD if fid == 4 else RECENT,
            }
        )
    extra = [(10, 1, "splink", 0.97), (30, 3, "splink", 0.90), (53, 5, "splink", 0.99), (170, 17, "review", 1.0)]
    for pid, fid, method, p in extra:
        links.append(
            {
                "record_key": f"x{pid}",
                "source": "dtks",
                "file": "x.csv",
                "sheet": None,
                "row": pid,
                "level": "person",
                "person_id": pid,
                "family_id": fid,
                "match_probability": p,
                "method": method,
            }
        )
    links.append(
        {
            "record_key": "f4",
            "source": "pkh",
            "file": "p.xlsx",
            "sheet": "S1",
            "row": 2,
            "level": "family",
            "person_id": None,
            "family_id": 4,
            "match_probability": 1.0,
            "method": "kk",
        }
    )
    schema = pa.schema(
        [
            ("record_key", pa.string()),
            ("source", pa.string()),
            ("file", pa.string()),
            ("sheet", pa.string()),
            ("row", pa.int64()),
            ("level", pa.string()),
            ("person_id", pa.int64()),
            ("family_id", pa.int64()),
            ("match_probability", pa.float64()),
            ("method", pa.string()),
        ]
    )
    rec_schema = pa.schema(
        [
            ("source", pa.string()),
            ("file", pa.string()),
            ("sheet", pa.string()),
            ("row", pa.int64()),
            ("observed_at", pa.date32()),
        ]
    )
    return pa.Table.from_pylist(links, schema), pa.Table.from_pylist(records, rec_schema)


def _provenance() -> pa.Table:
    rows: list[dict[str, Any]] = []
    for fid in FAMILIES:
        rows.append(
            {
                "entity": "family",
                "id": fid,
                "field": "address",
                "value": "x",
                "source": "pln",
                "record_key": None,
                "observed_at": OLD if fid == 4 else RECENT,
                "agreeing_sources": 1,
                "candidate_sources": 1,
            }
        )
    rows.append(
        {
            "entity": "person",
            "id": 40,
            "field": "kk",
            "value": "x",
            "source": "dtks",
            "record_key": None,
            "observed_at": dt.date(2023, 6, 30),
            "agreeing_sources": 1,
            "candidate_sources": 1,
        }
    )  # family 4 is still stale: 2023-06-30 < 2023-07-01
    rows.append(
        {
            "entity": "person",
            "id": 120,
            "field": "is_deceased",
            "value": "false",
            "source": "dukcapil",
            "record_key": None,
            "observed_at": RECENT,
            "agreeing_sources": 1,
            "candidate_sources": 2,
        }
    )
    rows.append(
        {
            "entity": "person",
            "id": 10,
            "field": "is_deceased",
            "value": "false",
            "source": "dukcapil",
            "record_key": None,
            "observed_at": RECENT,
            "agreeing_sources": 2,
            "candidate_sources": 2,
        }
    )
    schema = pa.schema(
        [
            ("entity", pa.string()),
            ("id", pa.int64()),
            ("field", pa.string()),
            ("value", pa.string()),
            ("source", pa.string()),
            ("record_key", pa.string()),
            ("observed_at", pa.date32()),
            ("agreeing_sources", pa.int64()),
            ("candidate_sources", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema)


def _conflicts() -> pa.Table:
    rows = [
        {
            "entity": "person",
            "id": 21,
            "field": "kk",
            "chosen_value": "a",
            "chosen_source": "dukcapil",
            "other_value": "b",
            "other_source": "dtks",
            "other_observed_at": RECENT,
        },
        {
            "entity": "person",
            "id": 131,
            "field": "is_deceased",
            "chosen_value": "false",
            "chosen_source": "dukcapil",
            "other_value": "true",
            "other_source": "bpjs",
            "other_observed_at": RECENT,
        },
    ]
    schema = pa.schema(
        [
            ("entity", pa.string()),
            ("id", pa.int64()),
            ("field", pa.string()),
            ("chosen_value", pa.string()),
            ("chosen_source", pa.string()),
            ("other_value", pa.string()),
            ("other_source", pa.string()),
            ("other_observed_at", pa.date32()),
        ]
    )
    return pa.Table.from_pylist(rows, schema)


def make_tables(engine: Engine) -> ReleaseTables:
    """The hand-made registry of this module, registered on `engine`."""
    links, records = _links_and_records()
    events = pa.table({"kind": pa.array([], pa.string()), "id": pa.array([], pa.int64())})
    quarantine = pa.table({c: pa.array([], pa.int64() if c == "row" else pa.string()) for c in QUARANTINE_COLUMNS})
    return ReleaseTables(
        persons=engine.from_arrow(_persons_table()),
        families=engine.from_arrow(_families_table()),
        ranking=engine.from_arrow(_ranking_table()),
        links=engine.from_arrow(links),
        provenance=engine.from_arrow(_provenance()),
        conflicts=engine.from_arrow(_conflicts()),
        events=engine.from_arrow(events),
        quarantine=engine.from_arrow(quarantine),
        records={"dukcapil": engine.from_arrow(records)},
        as_of=AS_OF,
    )


def _by_family(table: pa.Table) -> dict[int, dict[str, Any]]:
    return {row["family_id"]: row for row in table.to_pylist()}


def test_each_signal_fires_on_its_family_and_nowhere_else(engine: Engine) -> None:
    out = risk_signals(engine, make_tables(engine), Settings())
    table = engine.con.to_pyarrow(out)
    assert tuple(table.column_names) == RISK_COLUMNS
    assert table.schema.field("score").type == pa.float64()
    assert table.schema.field("decile").type == pa.int64()
    rows = _by_family(table)
    assert sorted(rows) == sorted(EXPECTED)  # 16 (all died, receives nothing) is not worth a visit
    for fid, expected in EXPECTED.items():
        row = rows[fid]
        fired = [s for s in SIGNALS if row[s]]
        assert row["signals"] == expected, fid
        assert ";".join(fired) == expected, fid
        assert row["score"] == sum(DEFAULT_WEIGHTS[s] for s in fired), fid
    assert rows[11]["score"] == 3.0  # suspected_deceased 1.5 + implausible_composition 1.5
    assert rows[15]["persons"] == 0 and rows[15]["decile"] is None
    assert rows[1]["kk"] == "3204050101000001" and rows[1]["region_code"] == VILLAGES[1]


def test_weights_from_the_settings_replace_the_defaults(duck: Engine) -> None:
    settings = Settings.model_validate({"verify": {"weights": {"suspected_deceased": 10, "conflict": 0.25}}})
    rows = _by_family(duck.con.to_pyarrow(risk_signals(duck, make_tables(duck), settings)))
    assert rows[13]["score"] == 10.25
    assert rows[5]["score"] == 10.0
    assert rows[7]["score"] == DEFAULT_WEIGHTS["poor_not_receiving"]


def test_stale_follows_the_setting(duck: Engine) -> None:
    settings = Settings.model_validate({"quality": {"stale_after_days": 3000}})
    rows = _by_family(duck.con.to_pyarrow(risk_signals(duck, make_tables(duck), settings)))
    assert not any(r["stale"] for r in rows.values())


def test_an_unknown_weight_is_refused_with_the_known_names() -> None:
    settings = Settings.model_validate({"verify": {"weights": {"deceased": 1.0}}})
    with pytest.raises(RiskSettingsError, match=r"deceased.*known: conflict"):
        risk_signals(None, None, settings)  # type: ignore[arg-type]


def test_a_ranking_without_probabilities_never_has_the_uncertainty_signal(duck: Engine) -> None:
    import dataclasses

    tables = make_tables(duck)
    old = dataclasses.replace(tables, ranking=tables.ranking.drop("p_poor", "p_extreme"))
    rows = _by_family(duck.con.to_pyarrow(risk_signals(duck, old, Settings())))
    assert not any(r["uncertain_poverty"] for r in rows.values())
    assert rows[19]["signals"] == "" and rows[7]["signals"] == "poor_not_receiving"
