"""The whole path, on a synthetic regency built for real, on both stores:

a citizen proves who they are and files an usul -> the village operator accepts it and records the
musdes with its signed minutes -> dinas sosial assigns an officer, who visits (a member died, the
floor is earth) -> verified; with it a ground-check visit from the release's candidates (the
family was not found) and a village report of a family that moved -> dinas sosial composes the
batch, the kepala daerah signs it -> `dtsen build` -> the release shows every change, its
provenance naming the case and the signed batch; the cases are released, the citizen sees the
outcome, and each notification is delivered once.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dtsen.api.app import create_app
from dtsen.cli import app as cli
from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.release.build import BuildResult
from dtsen.workflow.export import FAMILY_SOURCE, PERSON_SOURCE
from dtsen.workflow.provenance import field_cases
from tests.api.conftest import bearer
from tests.conftest import build_on_duckdb, regency_project
from tests.store.fixtures import FAST_ARGON2
from tests.workflow.conftest import pdf_bytes
from tests.workflow.test_api import login

CW = {"purpose": "case_work"}


@pytest.fixture(scope="module")
def first_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildResult]:
    project = regency_project(tmp_path_factory.mktemp("alur") / "project", 400, seed=7)
    return project, build_on_duckdb(project)


@pytest.fixture
def project(first_release: tuple[Path, BuildResult], tmp_path: Path, store_url: str) -> Path:
    """R0001's project copied, with the store of this test and notifications to files."""
    out = tmp_path / "project"
    shutil.copytree(first_release[0], out, symlinks=True)
    text = (out / "dtsen.toml").read_text(encoding="utf-8")
    (out / "dtsen.toml").write_text(
        text + f'\n[store]\nurl = "{store_url}"\n\n[security]\n{FAST_ARGON2}\n'
               f'[api]\nrate_per_minute = 100000\nrate_burst = 100000\n\n[workflow]\nnotify_dir = "pesan"\n',
        encoding="utf-8")
    return out


@pytest.fixture
def service(project: Path) -> Iterator[tuple[FastAPI, TestClient]]:
    application = create_app(load_settings(project))
    with TestClient(application, raise_server_exceptions=False) as client:
        yield application, client
    application.state.security.close()


def _table(release: Path, name: str) -> list[dict[str, Any]]:
    return list(read_parquet_arrow(release / f"{name}.parquet").to_pylist())


def _choose(release: Path) -> dict[str, Any]:
    """Three families of the release: A (the citizen's, with a member to die), B (a candidate
    not found), D (moves to another village); and A's head."""
    persons = _table(release, "persons")
    families = {f["family_id"]: f for f in _table(release, "families")}
    cands = {c["family_id"] for c in _table(release, "verification_candidates")}
    members: dict[int, list[dict[str, Any]]] = {}
    for p in persons:
        if p["family_id"] is not None and not p["is_deceased"]:
            members.setdefault(p["family_id"], []).append(p)
    usable = [fid for fid, ms in sorted(members.items())
              if len(ms) >= 2 and all(m["nik"] and m["kk"] == families[fid]["kk"] for m in ms)
              and families[fid]["floor_type"] != "TANAH"]
    a = next(fid for fid in usable if fid not in cands)
    b = next(fid for fid in sorted(cands) if fid != a)
    d = next(fid for fid in usable if fid not in (a, b) and fid not in cands)
    other_village = next(f["region_code"] for f in families.values() if f["region_code"] != families[d]["region_code"])
    head = next(m for m in members[a] if m["relationship"] == "KEPALA_KELUARGA")
    dying = next(m for m in members[a] if m["person_id"] != head["person_id"])
    return {"a": a, "b": b, "d": d, "families": families, "head": head, "dying": dying,
            "d_members": [m["person_id"] for m in members[d]], "other_village": other_village}


