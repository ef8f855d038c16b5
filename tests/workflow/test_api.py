"""The workflow through the real service on both stores: staff endpoints region-scoped (another
regency's case, list, count and file tried by direct id), evidence uploaded and only ever
downloaded as an attachment, and citizens who prove who they are, see their family, file an
usul or a sanggah and learn nothing about anyone else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import Settings
from dtsen.security.principal import Grant
from dtsen.workflow.service import Workflow
from tests.api.conftest import PASSWORD, bearer
from tests.workflow.conftest import OTHER_REGENCY_VILLAGE, VILLAGE, pdf_bytes, png_bytes

CW = {"purpose": "case_work"}


@pytest.fixture
def api(wf_settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    application = create_app(wf_settings)
    with TestClient(application, raise_server_exceptions=False) as client:
        yield application, client
    application.state.security.close()


def login(app: FastAPI, client: TestClient, username: str, role: str, region: str = "") -> dict[str, str]:
    seed = app.state.security.accounts.add_user(username, username, PASSWORD, [Grant(role, region)],
                                                actor="cli:test").totp_secret
    r = client.post("/auth/login", json={"username": username, "password": PASSWORD, "totp": pyotp.TOTP(seed).now()})
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def _visit_case(client: TestClient, headers: dict[str, str], family_id: int) -> dict[str, Any]:
    r = client.post("/api/cases", params=CW, headers=headers,
                    json={"case_type": "visit", "kind": "manual", "family_id": family_id, "reason": "cek lapangan"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_regency_operator_sees_and_touches_only_their_regency(api: tuple[FastAPI, TestClient]) -> None:
    app, client = api
    bdg = login(app, client, "dinsos-bdg", "regency_operator", "32.04")
    kota = login(app, client, "dinsos-kota", "regency_operator", "32.73")
    mine = _visit_case(client, bdg, 45)
    theirs = _visit_case(client, kota, 90)
    assert mine["region_code"] == VILLAGE and theirs["region_code"] == OTHER_REGENCY_VILLAGE
    assert "forward" in mine["actions"] and mine["changes"] is None and mine["history"][0]["action"] == "create"
    # filing a case about another regency's family
    r = client.post("/api/cases", params=CW, headers=bdg,
                    json={"case_type": "visit", "kind": "manual", "family_id": 90, "reason": "cek lapangan"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    # direct ids of the other regency's case: read, act, upload, download, officers
    tid = theirs["id"]
    up = client.post(f"/api/cases/{tid}/evidence", params=CW, headers=bdg,
                     files={"file": ("a.pdf", pdf_bytes(), "application/pdf")}, data={"kind": "evidence"})
    for response in (client.get(f"/api/cases/{tid}", params=CW, headers=bdg),
                     client.post(f"/api/cases/{tid}/forward", params=CW, headers=bdg, json={}),
                     client.post(f"/api/cases/{tid}/reject", params=CW, headers=bdg, json={"reason": "coba-coba"}),
                     client.get(f"/api/cases/{tid}/officers", params=CW, headers=bdg), up):
        assert response.status_code == 403, response.text
    own_upload = client.post(f"/api/cases/{tid}/evidence", params=CW, headers=kota,
                             files={"file": ("a.pdf", pdf_bytes(), "application/pdf")}, data={"kind": "evidence"})
    assert own_upload.status_code == 201
    eid = own_upload.json()["id"]
    assert client.get(f"/api/cases/{tid}/evidence/{eid}", params=CW, headers=bdg).status_code == 403
    # lists and counts hold only their own
    listed = client.get("/api/cases", params=CW, headers=bdg).json()
    assert [c["id"] for c in listed] == [mine["id"]]
    assert client.get("/api/cases", params={**CW, "region": "32.73"}, headers=bdg).json() == []
    assert client.get(f"/api/cases/{tid}", params=CW, headers=kota).status_code == 200
    # overdue counts: move both deadlines into the past
    import sqlalchemy as sa

    from dtsen.store.tables import cases

    with app.state.security.store.writing() as conn:
        conn.execute(sa.update(cases).values(deadline_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
    overdue = client.get("/api/cases/overdue", params={**CW, "level": "regency"}, headers=bdg).json()
    assert [(o["region"], o["overdue"], o["by_state"]) for o in overdue] == [("32.04", 1, {"submitted": 1})]
    assert client.get("/api/cases", params={**CW, "overdue": True}, headers=kota).json()[0]["id"] == tid


def test_evidence_is_checked_by_content_and_downloaded_as_an_attachment(api: tuple[FastAPI, TestClient]) -> None:
    app, client = api
    bdg = login(app, client, "dinsos-bdg", "regency_operator", "32.04")
    case = _visit_case(client, bdg, 45)
    url = f"/api/cases/{case['id']}/evidence"
    for name, data in (("foto.jpg", pdf_bytes("<html><script>alert(1)</script></html>")),
                       ("x.svg", b"<svg><script>alert(1)</script></svg>"), ("setup.exe", b"MZ" + b"\x00" * 300)):
        r = client.post(url, params=CW, headers=bdg, files={"file": (name, data, "image/jpeg")})
        assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type", (name, r.text)
    big = pdf_bytes("x" * (6 * 2**20))
    assert client.post(url, params=CW, headers=bdg, files={"file": ("b.pdf", big, "application/pdf")}).status_code == 413
    r = client.post(url, params=CW, headers=bdg, files={"file": ("rumah.png", png_bytes(), "text/html")},
                    data={"kind": "photo"})
    assert r.status_code == 201 and r.json()["media_type"] == "image/png"
    got = client.get(f"{url}/{r.json()['id']}", params=CW, headers=bdg)
    assert got.status_code == 200 and got.content == png_bytes()
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == f'attachment; filename="bukti-{case["id"]}-{r.json()["id"]}.png"'
    assert got.headers["x-content-type-options"] == "nosniff" and "sandbox" in got.headers["content-security-policy"]
    assert client.get(f"{url}/999", params=CW, headers=bdg).status_code == 404


def _masuk(client: TestClient, nik: str, kk: str, nama: str) -> Any:
    return client.post("/warga/masuk", json={"nik": nik, "kk": kk, "nama": nama})


def test_citizens_prove_who_they_are_and_see_only_their_family(api: tuple[FastAPI, TestClient]) -> None:
    _, client = api
    assert _masuk(client, "3204055203850002", "3204050101090001", "siti  aminah").status_code == 200
    wrong = _masuk(client, "3204055203850002", "3204050101090002", "SITI AMINAH")
    unknown = _masuk(client, "3204059999990009", "3204050101090001", "SITI AMINAH")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error_description"] == unknown.json()["error_description"]
    r = _masuk(client, "3204051507800003", "3204050101090001", "Santoso, Budi")  # words in another order
    assert r.status_code == 200 and r.json()["family_id"] == 45
    warga = bearer(r.json()["access_token"])
    status = client.get("/warga/keluarga", headers=warga).json()
    assert status["family_id"] == 45 and status["decile"] == 2
    assert status["programmes"] == {"pkh": True, "bpnt": False, "pbi_jk": True}
    assert {m["full_name"] for m in status["members"]} == {"SITI AMINAH", "BUDI SANTOSO", "ANDI SANTOSO"}
    # a citizen's session reaches no staff endpoint
    assert client.get("/api/cases", params={"purpose": "self_service"}, headers=warga).status_code == 403


def test_failed_proofs_lock_out(api: tuple[FastAPI, TestClient]) -> None:
    _, client = api
    for _ in range(5):
        assert _masuk(client, "3204055203850002", "3204050101090009", "SITI AMINAH").status_code == 401
    locked = _masuk(client, "3204055203850002", "3204050101090001", "SITI AMINAH")  # right, but locked
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


def test_a_citizen_files_and_follows_cases_and_learns_nothing_else(api: tuple[FastAPI, TestClient]) -> None:
    app, client = api
    warga = bearer(_masuk(client, "3204055203850002", "3204050101090001", "Siti Aminah").json()["access_token"])
    usul = client.post("/warga/kasus", headers=warga, json={
        "case_type": "usul", "kind": "pbi_reactivation", "reason": "Kepesertaan PBI-JK kami nonaktif sejak Mei",
        "contact": {"channel": "sms", "address": "+6281234567890"}})
    assert usul.status_code == 201, usul.text
    assert set(usul.json()) == {"id", "label", "case_type", "kind", "state_label", "created_at", "updated_at",
                                "finished", "outcome"}
    # a sanggah about a family that exists, and about one that does not: the same answer
    exists = client.post("/warga/kasus", headers=warga, json={
        "case_type": "sanggah", "kind": "not_eligible", "reason": "Keluarga ini punya mobil dan toko besar",
        "target": {"kk": "3204050101090002"}})
    ghost = client.post("/warga/kasus", headers=warga, json={
        "case_type": "sanggah", "kind": "not_eligible", "reason": "Keluarga ini punya mobil dan toko besar",
        "target": {"kk": "3204050101099999"}})
    assert exists.status_code == ghost.status_code == 201
    strip = {"id", "label", "created_at", "updated_at"}
    assert {k: v for k, v in exists.json().items() if k not in strip} == \
        {k: v for k, v in ghost.json().items() if k not in strip}
    # staff see where the sanggah went: the target family's village, or the citizen's own
    bdg = login(app, client, "dinsos-bdg", "regency_operator", "32.04")
    staff_view = client.get(f"/api/cases/{exists.json()['id']}", params=CW, headers=bdg).json()
    assert (staff_view["family_id"], staff_view["region_code"]) == (46, VILLAGE)
    assert client.get(f"/api/cases/{ghost.json()['id']}", params=CW, headers=bdg).json()["family_id"] is None
    # the quota: three a day
    over = client.post("/warga/kasus", headers=warga, json={
        "case_type": "usul", "kind": "data_change", "reason": "Atap rumah sudah diganti seng",
        "family_fields": {"roof_type": "SENG"}})
    assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
    mine = client.get("/warga/kasus", headers=warga).json()
    assert sorted(c["id"] for c in mine) == sorted([usul.json()["id"], exists.json()["id"], ghost.json()["id"]])
    # another family's case, tried by number: 404, as if there were none
    other = bearer(_masuk(client, "3204054404700005", "3204050101090002", "DEWI LESTARI").json()["access_token"])
    assert client.get(f"/warga/kasus/{usul.json()['id']}", headers=other).status_code == 404
    assert client.get("/warga/kasus/999999", headers=other).status_code == 404
    assert client.get("/warga/kasus", headers=other).json() == []
    up = client.post(f"/warga/kasus/{usul.json()['id']}/bukti", headers=other,
                     files={"file": ("k.pdf", pdf_bytes(), "application/pdf")})
    assert up.status_code == 404
    up = client.post(f"/warga/kasus/{usul.json()['id']}/bukti", headers=warga,
                     files={"file": ("kartu.pdf", pdf_bytes(), "application/pdf")})
    assert up.status_code == 201
    wf: Workflow = app.state.workflow
    with wf.store.reading() as conn:
        entries = wf.security.audit.entries(conn, limit=1000)
    filed = [e for e in entries if e["action"] == "case.file_own" and e["outcome"] == "ok"]
    assert len(filed) >= 4 and all(e["actor"] == "citizen:family:45" for e in filed)
    assert not any("3204050101090002" in str(e) for e in entries)  # the target's KK is in no audit entry


def test_the_openapi_description_lists_the_workflow(api: tuple[FastAPI, TestClient]) -> None:
    _, client = api
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/cases", "/api/cases/{case_id}/musdes", "/api/cases/{case_id}/visit", "/api/batches/{batch_id}/sign",
            "/warga/masuk", "/warga/kasus"} <= set(paths)
    assert "VisitAnswers" in str(paths["/api/cases/{case_id}/visit"])
