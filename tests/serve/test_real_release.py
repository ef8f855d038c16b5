"""The serving layer on a release made by `dtsen build`: what the index serves is what the
release holds, the explanation is `dtsen explain family`'s, eligibility is the recipient list's,
and bulk matching finds planted rows made from real registry persons."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dtsen.config import Settings, load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import index_release
from dtsen.serve.lookups import family_by_kk, person_by_id, person_by_nik
from dtsen.serve.match_job import match_file
from dtsen.serve.models import Family, Person
from dtsen.serve.welfare import eligibility, explain_rank
from tests.conftest import build_on_duckdb, regency_project

PERSONS = 600


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    project = regency_project(tmp_path_factory.mktemp("real") / "project", PERSONS, seed=11)
    build_on_duckdb(project)
    s = load_settings(project)
    info = index_release(s)
    assert info.link_model != "none"  # the work directory's model belongs to this release's link run
    return s


@pytest.fixture(scope="module")
def handle(settings: Settings) -> Iterator[ReleaseHandle]:
    release = settings.path(settings.release.dir) / "R0001"
    h = ReleaseHandle(settings.path(settings.serving.dir) / "R0001", release)
    yield h
    h.close()


@pytest.fixture(scope="module")
def persons(handle: ReleaseHandle) -> list[dict[str, Any]]:
    assert handle.release_dir is not None
    rows: list[dict[str, Any]] = read_parquet_arrow(handle.release_dir / "persons.parquet").to_pylist()
    return rows


def test_index_serves_what_the_release_holds(handle: ReleaseHandle, persons: list[dict[str, Any]]) -> None:
    assert handle.release_dir is not None
    families = read_parquet_arrow(handle.release_dir / "families.parquet").to_pylist()
    assert handle.meta["counts"]["persons"] == len(persons) and handle.meta["counts"]["families"] == len(families)
    for row in persons[::7]:
        got = person_by_id(handle, row["person_id"])
        assert got is not None and got.person == Person.model_validate(row)
        if row["nik"]:
            by_nik = person_by_nik(handle, row["nik"])
            assert by_nik is not None and by_nik.person.nik == row["nik"]
    for row in families[::5]:
        fam = family_by_kk(handle, row["kk"])
        assert fam is not None and fam.family == Family.model_validate(row)
        assert sorted(m.person_id for m in fam.members) == sorted(
            p["person_id"] for p in persons if p["family_id"] == row["family_id"])


def test_explanation_is_dtsen_explain_family(settings: Settings, handle: ReleaseHandle) -> None:
    from dtsen.welfare.explain import explain_family
    from dtsen.welfare.pipeline import current_run

    families = [f for f in read_parquet_arrow(settings.work_dir / "welfare" / "ranking.parquet").to_pylist()
                if f["decile"] is not None][:3]
    engine = Engine.duckdb(memory_limit="1GB", threads=1)
    try:
        model, features, ranking = current_run(engine, settings)
        for f in families:
            want = explain_family(engine, model, features, ranking, f["family_id"])
            got = explain_rank(handle, f["family_id"])
            assert (got.model_id, got.decile) == (want.model_id, want.decile)
            assert got.base == pytest.approx(want.base)
            assert [c.predictor for c in got.contributions] == [c.predictor for c in want.contributions]
            assert [c.contribution for c in got.contributions] == pytest.approx([c.contribution for c in want.contributions])
            assert [c.average for c in got.contributions] == pytest.approx([c.average for c in want.contributions])
    finally:
        engine.close()


def test_eligibility_agrees_with_the_recipient_list(settings: Settings, handle: ReleaseHandle) -> None:
    from dtsen.welfare.targeting import select_recipients

    assert handle.release_dir is not None
    engine = Engine.duckdb(memory_limit="1GB", threads=1)
    try:
        ranked = engine.read_parquet(handle.release_dir / "families.parquet")
        ranked = ranked.mutate(persons=ranked["size"])
        ids = [r["family_id"] for r in ranked.select("family_id").to_pyarrow().to_pylist()]
        for name in ("pkh", "blt_lansia"):
            rule = settings.programmes[name]
            listed = {r["family_id"] for r in select_recipients(ranked, name, rule).to_pyarrow().to_pylist()}
            verdicts = {fid for fid in ids if eligibility(handle, fid, name, rule).eligible}
            assert verdicts == listed
            assert listed  # the rule takes someone: the comparison is not empty
    finally:
        engine.close()


def test_matching_planted_rows_from_registry_persons(handle: ReleaseHandle, persons: list[dict[str, Any]],
                                                     tmp_path: Path) -> None:
    from collections import Counter

    named = [p for p in persons if p["nik"] and p["full_name"] and p["birth_date"] and not p["is_deceased"]]
    pairs = Counter((p["full_name"], p["birth_date"]) for p in persons)
    unique = [p for p in named if pairs[(p["full_name"], p["birth_date"])] == 1]
    niks = {p["nik"] for p in persons}
    rows, expected = [], []

    def dmy(p: dict[str, Any]) -> str:
        return p["birth_date"].strftime("%d-%m-%Y")

    for p in unique[:20]:
        rows.append((p["nik"], p["full_name"], dmy(p)))
        expected.append(("exact_nik", p["person_id"]))
    for p in unique[20:30]:  # one digit of the serial changed, to a NIK nobody has
        typo = next(p["nik"][:-1] + d for d in "0123456789" if p["nik"][:-1] + d not in niks)
        rows.append((typo, p["full_name"], dmy(p)))
        expected.append(("probabilistic", p["person_id"]))
    for p in unique[30:40]:
        rows.append(("", p["full_name"], dmy(p)))
        expected.append(("probabilistic", p["person_id"]))
    for k in range(5):
        rows.append(("", f"QWERTY ZXCVB {'ABCDE'[k]}", f"0{k + 1}-01-1901"))
        expected.append(("none", None))
    path = tmp_path / "daftar.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["NIK", "NAMA", "TANGGAL_LAHIR"])
        w.writerows(rows)
    result = match_file(handle, path, tmp_path / "out")
    got = [(r["status"], r["person_id"]) for r in pq.read_table(result.path).to_pylist()]
    assert got == expected
