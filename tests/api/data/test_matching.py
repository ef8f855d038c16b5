"""Bulk matching over HTTP: a job with progress and results, limited to the caller's region and
purpose, seen only by its owner, surviving a restart of the service; the download audited with
the persons matched."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import Settings
from dtsen.security.principal import Grant
from tests.api.data.conftest import issue, security_of

LIST = ("NIK;NAMA;TANGGAL_LAHIR\n"
        "3204011705800001;Ahmad Subagja;17-05-1980\n"     # exact, family 10 (32.04)
        "3301011212750001;JOKO SANTOSO;12-12-1975\n"      # exact, family 13 (33.01)
        "3204011705800009;AHMAD SUBAGJA;17-05-1980\n"     # a mistyped NIK: found by the model
        "3299990101900001;TIDAK ADA;01-01-1990\n")        # nobody


def _submit(api: TestClient, headers: dict[str, str], purpose: str = "targeting", text: str = LIST,
            name: str = "daftar.csv") -> str:
    r = api.post(f"/api/match?purpose={purpose}", files={"file": (name, text.encode(), "text/csv")}, headers=headers)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status_url"] == f"/api/match/{body['job_id']}"
    return str(body["job_id"])


def test_a_national_ministry_matches_everywhere(data_app: FastAPI, api: TestClient) -> None:
    ministry = issue(data_app, "kemensos", Grant("client", "", frozenset({"targeting"})))
    job = _submit(api, ministry.headers)
    data_app.state.match_jobs.wait(job)
    status = api.get(f"/api/match/{job}", headers=ministry.headers).json()
    assert (status["state"], status["progress"], status["rows"], status["release_id"], status["regions"]) == (
        "done", 1.0, 4, "R0001", None)
    assert status["counts"] == {"exact_nik": 2, "probabilistic": 1, "ambiguous": 0, "none": 1}
    rows = api.get(f"/api/match/{job}/results?purpose=targeting", headers=ministry.headers).json()["rows"]
    assert [(r["row"], r["match_status"], r["person_id"], r["family_id"], r["decile"]) for r in rows] == [
        (2, "exact_nik", 1, 10, 2), (3, "exact_nik", 7, 13, 1), (4, "probabilistic", 1, 10, 2), (5, "none", None, None,
                                                                                                 None)]
    assert "nik_conflict" in rows[2]["match_reasons"] or "nik_not_found" in rows[2]["match_reasons"]
    # what targeting may see: ids, match, ranking, programmes; never a name or a NIK
    assert set(rows[0]) == {"row", "sheet", "match_status", "person_id", "family_id", "match_probability",
                            "match_weight", "match_candidates", "match_reasons", "decile", "poor", "extreme_poor",
                            "pkh", "bpnt", "pbi_jk"}
    download = api.get(f"/api/match/{job}/results?purpose=targeting&format=parquet", headers=ministry.headers)
    table = pq.read_table(io.BytesIO(download.content))
    assert table.num_rows == 4 and table.column("person_id").to_pylist() == [1, 7, 1, None]
    csv = api.get(f"/api/match/{job}/results?purpose=targeting&format=csv", headers=ministry.headers)
    assert csv.headers["content-type"].startswith("text/csv")
    assert f'hasil_padan_{job[:8]}.csv' in csv.headers["content-disposition"]
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:3] == ['"baris"', '"sheet"', '"status_padan"'] and len(lines) == 5
    assert lines[1] == '2,,"exact_nik",1,10,1,,1,2,"YA","TIDAK","YA","TIDAK","TIDAK",'  # flags YA/TIDAK
    xlsx = api.get(f"/api/match/{job}/results?purpose=targeting&format=xlsx", headers=ministry.headers)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)["hasil_padan"]
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert cells[0][:3] == ["baris", "sheet", "status_padan"] and cells[1][:5] == [2, None, "exact_nik", 1, 10]
    entries = [e for e in _audit(data_app) if e["action"] == "match.bulk"]
    # the persons matched are in the chain from the job's completion; each download names the job
    assert [e["detail"]["stage"] for e in entries] == ["submitted", "matched"] + ["results"] * 4
    assert [e["detail"]["format"] for e in entries[2:]] == ["json", "parquet", "csv", "xlsx"]
    assert entries[1]["records"] == [f"match_job:{job}", "person:1", "person:7"]
    assert (entries[1]["actor"], entries[1]["purpose"], entries[1]["role"]) == ("client:kemensos", "targeting",
                                                                              "client")
    assert entries[2]["records"] == [f"match_job:{job}"]


def test_a_regency_operator_matches_only_inside_its_regency(data_app: FastAPI, api: TestClient) -> None:
    operator = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    job = _submit(api, operator.headers)
    assert data_app.state.match_jobs.wait(job).regions == ["32.04"]
    rows = api.get(f"/api/match/{job}/results?purpose=targeting", headers=operator.headers).json()["rows"]
    joko = rows[1]
    nobody = rows[3]
    # JOKO lives in 33.01: his row comes back exactly like a person the registry does not hold
    assert joko["match_status"] == "none" and joko["person_id"] is None
    assert {k: v for k, v in joko.items() if k != "row"} == {
        **{k: v for k, v in nobody.items() if k != "row"}, "match_reasons": joko["match_reasons"]}
    assert joko["match_reasons"] == "nik_not_found"
    assert [r["person_id"] for r in rows] == [1, None, 1, None]


def test_only_the_owner_sees_a_job(data_app: FastAPI, api: TestClient) -> None:
    owner = issue(data_app, "kemensos", Grant("client", "", frozenset({"targeting"})))
    other = issue(data_app, "bpjs", Grant("client", "", frozenset({"targeting"})))
    job = _submit(api, owner.headers)
    data_app.state.match_jobs.wait(job)
    missing = api.get("/api/match/" + "0" * 32, headers=other.headers)
    for path in (f"/api/match/{job}", f"/api/match/{job}/results?purpose=targeting"):
        r = api.get(path, headers=other.headers)
        assert r.status_code == 404 and r.json()["error_description"] == missing.json()["error_description"]
    # the owner asking for another purpose gets nothing either
    assert api.get(f"/api/match/{job}/results?purpose=eligibility", headers=owner.headers).status_code == 403


def test_refused_lists(data_app: FastAPI, api: TestClient) -> None:
    ministry = issue(data_app, "kemensos", Grant("client", "", frozenset({"targeting"})))
    pdf = api.post("/api/match?purpose=targeting", files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
                   headers=ministry.headers)
    assert pdf.status_code == 415
    job = _submit(api, ministry.headers, text="NOMOR;NAMA\n1;A\n")  # no NIK or birth date column
    status = data_app.state.match_jobs.wait(job)
    assert status.state == "failed" and "required column" in (status.error or "")
    assert str(security_of(data_app).settings.project.root) not in (status.error or "")
    assert api.get(f"/api/match/{job}/results?purpose=targeting", headers=ministry.headers).status_code == 409
    citizen = issue(data_app, "warga", Grant("citizen"), family_id=10)
    assert api.post("/api/match?purpose=self_service", files={"file": ("a.csv", LIST.encode(), "text/csv")},
                    headers=citizen.headers).status_code == 403


def test_uploads_larger_than_the_limit_are_refused(tmp_path: Path, store_url: str, fake_releases: Path) -> None:
    from tests.api.data.conftest import data_project

    settings = data_project(tmp_path / "p", fake_releases, store_url, extra="max_upload_bytes = 4096\n")
    app = create_app(settings)
    with TestClient(app) as api:
        ministry = issue(app, "kemensos", Grant("client", "", frozenset({"targeting"})))
        big = LIST + "3204011705800001;AHMAD SUBAGJA;17-05-1980\n" * 200
        r = api.post("/api/match?purpose=targeting", files={"file": ("a.csv", big.encode(), "text/csv")},
                     headers=ministry.headers)
        assert r.status_code == 413
        # the default limit (1 MiB) still holds for other routes, the larger one only for /api/match
        limits = app.state.body_limits  # evidence uploads (/api/cases, /warga/kasus) have their own
        assert limits["/api/match"] == 4096 and not any(k.startswith(("/api/persons", "/api/families")) for k in limits)
    app.state.security.close()


def test_jobs_survive_a_restart(data_settings: Settings) -> None:
    app = create_app(data_settings)
    with TestClient(app) as api:
        ministry = issue(app, "kemensos", Grant("client", "", frozenset({"targeting"})))
        job = _submit(api, ministry.headers)
        app.state.match_jobs.wait(job)
    app.state.security.close()
    folder = data_settings.path(data_settings.serving.dir) / "service" / "padan" / job
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / "job.json").stat().st_mode & 0o777) == "0o600"
    assert not list(folder.glob("upload*"))  # the list itself is gone once matched
    assert json.loads((folder / "job.json").read_text())["owner"] == "client:kemensos"
    again = create_app(data_settings)
    with TestClient(again) as api:
        rows = api.get(f"/api/match/{job}/results?purpose=targeting", headers=ministry.headers).json()["rows"]
        assert [r["person_id"] for r in rows] == [1, 7, 1, None]
    again.state.security.close()


def _audit(app: FastAPI) -> list[dict[str, Any]]:
    sec = security_of(app)
    with sec.store.reading() as conn:
        return sec.audit.entries(conn, limit=10_000)
