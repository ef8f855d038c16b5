"""Field results (ODK / KoboToolbox exports) as the most trusted source.

Unit tests of the ingest checks on hand-made tables (both engines), of the officer list and of
the source mapping; then one synthetic project built twice: R0001, then R0002 with the field
results of R0001's candidates (and four damaged rows) as the source `cek_lapangan`.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dtsen.config import SourceMapping, load_settings
from dtsen.consolidate.rules import DEFAULT_ABOVE_ALL
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.errors import SettingsError
from dtsen.ingest.check_tables import FieldCheckTables, RegionTables
from dtsen.ingest.pipeline import load_field_check, read_officers
from dtsen.ingest.reasons import REASONS, severities
from dtsen.ingest.validate import check_source
from dtsen.link.records import with_keys
from dtsen.reference.regions import RegionMaster
from dtsen.release.build import BuildResult
from dtsen.verify.field_results import (
    DAMAGED_REASONS,
    SOURCE_NAME,
    SyntheticFieldResults,
    column_name,
    field_source_mapping,
    field_source_toml,
    form_columns,
    synthetic_field_results,
)
from dtsen.verify.xlsform import WELFARE_FIELDS

from ..conftest import build_on_duckdb, regency_project

D = dt.date
AS_OF = D(2025, 6, 30)
K10, N10, N11 = "3204050101100010", "3204051507800003", "3204055203850002"
V1, V2 = "32.04.05.2001", "32.04.05.2002"

# -- the ingest checks on hand-made rows ----------------------------------------------------------

FAMILIES = pa.table(
    {
        "family_id": pa.array([10, 11], pa.int64()),
        "kk": [K10, None],
        "region_code": [V1, V2],
        "nik": [N10, N11],
    }
)
OFFICERS = pa.table({"officer": ["P1", "P2"], "region_code": [V1, V2]})
MAPPING = SourceMapping(
    level="family",
    files=["hasil.csv"],
    as_of=AS_OF,
    columns={
        "petugas": "officer",
        "tgl": "observed_at",
        "keluarga": "family_ref",
        "lantai": "floor_type",
        "motor": "has_motorbike",
    },
    date_formats=["YYYY-MM-DD"],
)
# officer, visit date, family id, floor, motorbike -> reasons with officers, reasons without them
ROWS: list[tuple[str, str, str, str, str, str | None, str | None]] = [
    ("P1", "2025-06-01", "10", "KERAMIK", "ya", None, None),
    ("P1", "2025-06-02", "999", "TANAH", "ya", "family_unknown", "family_unknown"),
    ("P1", "2025-06-03", "", "TANAH", "ya", "family_ref_missing", "family_ref_missing"),
    ("P1", "2025-07-15", "10", "TANAH", "ya", "visit_in_future", "visit_in_future"),
    ("P1", "2025-06-04", "11", "TANAH", "ya", "officer_not_assigned", None),  # 11 lives in V2
    (" p2 ", "2025-06-05", "11", "SEMEN", "tidak", None, None),  # the officer id as clean_text has it
    ("P1", "2025-06-06", "abc", "TANAH", "ya", "family_unknown", "family_unknown"),
    ("P9", "2025-07-15", "999", "TANAH", "ya", "family_unknown;visit_in_future", "family_unknown;visit_in_future"),
]


def _raw(engine: Engine) -> Any:
    cols = list(zip(*ROWS, strict=True))
    return engine.from_arrow(
        pa.table(
            {
                "_source": ["cek"] * len(ROWS),
                "_file": ["hasil.csv"] * len(ROWS),
                "_sheet": pa.array([None] * len(ROWS), pa.string()),
                "_row": pa.array(range(2, len(ROWS) + 2), pa.int64()),
                "officer": cols[0],
                "observed_at": cols[1],
                "family_ref": cols[2],
                "floor_type": cols[3],
                "has_motorbike": cols[4],
            }
        )
    )


def _check(engine: Engine, refs: FieldCheckTables | None) -> list[dict[str, Any]]:
    out = check_source(
        engine,
        _raw(engine),
        "cek",
        MAPPING,
        RegionTables.build(engine, RegionMaster.empty()),
        severity=severities(),
        max_age=120,
        excel_zero_share=0.5,
        field_check=refs,
    )
    cols = [
        "row",
        "_reject",
        "kk",
        "nik",
        "region_code",
        "family_ref",
        "officer",
        "observed_at",
        "floor_type",
        "has_motorbike",
    ]
    return engine.con.to_pyarrow(out.select(*cols).order_by("row")).to_pylist()


def test_field_results_are_checked_against_the_release_and_the_officers(engine: Engine) -> None:
    refs = FieldCheckTables(engine.from_arrow(FAMILIES), engine.from_arrow(OFFICERS), "R0001")
    got = _check(engine, refs)
    assert [r["_reject"] for r in got] == [r[5] for r in ROWS]
    # accepted rows take the release family's KK, village and head NIK; the visit date is the row's
    first, sixth = got[0], got[5]
    assert (first["kk"], first["region_code"], first["nik"]) == (K10, V1, N10)
    assert (first["family_ref"], first["officer"], first["observed_at"]) == (10, "P1", D(2025, 6, 1))
    assert (first["floor_type"], first["has_motorbike"]) == ("KERAMIK", True)
    assert (sixth["kk"], sixth["region_code"], sixth["nik"], sixth["officer"]) == (None, V2, N11, "P2")
    assert (sixth["floor_type"], sixth["has_motorbike"]) == ("SEMEN", False)
    # without an officer list the officer check is skipped
    assert [r["_reject"] for r in _check(engine, FieldCheckTables(refs.families, None))] == [r[6] for r in ROWS]


def test_without_a_release_every_family_is_unknown(duck: Engine) -> None:
    got = _check(duck, None)
    expected = ["family_ref_missing" if r[2] == "" else "family_unknown" for r in ROWS]
    expected = [e + (";visit_in_future" if r[1] == "2025-07-15" else "") for e, r in zip(expected, ROWS, strict=True)]
    assert [r["_reject"] for r in got] == expected


def test_the_new_reasons_reject_and_speak_bahasa_first() -> None:
    for code in DAMAGED_REASONS:
        assert REASONS[code].severity == "reject"
        assert REASONS[code].message and REASONS[code].english
    assert DEFAULT_ABOVE_ALL == [SOURCE_NAME]


# -- the officer list -----------------------------------------------------------------------------


def test_officer_list_reads_dotted_and_bare_codes(tmp_path: Path) -> None:
    path = tmp_path / "petugas.csv"
    path.write_text("officer;region_code\nP1;32.04.05.2001\n\nP2;3204052002\nP1;32.04.05.2002\n", encoding="utf-8")
    got = read_officers(path)
    assert got.to_pylist() == [
        {"officer": "P1", "region_code": V1},
        {"officer": "P2", "region_code": V2},
        {"officer": "P1", "region_code": V2},
    ]


def test_officer_list_mistakes_name_the_file_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "petugas.csv"
    path.write_text("officer,region_code\nP1,32.04.05.2001\n,32.04.05.2001\nP3,32.04.05\nP4,32.04.05.2001,x\n")
    with pytest.raises(SettingsError) as err:
        read_officers(path)
    where = [p.where for p in err.value.problems]
    assert where == [f"{path} line 3", f"{path} line 4", f"{path} line 5"]
    assert "officer id is empty" in str(err.value) and "'32.04.05' is not a village code" in str(err.value)
    with pytest.raises(SettingsError, match="lacks the column"):
        (tmp_path / "b.csv").write_text("petugas,desa\nP1,32.04.05.2001\n")
        read_officers(tmp_path / "b.csv")
    with pytest.raises(SettingsError, match="not found") as missing:
        read_officers(tmp_path / "tidak_ada.csv")
    assert str(tmp_path / "tidak_ada.csv") in str(missing.value)


def test_a_missing_officer_list_stops_the_ingest_before_any_work(tmp_path: Path, duck: Engine) -> None:
    text = field_source_toml("hasil.csv", AS_OF) + '\n[verify]\nofficers = "petugas.csv"\n'
    (tmp_path / "dtsen.toml").write_text(text, encoding="utf-8")
    settings = load_settings(tmp_path)
    with pytest.raises(SettingsError, match=r"petugas\.csv"):
        load_field_check(settings, duck)


# -- the source mapping ---------------------------------------------------------------------------


def test_the_toml_section_loads_as_the_mapping(tmp_path: Path) -> None:
    for style in ("plain", "odk", "kobo"):
        text = field_source_toml("cek_lapangan/*.csv", AS_OF, style=style)
        (tmp_path / "dtsen.toml").write_text(text, encoding="utf-8")
        loaded = load_settings(tmp_path).sources[SOURCE_NAME]
        assert loaded == SourceMapping(**field_source_mapping("cek_lapangan/*.csv", AS_OF, style=style))
        assert tomllib.loads(text)["sources"][SOURCE_NAME]["as_of"] == AS_OF
    assert form_columns("plain")["floor_type_hasil"] == "floor_type"
    assert form_columns("odk")["data_keluarga-floor_type_hasil"] == "floor_type"
    assert form_columns("kobo")["data_keluarga/has_car_hasil"] == "has_car"
    assert form_columns("odk")["keluarga"] == "family_ref"  # not in a group: no prefix
    assert column_name("petugas", "", "kobo") == "petugas"
    assert len(form_columns()) == 3 + len(WELFARE_FIELDS)


# -- end to end: R0001, then R0002 with the field results --------------------------------------------

PERSONS = 1_200


def _engine() -> Engine:
    return Engine.duckdb(memory_limit="2GB", threads=2)


_build = build_on_duckdb


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildResult, BuildResult, SyntheticFieldResults]:
    project = regency_project(tmp_path_factory.mktemp("field") / "project", PERSONS, seed=5)
    first = _build(project)
    results = synthetic_field_results(
        first.path, project / "truth", project / "cek_lapangan" / "hasil.csv", damaged=True
    )
    text = (project / "dtsen.toml").read_text(encoding="utf-8")
    text += "\n" + field_source_toml("cek_lapangan/hasil.csv", results.as_of)
    text += '\n[verify]\nofficers = "cek_lapangan/petugas.csv"\n'
    (project / "dtsen.toml").write_text(text, encoding="utf-8")
    second = _build(project)
    return project, first, second, results


def test_damaged_rows_are_quarantined_with_exactly_their_reason(built: Any) -> None:
    _, _, second, results = built
    q = read_parquet_arrow(second.path / "quarantine.parquet")
    q = q.filter(pc.equal(q["source"], SOURCE_NAME))
    got = sorted(zip(q["row"].to_pylist(), q["reasons"].to_pylist(), strict=True))
    expected = sorted(zip(results.damaged["row"].to_pylist(), results.damaged["reason"].to_pylist(), strict=True))
    assert [r for _, r in expected] == sorted(DAMAGED_REASONS, key=list(DAMAGED_REASONS).index)
    assert got == expected
    acc = second.manifest["accounting"]
    for source, row in acc["sources"].items():
        assert row["rows_read"] == row["accepted"] + row["quarantined"], source
    field = acc["sources"][SOURCE_NAME]
    assert (field["rows_read"], field["quarantined"]) == (results.submissions.num_rows + 4, 4)


def test_the_officers_values_win_with_the_visit_date_in_provenance(built: Any) -> None:
    project, _, second, results = built
    subs = results.submissions.filter(results.submissions["found"])
    assert subs.num_rows > 10
    families = {r["family_id"]: r for r in read_parquet_arrow(second.path / "families.parquet").to_pylist()}
    prov = read_parquet_arrow(second.path / "provenance.parquet")
    prov = prov.filter(pc.equal(prov["entity"], "family"))
    by_field = {(r["id"], r["field"]): r for r in prov.to_pylist()}
    links = {
        r["record_key"]: r
        for r in read_parquet_arrow(second.path / "links.parquet").to_pylist()
        if r["source"] == SOURCE_NAME
    }
    engine = _engine()
    try:  # the accepted records, with the keys the linkage gives them
        records = engine.read_parquet(project / "work" / "ingest" / "records" / SOURCE_NAME)
        keyed = {r["record_key"]: r for r in engine.con.to_pyarrow(with_keys(records, "family")).to_pylist()}
    finally:
        engine.close()
    checked = 0
    for sub in subs.to_pylist():
        fam = families[sub["family_id"]]
        for f in WELFARE_FIELDS:
            if sub[f.name] is None:
                continue
            assert fam[f.name] == sub[f.name], (sub["family_id"], f.name)
            p = by_field[(sub["family_id"], f.name)]
            assert (p["source"], p["observed_at"]) == (SOURCE_NAME, sub["visit_date"]), (sub["family_id"], f.name)
            link, record = links[p["record_key"]], keyed[p["record_key"]]
            assert (link["row"], link["family_id"]) == (sub["row"], sub["family_id"])
            assert (record["officer"], record["family_ref"]) == (sub["officer"], sub["family_id"])
            checked += 1
    assert checked > 10 * len(WELFARE_FIELDS) // 2


def test_families_not_visited_are_unchanged(built: Any) -> None:
    _, first, second, results = built
    visited = set(results.submissions["family_id"].to_pylist())
    cols = ["family_id", *(f.name for f in WELFARE_FIELDS)]
    before = {r["family_id"]: r for r in read_parquet_arrow(first.path / "families.parquet").select(cols).to_pylist()}
    after = {r["family_id"]: r for r in read_parquet_arrow(second.path / "families.parquet").select(cols).to_pylist()}
    assert set(before) == set(after)
    damaged_targets = {r for r in results.damaged["family_ref"].to_pylist() if r in before}
    assert len(damaged_targets) == 2  # the future visit and the stranger's visit: rejected, no change
    unvisited = set(before) - visited
    assert damaged_targets <= unvisited and len(unvisited) > 50
    assert [before[i] for i in sorted(unvisited)] == [after[i] for i in sorted(unvisited)]
    changed = [i for i in visited if before[i] != after[i]]
    assert changed  # the visits corrected some families


def test_field_checked_indicator_counts_the_visited_families(built: Any) -> None:
    _, first, second, results = built

    def national(path: Path) -> dict[str, Any]:
        q = read_parquet_arrow(path / "quality.parquet")
        q = q.filter(pc.and_(pc.equal(q["level"], "national"), pc.equal(q["indicator"], "field_checked")))
        rows = q.to_pylist()
        assert len(rows) == 1
        return rows[0]

    assert national(first.path)["numerator"] == 0
    after = national(second.path)
    assert after["numerator"] == results.submissions.num_rows and after["value"] > 0
