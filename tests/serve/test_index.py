"""The serving index: what it holds, that lookups use its indexes, and that a rebuild is atomic."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import FEATURES_FILE, INDEX_FILE, MATCH_FILE, ServingIndexError, build_serving_index

from .fakes import r1_families, r1_persons, write_release


def _plan(path: Path, sql: str, params: tuple[object, ...]) -> str:
    con = sqlite3.connect(path)
    try:
        return " | ".join(str(r[-1]) for r in con.execute("EXPLAIN QUERY PLAN " + sql, params))
    finally:
        con.close()


def test_index_holds_every_person_and_family(r1: ReleaseHandle, r2: ReleaseHandle) -> None:
    assert r1.meta["counts"]["persons"] == 7 and r1.meta["counts"]["families"] == 4
    assert r1.scalar("SELECT count(*) FROM persons") == 7
    assert r1.scalar("SELECT group_concat(family_id) FROM (SELECT family_id FROM families ORDER BY 1)") == "10,11,12,13"
    assert r1.release_id == "R0001" and r1.manifest["as_of"] == "2025-06-30"
    assert r1.meta["changes_from"] is None and not r1.has_table("changes")
    assert r2.meta["changes_from"] == "R0001" and r2.has_table("changes")
    assert r2.link_model_path is not None  # the release's linkage model travels into the index


def test_region_counts_at_every_level(r1: ReleaseHandle) -> None:
    rows = {r["region"]: r for r in r1.rows("SELECT * FROM regions")}
    assert rows[""]["level"] == "national"
    assert (rows[""]["persons"], rows[""]["families"], rows[""]["persons_deceased"]) == (7, 4, 1)
    assert (rows["32"]["persons"], rows["33"]["persons"]) == (6, 1)
    assert rows["32.04"]["families"] == 3 and rows["32.04"]["families_ranked"] == 2
    assert rows["32.04.01"]["persons"] == 4  # village A (3) and B (1)
    assert rows["32.04.01.2001"]["decile_2_families"] == 1 and rows["32.04.01.2001"]["decile_2_persons"] == 3
    assert rows["32.04"]["poor_families"] == 1 and rows["32.04"]["pkh_families"] == 1
    assert rows["33.01.01.2001"]["extreme_families"] == 1 and rows["33.01.01.2001"]["extreme_persons"] == 1
    assert rows[""]["decile_6_persons"] == 2


def test_lookups_use_the_indexes(r1: ReleaseHandle) -> None:
    path = r1.index_dir / INDEX_FILE
    assert "USING INDEX ix_persons_nik" in _plan(path, "SELECT * FROM persons WHERE nik = ?", ("x",))
    assert "USING INDEX ix_families_kk" in _plan(path, "SELECT * FROM families WHERE kk = ?", ("x",))
    assert "USING INTEGER PRIMARY KEY" in _plan(path, "SELECT * FROM persons WHERE person_id = ?", (1,))
    region = _plan(path, "SELECT count(*) FROM persons WHERE region_code >= ? AND region_code < ?", ("32", "32~"))
    assert "ix_persons_region_code" in region and "SCAN persons" not in region


def test_match_table_has_standardized_names(r1: ReleaseHandle) -> None:
    t = pq.read_table(r1.index_dir / MATCH_FILE).to_pylist()
    siti = [r for r in t if r["name"] == "SITI AMINAH"]
    assert sorted(r["person_id"] for r in siti) == [2, 4]
    assert siti[0]["tf_name"] == pytest.approx(2 / 7)
    assert siti[0]["name_tokens"] == ["SITI", "AMINAH"] and siti[0]["dob"] == "1982-03-04"
    one = next(r for r in t if r["person_id"] == 1)
    assert (one["nik_region"], one["nik_birth"], one["nik_serial"]) == ("320401", "170580", "0001")
    assert (one["decile"], one["poor"], one["pkh"]) == (2, True, True)


def test_rebuild_replaces_the_index_whole(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "serving" / "R0001"
    build_serving_index(project / "releases" / "R0001", out)
    old = ReleaseHandle(out)
    with old.connection():
        pass
    build_serving_index(project / "releases" / "R0001", out)
    assert old.scalar("SELECT count(*) FROM persons") == 7  # a reader of the old files keeps reading them
    old.close()
    assert sorted(p.name for p in out.parent.iterdir()) == ["R0001"]  # no leftovers
    assert ReleaseHandle(out).release_id == "R0001"


def test_not_a_release(tmp_path: Path) -> None:
    with pytest.raises(ServingIndexError, match=r"no manifest\.json"):
        build_serving_index(tmp_path, tmp_path / "out")
    with pytest.raises(ServingIndexError, match="dtsen index build"):
        ReleaseHandle(tmp_path / "nothing")


def test_served_features_age_the_reported_head_as_the_ranking_does(tmp_path: Path) -> None:
    """A head the registry knows without a birth date takes the survey's stated age, aged by the
    whole years from the manifest's `reported_head_as_of` to the release's as-of date."""
    persons = [{**p, "birth_date": None} if p["person_id"] == 7 else p for p in r1_persons()]
    release = write_release(tmp_path / "releases", "R0001", persons, r1_families(), [], None)
    families = pq.read_table(release / "families.parquet")
    reported = {13: 45, 10: 20}  # family 10's head has a birth date: its own age stands
    ages = pa.array([reported.get(f) for f in families.column("family_id").to_pylist()], pa.int64())
    pq.write_table(families.append_column("reported_head_age", ages), release / "families.parquet" / "part-0.parquet")

    def head_ages(reported_as_of: str | None) -> dict[int, float | None]:
        manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
        (release / "manifest.json").write_text(json.dumps({**manifest, "reported_head_as_of": reported_as_of}),
                                               encoding="utf-8")
        out = tmp_path / "serving" / "R0001"
        build_serving_index(release, out)
        rows = pq.read_table(out / FEATURES_FILE).select(["family_id", "head_age"]).to_pylist()
        return {r["family_id"]: r["head_age"] for r in rows}

    assert head_ages("2024-03-31") == {10: 45.0, 11: 75.0, 12: 85.0, 13: 46.0}  # as of 2025-06-30
    assert head_ages(None)[13] == 45.0
