"""Two small releases written by hand, with planted persons, families and changes, so that every
query has a known answer. Their tables have the columns of a real release (`dtsen build`).

R0001 (as of 2025-06-30)
  family 10  KK 3204010101100001  32.04.01.2001  persons 1 AHMAD SUBAGJA (head), 2 SITI AMINAH,
             3 RINA (born 2010)          decile 2, poor, PKH, 3 living members, 1 child
  family 11  KK 3204020202100001  32.04.02.2001  persons 4 SITI AMINAH (namesake of 2, same birth
             date), 5 BUDI HARTONO (born 1950, head)    decile 6, 1 elderly
  family 12  KK 3204010303100001  32.04.01.2002  person 6 DEWI LESTARI, deceased: not ranked
  family 13  KK 3301010404100001  33.01.01.2001  person 7 JOKO SANTOSO (head)   decile 1, extreme poor
R0002 (previous R0001)
  person 3 moved to family 11 (KK and village with it); person 5 died (2025-03-01);
  person 7 was merged into the new person 8 (linkage event merge 8 <- 7); person 8 JOKO SANTOSO
  in family 13; family 12 removed; family 10 decile 2 -> 3; sizes follow the members.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

LINK_MODEL = Path(__file__).parent / "data" / "link_model.json"
AS_OF = dt.date(2025, 6, 30)

PERSON_SCHEMA = pa.schema([
    ("person_id", pa.int64()), ("nik", pa.string()), ("kk", pa.string()), ("full_name", pa.string()),
    ("sex", pa.string()), ("birth_date", pa.date32()), ("birth_place", pa.string()), ("relationship", pa.string()),
    ("marital_status", pa.string()), ("education", pa.string()), ("occupation", pa.string()),
    ("disability", pa.string()), ("region_code", pa.string()), ("address", pa.string()), ("rt", pa.string()),
    ("rw", pa.string()), ("is_deceased", pa.bool_()), ("death_date", pa.date32()), ("kk_observed_at", pa.date32()),
    ("sources", pa.int64()), ("records", pa.int64()), ("family_id", pa.int64()),
])
_FAMILY_FIELDS: list[tuple[str, pa.DataType]] = [
    ("family_id", pa.int64()), ("kk", pa.string()), ("region_code", pa.string()), ("address", pa.string()),
    ("rt", pa.string()), ("rw", pa.string()), ("household_size", pa.int64()), ("floor_area", pa.float64()),
    ("floor_type", pa.string()), ("wall_type", pa.string()), ("roof_type", pa.string()), ("ownership", pa.string()),
    ("water_source", pa.string()), ("sanitation", pa.string()), ("lighting", pa.string()),
    ("electricity_va", pa.int64()), ("electricity_kwh", pa.float64()), ("cooking_fuel", pa.string()),
    *((c, pa.bool_()) for c in ("has_motorbike", "has_car", "has_fridge", "has_ac", "has_land")),
    ("livestock", pa.int64()), ("has_gold", pa.bool_()), ("pkh", pa.bool_()), ("bpnt", pa.bool_()),
    ("pbi_jk", pa.bool_()), ("consumption_per_capita", pa.float64()),
    *((c, pa.int64()) for c in ("size", "members_deceased", "children", "elderly", "dependants", "working_age",
                                "disabled", "head_person_id")),
    ("head_sex", pa.string()), ("all_deceased", pa.bool_()), ("sources", pa.int64()), ("records", pa.int64()),
    ("province_code", pa.string()), ("regency_code", pa.string()), ("district_code", pa.string()),
    ("urban", pa.bool_()), ("head_age", pa.float64()), ("head_education", pa.string()),
    ("predicted_consumption", pa.float64()),
    *((c, pa.int64()) for c in ("decile", "decile_province", "decile_regency", "rank_province", "rank_regency")),
    ("poverty_line", pa.float64()), ("extreme_line", pa.float64()), ("poor", pa.bool_()), ("extreme_poor", pa.bool_()),
    ("model_id", pa.string()),
]
FAMILY_SCHEMA = pa.schema(_FAMILY_FIELDS)
EVENT_SCHEMA = pa.schema([("kind", pa.string()), ("event", pa.string()), ("id", pa.int64()), ("other_id", pa.int64()),
                          ("members", pa.int64())])
QUALITY_SCHEMA = pa.schema([("level", pa.string()), ("region", pa.string()), ("source", pa.string()),
                            ("indicator", pa.string()), ("numerator", pa.int64()), ("denominator", pa.int64()),
                            ("value", pa.float64())])


def person(pid: int, nik: str | None, name: str, sex: str, born: str, family: int, kk: str, region: str,
           **extra: Any) -> dict[str, Any]:
    return {"person_id": pid, "nik": nik, "kk": kk, "full_name": name, "sex": sex,
            "birth_date": dt.date.fromisoformat(born), "region_code": region, "address": "JL MAWAR NO 1",
            "rt": "001", "rw": "002", "is_deceased": False, "kk_observed_at": AS_OF, "sources": 2, "records": 2,
            "family_id": family, **extra}


def family(fid: int, kk: str, region: str, size: int, decile: int | None, **extra: Any) -> dict[str, Any]:
    return {"family_id": fid, "kk": kk, "region_code": region, "size": size, "decile": decile,
            "province_code": region[:2], "regency_code": region[:5], "district_code": region[:8],
            "members_deceased": 0, "children": 0, "elderly": 0, "disabled": 0, "all_deceased": False,
            "predicted_consumption": None if decile is None else 300_000.0 + 100_000.0 * decile,
            "poverty_line": 595_000.0, "extreme_line": 391_000.0,
            "poor": None if decile is None else decile <= 2, "extreme_poor": None if decile is None else decile == 1,
            "pkh": False, "bpnt": False, "pbi_jk": False, "model_id": "ols-test", **extra}


KK10, KK11, KK12, KK13 = "3204010101100001", "3204020202100001", "3204010303100001", "3301010404100001"
A, B, C, D = "32.04.01.2001", "32.04.01.2002", "32.04.02.2001", "33.01.01.2001"


def r1_persons() -> list[dict[str, Any]]:
    return [
        person(1, "3204011705800001", "AHMAD SUBAGJA", "L", "1980-05-17", 10, KK10, A, relationship="KEPALA_KELUARGA"),
        person(2, "3204014403820002", "SITI AMINAH", "P", "1982-03-04", 10, KK10, A, relationship="ISTRI"),
        person(3, "3204014107100001", "RINA", "P", "2010-07-01", 10, KK10, A, relationship="ANAK"),
        person(4, "3204024403820001", "SITI AMINAH", "P", "1982-03-04", 11, KK11, C, relationship="ISTRI"),
        person(5, "3204020101500001", "BUDI HARTONO", "L", "1950-01-01", 11, KK11, C, relationship="KEPALA_KELUARGA"),
        person(6, "3204014202400001", "DEWI LESTARI", "P", "1940-02-02", 12, KK12, B, is_deceased=True,
               death_date=dt.date(2024, 1, 5)),
        person(7, "3301011212750001", "JOKO SANTOSO", "L", "1975-12-12", 13, KK13, D, relationship="KEPALA_KELUARGA"),
    ]


def r1_families() -> list[dict[str, Any]]:
    return [
        family(10, KK10, A, 3, 2, children=1, head_person_id=1, head_sex="L", pkh=True),
        family(11, KK11, C, 2, 6, elderly=1, head_person_id=5, head_sex="L"),
        family(12, KK12, B, 0, None, members_deceased=1, all_deceased=True, head_person_id=6, head_sex="P"),
        family(13, KK13, D, 1, 1, head_person_id=7, head_sex="L", bpnt=True),
    ]


def r2_persons() -> list[dict[str, Any]]:
    p = {r["person_id"]: r for r in r1_persons()}
    p[3] = {**p[3], "family_id": 11, "kk": KK11, "region_code": C}
    p[5] = {**p[5], "is_deceased": True, "death_date": dt.date(2025, 3, 1)}
    del p[6], p[7]
    p[8] = person(8, "3301011212750001", "JOKO SANTOSO", "L", "1975-12-12", 13, KK13, D, relationship="KEPALA_KELUARGA")
    return [p[k] for k in sorted(p)]


def r2_families() -> list[dict[str, Any]]:
    f = {r["family_id"]: r for r in r1_families()}
    f[10] = family(10, KK10, A, 2, 3, children=0, head_person_id=1, head_sex="L", pkh=True)
    f[11] = family(11, KK11, C, 2, 6, elderly=0, children=1, members_deceased=1, head_person_id=5, head_sex="L")
    f[13] = {**f[13], "head_person_id": 8}
    del f[12]
    return [f[k] for k in sorted(f)]


def quality_rows(persons: int) -> list[dict[str, Any]]:
    return [
        {"level": "regency", "region": "32.04", "source": "ALL", "indicator": "nik_valid", "numerator": persons,
         "denominator": persons, "value": 1.0},
        {"level": "national", "region": "ALL", "source": "ALL", "indicator": "nik_valid", "numerator": 50,
         "denominator": 60, "value": 50 / 60},
        {"level": "national", "region": "ALL", "source": "ALL", "indicator": "staleness_mean_days",
         "numerator": 6000, "denominator": 60, "value": 100.0},
    ]


def _table(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    path.mkdir(parents=True)
    full = [{name: r.get(name) for name in schema.names} for r in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=schema), path / "part-0.parquet")


def write_release(root: Path, release_id: str, persons: list[dict[str, Any]], families: list[dict[str, Any]],
                  events: list[dict[str, Any]], previous: str | None, current: bool = True) -> Path:
    d = root / release_id
    _table(d / "persons.parquet", persons, PERSON_SCHEMA)
    _table(d / "families.parquet", families, FAMILY_SCHEMA)
    _table(d / "events.parquet", events, EVENT_SCHEMA)
    _table(d / "quality.parquet", quality_rows(len(persons)), QUALITY_SCHEMA)
    (d / "link").mkdir()
    shutil.copyfile(LINK_MODEL, d / "link" / "model.json")
    manifest = {"release_id": release_id, "previous": previous, "as_of": AS_OF.isoformat(),
                "models": {"link_run": "Ltest", "pmt": "ols-test", "pmt_kind": "ols"},
                "metrics": {"persons": len(persons), "families": len(families)}}
    (d / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if current:
        set_current(root, release_id)
    return d


def set_current(root: Path, release_id: str) -> None:
    tmp = root / "CURRENT.tmp"
    tmp.write_text(release_id + "\n", encoding="utf-8")
    tmp.replace(root / "CURRENT")


def write_project(root: Path, second: bool = True) -> Path:
    """A project directory with releases R0001 (and R0002) and no sources."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dtsen.toml").write_text('[project]\nname = "fake"\n', encoding="utf-8")
    releases = root / "releases"
    releases.mkdir()
    write_release(releases, "R0001", r1_persons(), r1_families(), [], None)
    if second:
        write_release(releases, "R0002", r2_persons(), r2_families(),
                      [{"kind": "person", "event": "merge", "id": 8, "other_id": 7, "members": 1},
                       {"kind": "person", "event": "new", "id": 8, "other_id": None, "members": 1},
                       {"kind": "family", "event": "removed", "id": 12, "other_id": None, "members": 1}],
                      "R0001", current=False)
    return root