def _act(client: TestClient, headers: dict[str, str], case_id: int, action: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/api/cases/{case_id}/{action}", params=CW, headers=headers, json=body)
    assert r.status_code == 200, (action, r.text)
    return dict(r.json())


def test_usul_to_release_with_provenance_and_outcome(first_release: tuple[Path, BuildResult], project: Path,
                                                     service: tuple[FastAPI, TestClient]) -> None:
    app, client = service
    r1 = project / "releases" / "R0001"
    pick = _choose(r1)
    fam_a, head, dying = pick["families"][pick["a"]], pick["head"], pick["dying"]
    village = fam_a["region_code"]
    regency = village[:5]
    # the workflow looks families up in the serving index, and finds what the release holds
    from dtsen.workflow.registry import ReleaseRegistry, ServingRegistry

    served = app.state.workflow.registry()
    assert isinstance(served, ServingRegistry) and served.release_id == "R0001"
    parquet = ReleaseRegistry(r1).family(pick["a"])
    indexed = served.family(pick["a"])
    assert parquet is not None and indexed is not None and indexed.members == parquet.members
    assert parquet.values == dict(indexed.values)
    assert served.person_by_nik(head["nik"]) == ReleaseRegistry(r1).person_by_nik(head["nik"])
    today = dt.date.today().isoformat()

    # 1. the citizen proves who they are and files an usul about their own family
    r = client.post("/warga/masuk", json={"nik": head["nik"], "kk": head["kk"], "nama": head["full_name"].lower()})
    assert r.status_code == 200, r.text
    warga = bearer(r.json()["access_token"])
    r = client.post("/warga/kasus", headers=warga, json={
        "case_type": "usul", "kind": "data_change", "reason": "Lantai rumah kami tanah dan suami sudah meninggal",
        "family_fields": {"floor_type": "TANAH"}, "contact": {"channel": "sms", "address": "+6281200001111"}})
    assert r.status_code == 201, r.text
    c1 = r.json()["id"]

    # 2. the village: accept, upload the signed minutes, record the musdes
    desa = login(app, client, "operator-desa", "village_operator", village)
    assert client.get("/api/cases", params=CW, headers=desa).json()[0]["id"] == c1
    _act(client, desa, c1, "accept", {})
    minutes = client.post(f"/api/cases/{c1}/evidence", params=CW, headers=desa, data={"kind": "minutes"},
                          files={"file": ("berita-acara.pdf", pdf_bytes(), "application/pdf")})
    assert minutes.status_code == 201, minutes.text
    view = _act(client, desa, c1, "musdes", {"held_on": today, "place": "Balai desa",
                                              "attendees": ["Kepala desa", "BPD", "Pendamping PKH"],
                                              "decisions": "Diusulkan: lantai tanah, satu anggota meninggal",
                                              "minutes_evidence_id": minutes.json()["id"]})
    assert view["state"] == "verification" and view["musdes"]["place"] == "Balai desa"

    # 3. dinas sosial assigns; the officer visits; verified
    dinsos = login(app, client, "dinsos", "regency_operator", regency)
    petugas = login(app, client, "petugas", "field_officer", regency)
    assert [o["username"] for o in client.get(f"/api/cases/{c1}/officers", params=CW, headers=dinsos).json()] \
        == ["dinsos", "petugas"]
    _act(client, dinsos, c1, "assign", {"officer": "petugas"})
    view = _act(client, petugas, c1, "visit", {
        "visited_on": today, "found": True, "family_fields": {"floor_type": "TANAH"},
        "deceased": [{"person_id": dying["person_id"], "death_date": today}]})
    assert {c["entity"] for c in view["changes"]} == {"family", "person"}
    _act(client, dinsos, c1, "verify", {})

    # 4. a ground-check candidate that was not found, and a family that moved
    r = client.post("/api/cases/from-candidates", params=CW, headers=dinsos,
                    json={"region": pick["families"][pick["b"]]["region_code"]})
    assert r.status_code == 201 and r.json()["created"]
    c2 = next(c["id"] for c in client.get("/api/cases", params={**CW, "family_id": pick["b"]}, headers=dinsos).json())
    _act(client, dinsos, c2, "forward", {})
    _act(client, dinsos, c2, "visit", {"visited_on": today, "found": False})
    _act(client, dinsos, c2, "verify", {})
    r = client.post("/api/cases", params=CW, headers=dinsos, json={
        "case_type": "village_report", "kind": "move", "family_id": pick["d"], "reason": "Keluarga pindah"})
    c3 = r.json()["id"]
    _act(client, dinsos, c3, "forward", {})
    _act(client, dinsos, c3, "visit", {"visited_on": today, "found": True,
                                        "moved": {"region_code": pick["other_village"], "address": "JL. BARU NO. 5"}})
    _act(client, dinsos, c3, "verify", {})

    # 5. the batch, and the kepala daerah's signature
    r = client.post("/api/batches", params=CW, headers=dinsos, json={"region": regency, "case_ids": [c1, c2, c3]})
    assert r.status_code == 201, r.text
    batch = r.json()
    bupati = login(app, client, "bupati", "kepala_daerah", regency)
    inbox = client.get("/api/batches", params={**CW, "status": "draft"}, headers=bupati).json()
    assert [b["id"] for b in inbox] == [batch["id"]] and inbox[0]["cases"] == 3
    shown = client.get(f"/api/batches/{batch['id']}", params=CW, headers=bupati).json()
    floor = next(f for c in shown["cases"] if c["id"] == c1 for ch in c["changes"] for f in ch["fields"]
                 if f["field"] == "floor_type")
    assert (floor["before"], floor["after"]) == (fam_a["floor_type"], "TANAH")
    signed = client.post(f"/api/batches/{batch['id']}/sign", params=CW, headers=bupati).json()
    assert signed["status"] == "signed" and signed["signature"]
    assert {c["state"] for c in signed["cases"]} == {"approved"}

    # 6. the next build takes the signed batch as the most trusted source
    result = build_on_duckdb(project)
    r2 = result.path
    assert result.release_id == "R0002"
    assert {FAMILY_SOURCE, PERSON_SOURCE} <= {i["source"] for i in result.manifest["inputs"]}
    families = {f["family_id"]: f for f in _table(r2, "families")}
    persons = {p["person_id"]: p for p in _table(r2, "persons")}
    a, b, d = families[pick["a"]], families[pick["b"]], families[pick["d"]]
    assert a["floor_type"] == "TANAH" and a["family_status"] == "AKTIF" and a["members_deceased"] == 1
    assert persons[dying["person_id"]]["is_deceased"] is True
    assert persons[dying["person_id"]]["death_date"] == dt.date.today()
    assert b["family_status"] == "TIDAK_DITEMUKAN"
    assert d["region_code"] == pick["other_village"] and d["address"] == "JL BARU NO 5"  # as ingest standardizes it
    assert {persons[p]["region_code"] for p in pick["d_members"]} == {pick["other_village"]}
    # families the batch did not name are as they were
    untouched = [f for fid, f in pick["families"].items() if fid not in (pick["a"], pick["b"], pick["d"])]
    assert all(families[f["family_id"]]["family_status"] is None for f in untouched)
    assert all(families[f["family_id"]]["floor_type"] == f["floor_type"] for f in untouched)

    # 7. provenance names the case and the signed batch
    settings = load_settings(project)
    by_field = {(x.field, x.case_id) for x in field_cases(settings, r2, "family", [pick["a"]])}
    assert ("floor_type", c1) in by_field and ("family_status", c1) in by_field
    assert {(x.field, x.case_id, x.batch_id) for x in field_cases(settings, r2, "person", [dying["person_id"]])
            if x.field == "is_deceased"} == {("is_deceased", c1, batch["id"])}
    assert {(x.field, x.case_id) for x in field_cases(settings, r2, "family", [pick["b"]])} == \
        {("family_status", c2)}
    prov = read_parquet_arrow(r2 / "provenance.parquet")
    row = prov.filter(pc.and_(pc.equal(prov["entity"], "family"), pc.equal(prov["id"], pick["a"]))).to_pylist()
    assert {p["source"] for p in row if p["field"] == "floor_type"} == {FAMILY_SOURCE}

    # 8. the cases are released, and the citizen sees the outcome
    for case_id in (c1, c2, c3):
        case = client.get(f"/api/cases/{case_id}", params=CW, headers=dinsos).json()
        assert (case["state"], case["in_release"]) == ("released", "R0002"), case_id
    mine = client.get(f"/warga/kasus/{c1}", headers=warga).json()
    assert mine["finished"] is True and "R0002" in mine["outcome"]

    # 9. the submitter's notifications, delivered once
    runner = CliRunner()
    out = runner.invoke(cli, ["workflow", "deliver", "--project", str(project)])
    assert out.exit_code == 0, out.output
    sent = sorted((project / "pesan").glob("*.json"))
    subjects = [p.read_text(encoding="utf-8") for p in sent]
    assert len(sent) == 6 and all(f"K-{c1:06d}" in s for s in subjects)  # submitted ... released
    assert runner.invoke(cli, ["workflow", "deliver", "--project", str(project)]).exit_code == 0
    assert sorted((project / "pesan").glob("*.json")) == sent
    # the audit chain holds every step and is whole
    assert runner.invoke(cli, ["audit", "verify", "--project", str(project)]).exit_code == 0
