"""Known-answer tests of the quality indicators on a hand-made release.

Three villages in two districts of regency 32.04: A = 32.04.01.2001 and B = 32.04.01.2002 in
district 32.04.01, C = 32.04.02.2001 in district 32.04.02. Five persons (one without a region),
four families:

person 1  A  nik, kk, birth date, address      dukcapil + dtks twice (a duplicate), 2 conflicts
person 2  A  no NIK                             dukcapil
person 3  B  no birth date, no address, dead    dukcapil + bpjs (a deceased PBI member)
person 4  C  complete                           dtks + bpjs
person 5  -  no kk, no region                   no records
family 1  A  all welfare fields, PKH            field-checked (cek_lapangan_2025)
family 2  B  no welfare field, all deceased, BPNT (a deceased recipient)
family 3  C  floor_type only, a conflict        pln; observed 91 days before the as-of date
family 4  C  nothing; only a 2020 regsosek_keluarga record (stale: 2007 days old)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from dtsen.engine import Engine
from dtsen.quality.indicators import (
    FAMILY_WELFARE_FIELDS,
    INDICATOR_COLUMNS,
    PERSON_KEY_FIELDS,
    indicators,
)
from dtsen.release.settings import QualitySettings
from dtsen.release.tables import QUARANTINE_COLUMNS, ReleaseTables
from dtsen.schema import FIELDS

AS_OF = dt.date(2025, 6, 30)
A, B, C = "32.04.01.2001", "32.04.01.2002", "32.04.02.2001"
D = dt.date(1990, 5, 17)
_PA = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "date": pa.date32()}


def _welfare_value(field: str) -> Any:
    kind = FIELDS["family"][field].dtype
    return {"string": "X", "int": 1, "float": 1.0, "bool": True}[kind]


def _families() -> pa.Table:
    columns: dict[str, pa.Array] = {
        "family_id": pa.array([1, 2, 3, 4], pa.int64()),
        "kk": pa.array(["K1", "K2", "K3", "K4"]),
        "region_code": pa.array([A, B, C, C]),
    }
    for f in FAMILY_WELFARE_FIELDS:
        values = [_welfare_value(f), None, _welfare_value(f) if f == "floor_type" else None, None]
        columns[f] = pa.array(values, _PA[FIELDS["family"][f].dtype])
    columns |= {
        "pkh": pa.array([True, False, False, None]),
        "bpnt": pa.array([False, True, None, None]),
        "pbi_jk": pa.array([False, False, False, None]),
        "members_deceased": pa.array([0, 1, 0, 0], pa.int64()),
        "all_deceased": pa.array([False, True, False, False]),
    }
    return pa.table(columns)


def _persons() -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "nik": pa.array(["3204010101900001", None, "3204010101900003", "3204020101900004", "3204020101900005"]),
            "kk": pa.array(["K1", "K1", "K2", "K3", None]),
            "birth_date": pa.array([D, D, None, D, D], pa.date32()),
            "region_code": pa.array([A, A, B, C, None]),
            "address": pa.array(["JL 1", "JL 1", None, "JL 3", "JL 5"]),
            "is_deceased": pa.array([False, False, True, False, False]),
            "family_id": pa.array([1, 1, 2, 3, None], pa.int64()),
        }
    )


# (source, row, level, person_id, family_id)
_LINKS = [
    ("dukcapil", 1, "person", 1, 1),
    ("dukcapil", 2, "person", 2, 1),
    ("dukcapil", 3, "person", 3, 2),
    ("dtks", 1, "person", 1, 1),
    ("dtks", 2, "person", 1, 1),
    ("dtks", 3, "person", 4, 3),
    ("bpjs", 1, "person", 3, 2),
    ("bpjs", 2, "person", 4, 3),
    ("pln", 1, "family", None, 1),
    ("pln", 2, "family", None, 3),
    ("pln", 3, "family", None, None),
    ("regsosek_keluarga", 1, "family", None, 4),
    ("cek_lapangan_2025", 1, "family", None, 1),
]
OBSERVED = {
    "dukcapil": AS_OF,
    "dtks": dt.date(2024, 6, 30),
    "bpjs": dt.date(2025, 1, 31),
    "pln": dt.date(2025, 3, 31),
    "regsosek_keluarga": dt.date(2020, 1, 1),
    "cek_lapangan_2025": dt.date(2025, 6, 1),
}


def _links() -> pa.Table:
    return pa.table(
        {
            "record_key": pa.array([f"{s}:{r}" for s, r, *_ in _LINKS]),
            "source": pa.array([s for s, *_ in _LINKS]),
            "file": pa.array(["f.csv"] * len(_LINKS)),
            "sheet": pa.array([None] * len(_LINKS), pa.string()),
            "row": pa.array([r for _, r, *_ in _LINKS], pa.int64()),
            "level": pa.array([lv for _, _, lv, _, _ in _LINKS]),
            "person_id": pa.array([p for *_, p, _ in _LINKS], pa.int64()),
            "family_id": pa.array([f for *_, f in _LINKS], pa.int64()),
            "match_probability": pa.array([1.0] * len(_LINKS)),
            "method": pa.array(["nik"] * len(_LINKS)),
        }
    )


def _records(source: str, columns: dict[str, pa.Array]) -> pa.Table:
    n = len(next(iter(columns.values())))
    return pa.table(
        {
            "source": pa.array([source] * n),
            "file": pa.array(["f.csv"] * n),
            "sheet": pa.array([None] * n, pa.string()),
            "row": pa.array(range(1, n + 1), pa.int64()),
            **columns,
            "observed_at": pa.array([OBSERVED[source]] * n, pa.date32()),
        }
    )


def _person_records(source: str, nik: list[Any], kk: list[Any], bd: list[Any], region: list[Any]) -> pa.Table:
    return _records(
        source,
        {
            "nik": pa.array(nik, pa.string()),
            "kk": pa.array(kk, pa.string()),
            "full_name": pa.array(["NAMA"] * len(nik)),
            "birth_date": pa.array(bd, pa.date32()),
            "region_code": pa.array(region, pa.string()),
        },
    )


def _family_records(source: str, n: int, va: list[Any]) -> pa.Table:
    return _records(
        source,
        {
            "kk": pa.array(["K"] * n),
            "region_code": pa.array([A] * n),
            "electricity_va": pa.array(va, pa.int64()),
            "floor_type": pa.array([None] * n, pa.string()),
        },
    )


def _release(engine: Engine) -> ReleaseTables:
    records = {
        "dukcapil": _person_records("dukcapil", ["1", "2", "3"], ["K", "K", None], [D, None, D], [A, A, B]),
        "dtks": _person_records("dtks", ["1", "1", "4"], [None] * 3, [D] * 3, [None] * 3),
        "bpjs": _person_records("bpjs", ["3", "4"], ["K", "K"], [D, D], [B, C]),
        "pln": _family_records("pln", 3, [900, 1300, None]),
        "regsosek_keluarga": _family_records("regsosek_keluarga", 1, [450]),
        "cek_lapangan_2025": _family_records("cek_lapangan_2025", 1, [900]),
    }
    quarantine = pa.table(
        {
            c: pa.array([1, 2, 7] if c == "row" else (["dtks", "dtks", "pln"] if c == "source" else ["x"] * 3))
            for c in QUARANTINE_COLUMNS
        }
    )
    conflicts = pa.table(
        {
            "entity": pa.array(["person", "person", "family"]),
            "id": pa.array([1, 1, 3], pa.int64()),
            "field": pa.array(["kk", "birth_date", "electricity_va"]),
            "chosen_value": pa.array(["K1", "1990-05-17", "900"]),
            "chosen_source": pa.array(["dukcapil", "dukcapil", "regsosek_keluarga"]),
            "other_value": pa.array(["K9", "1990-05-18", "1300"]),
            "other_source": pa.array(["dtks", "bpjs", "pln"]),
            "other_observed_at": pa.array([OBSERVED["dtks"], OBSERVED["bpjs"], OBSERVED["pln"]], pa.date32()),
        }
    )
    events = pa.table({"kind": pa.array([], pa.string()), "id": pa.array([], pa.int64())})
    families = engine.from_arrow(_families())
    return ReleaseTables(
        persons=engine.from_arrow(_persons()),
        families=families,
        ranking=families,
        links=engine.from_arrow(_links()),
        provenance=engine.from_arrow(events),
        conflicts=engine.from_arrow(conflicts),
        events=engine.from_arrow(events),
        quarantine=engine.from_arrow(quarantine),
        records={name: engine.from_arrow(t) for name, t in records.items()},
        as_of=AS_OF,
    )


MAPPED = {"dukcapil": ["nik", "kk", "full_name", "birth_date", "village_name"]}

# (level, region, source, indicator) -> (numerator, denominator)
EXPECTED: dict[tuple[str, str, str, str], tuple[int, int]] = {}


def _expect(indicator: str, src: str = "ALL", **by_level: tuple[int, int]) -> None:
    regions = {
        "village_A": ("village", A),
        "village_B": ("village", B),
        "village_C": ("village", C),
        "district_1": ("district", "32.04.01"),
        "district_2": ("district", "32.04.02"),
        "regency": ("regency", "32.04"),
        "province": ("province", "32"),
        "national": ("national", "ALL"),
        "source": ("source", "ALL"),
    }
    for key, nd in by_level.items():
        level, region = regions[key]
        EXPECTED[(level, region, src, indicator)] = nd


_expect("completeness_nik", village_A=(1, 2), village_B=(1, 1), village_C=(1, 1), district_1=(2, 3),
        district_2=(1, 1), regency=(3, 4), province=(3, 4), national=(4, 5))  # fmt: skip
_expect("nik_valid", village_A=(1, 2), district_1=(2, 3), regency=(3, 4), national=(4, 5))
_expect("completeness_kk", village_A=(2, 2), regency=(4, 4), national=(4, 5))
_expect("completeness_birth_date", village_B=(0, 1), district_1=(2, 3), regency=(3, 4), national=(4, 5))
_expect("completeness_address", village_B=(0, 1), regency=(3, 4), national=(4, 5))
_expect("completeness_region_code", regency=(4, 4), national=(4, 5))
_expect("completeness_persons", village_A=(9, 10), village_B=(3, 5), village_C=(5, 5), district_1=(12, 15),
        regency=(17, 20), province=(17, 20), national=(20, 25))  # fmt: skip
_expect("dukcapil_confirmed", village_A=(2, 2), village_B=(1, 1), village_C=(0, 1), district_1=(3, 3),
        district_2=(0, 1), regency=(3, 4), national=(3, 5))  # fmt: skip
_expect("duplicates_found", village_A=(1, 4), village_B=(0, 2), village_C=(0, 2), district_1=(1, 6),
        regency=(1, 8), national=(1, 8))  # fmt: skip
_expect("conflicts_persons", village_A=(1, 2), village_B=(0, 1), district_1=(1, 3), regency=(1, 4), national=(1, 5))
_expect("deceased_pbi", village_A=(0, 0), village_B=(1, 1), village_C=(0, 1), district_1=(1, 1), regency=(1, 2),
        national=(1, 2))  # fmt: skip
_expect("completeness_floor_type", village_A=(1, 1), village_B=(0, 1), village_C=(1, 2), district_1=(1, 2),
        regency=(2, 4), national=(2, 4))  # fmt: skip
_expect("completeness_water_source", village_C=(0, 2), regency=(1, 4), national=(1, 4))
_expect("completeness_families", village_A=(17, 17), village_B=(0, 17), village_C=(1, 34), district_1=(17, 34),
        regency=(18, 68), national=(18, 68))  # fmt: skip
_expect("conflicts_families", village_C=(1, 2), district_2=(1, 2), regency=(1, 4), national=(1, 4))
_expect("stale_families", village_A=(0, 1), village_C=(1, 2), district_1=(0, 2), regency=(1, 4), national=(1, 4))
_expect("staleness_mean_days", village_A=(0, 1), village_B=(0, 1), village_C=(91 + 2007, 2), district_1=(0, 2),
        regency=(2098, 4), national=(2098, 4))  # fmt: skip
_expect("deceased_recipients", village_A=(0, 1), village_B=(1, 1), village_C=(0, 0), district_1=(1, 2),
        district_2=(0, 0), regency=(1, 2), national=(1, 2))  # fmt: skip
_expect("field_checked", village_A=(1, 1), village_C=(0, 2), regency=(1, 4), national=(1, 4))
for _src, _q, _l in [("dukcapil", (0, 3), (3, 3)), ("dtks", (2, 5), (3, 3)), ("bpjs", (0, 2), (2, 2)),
                     ("pln", (1, 4), (2, 3)), ("regsosek_keluarga", (0, 1), (1, 1)),
                     ("cek_lapangan_2025", (0, 1), (1, 1))]:  # fmt: skip
    _expect("quarantined", _src, source=_q)
    _expect("linked", _src, source=_l)
_expect("duplicates_found", "dtks", source=(1, 3))
_expect("duplicates_found", "dukcapil", source=(0, 3))
_expect("duplicates_found", "bpjs", source=(0, 2))
_expect("conflicts", "dtks", source=(1, 3))
_expect("conflicts", "bpjs", source=(1, 2))
_expect("conflicts", "pln", source=(1, 3))
_expect("conflicts", "dukcapil", source=(0, 3))
# dukcapil maps nik, kk, full_name, birth_date and (through village_name) region_code
_expect("completeness_mapped", "dukcapil", source=(3 + 2 + 3 + 2 + 3, 15))
_expect("completeness_kk", "dukcapil", source=(2, 3))
# dtks: decided from the data: nik, full_name and birth_date are present, kk and region_code never
_expect("completeness_mapped", "dtks", source=(9, 9))
# pln: kk, region_code, electricity_va present; floor_type never
_expect("completeness_mapped", "pln", source=(3 + 3 + 2, 9))
_expect("completeness_electricity_va", "pln", source=(2, 3))


def _by_key(frame: pd.DataFrame) -> dict[tuple[str, str, str, str], tuple[int, int, float]]:
    keys = zip(frame.level, frame.region, frame.source, frame.indicator, strict=True)
    return {
        k: (int(n), int(d), v) for k, n, d, v in zip(keys, frame.numerator, frame.denominator, frame.value, strict=True)
    }


def test_known_answers(engine: Engine) -> None:
    table = indicators(engine, _release(engine), QualitySettings(), mapped_fields=MAPPED)
    assert tuple(table.columns) == INDICATOR_COLUMNS
    schema = table.schema()
    assert [str(schema[c]) for c in ("numerator", "denominator", "value")] == ["int64", "int64", "float64"]
    frame = table.to_pandas()
    got = _by_key(frame)
    assert len(got) == len(frame), "one row per (level, region, source, indicator)"
    wrong = {k: (got.get(k), v) for k, v in EXPECTED.items() if got.get(k, (None, None, None))[:2] != v}
    assert not wrong
    for n, d, v in got.values():
        assert (d == 0 and (v is None or math.isnan(v))) or v == pytest.approx(n / d)
    assert set(frame.level) == {"village", "district", "regency", "province", "national", "source"}
    assert set(frame.loc[frame.level == "village", "region"]) == {A, B, C}
    # not mapped by dtks (never present) and not listed for pln: no completeness row
    assert ("source", "ALL", "dtks", "completeness_kk") not in got
    assert ("source", "ALL", "pln", "completeness_floor_type") not in got
    n_person = len(PERSON_KEY_FIELDS) + 6
    n_family = len(FAMILY_WELFARE_FIELDS) + 6
    assert len(frame[(frame.level == "national")]) == n_person + n_family


def test_settings_and_parameters(duck: Engine) -> None:
    tables = _release(duck)
    frame = indicators(duck, tables, QualitySettings(stale_after_days=2007), registry_source="dtks").to_pandas()
    got = _by_key(frame)
    assert got[("national", "ALL", "ALL", "stale_families")][:2] == (0, 4)  # 2007 days is not more than 2007
    assert got[("national", "ALL", "ALL", "dukcapil_confirmed")][:2] == (2, 5)  # persons 1 and 4 are in dtks
    # without mapped_fields dukcapil's fields are decided from the data: all five are present somewhere
    assert got[("source", "ALL", "dukcapil", "completeness_mapped")][:2] == (13, 15)


def test_no_records(duck: Engine) -> None:
    tables = _release(duck)
    tables.records = {}
    got = _by_key(indicators(duck, tables, QualitySettings()).to_pandas())
    assert got[("national", "ALL", "ALL", "stale_families")][:2] == (0, 0)
    assert got[("source", "ALL", "dtks", "quarantined")][:2] == (2, 2)
    assert got[("source", "ALL", "dtks", "linked")][:2] == (3, 0)
