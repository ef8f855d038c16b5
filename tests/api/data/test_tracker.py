"""The citizen data tracker: proving who one is (NIK, KK and the standardized name), the lockout
of failed proofs, and the list of who read the family's data (never another family's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.security.citizens import names_agree
from dtsen.security.principal import Grant
from tests.api.data.conftest import data_project, issue, security_of

SITI = {"nik": "3204014403820002", "kk": "3204010101100001", "nama": "Hj. Siti Aminah, S.Pd."}


@pytest.mark.parametrize(("given", "registry", "same"), [
    ("Hj. Siti Aminah, S.Pd.", "SITI AMINAH", True),   # titles and degrees dropped
    ("M. Soleh", "MUHAMMAD SOLEH", True),              # Muhammad unified
    ("siti  aminah", "SITI AMINAH", True),              # case and spacing
    ("Siti Rahayu", "SITI AMINAH", False),
    ("Aminah", "SITI AMINAH", False),                   # a part of the name is not the name
    ("", "SITI AMINAH", False),
])
def test_names_compared_after_standardisation(given: str, registry: str, same: bool) -> None:
    assert names_agree(given, registry) is same


def _prove(api: TestClient, **details: str) -> Any:
    return api.post("/warga/pelacak/masuk", json={**SITI, **details})


def test_a_proven_citizen_sees_who_read_the_family(data_app: FastAPI, api: TestClient) -> None:
    operator = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    ministry = issue(data_app, "kemensos-pkh", Grant("client", "", frozenset({"eligibility"})),
                     display="Kementerian Sosial, PKH")
    api.get("/api/families/10?purpose=ground_check", headers=operator.headers)                 # the family
    api.post("/api/eligibility?purpose=eligibility", json={"nik": "3204011705800001", "programme": "pkh"},
             headers=ministry.headers)                                                           # a member
    api.get("/api/families/11?purpose=ground_check", headers=operator.headers)                 # another family
    api.get("/api/families/13?purpose=ground_check", headers=operator.headers)                 # denied: not a read
    proof = _prove(api)
    assert proof.status_code == 200 and proof.json()["family_id"] == 10
    citizen = {"Authorization": f"Bearer {proof.json()['access_token']}"}
    seen = api.get("/warga/pelacak?purpose=self_service", headers=citizen).json()
    assert (seen["release_id"], seen["family_id"]) == ("R0001", 10)
    assert [(e["accessed_by"], e["access_purpose"], e["access_action"]) for e in seen["entries"]] == [
        ("Kementerian Sosial, PKH", "Cek kelayakan bantuan / eligibility check",
         "Cek kelayakan program / programme eligibility"),
        ("Operator kabupaten/kota / regency operator (32.04)", "Verifikasi lapangan / ground check",
         "Baca data keluarga / read a family"),
    ]
    assert all(set(e) == {"accessed_by", "accessed_at", "access_purpose", "access_action"} for e in seen["entries"])
    assert "ani" not in str(seen)  # staff are named by role and region, never by name
    # the citizen's own reads are shown as theirs; the look at the tracker itself is not listed
    api.get("/api/families/10?purpose=self_service", headers=citizen)
    again = api.get("/warga/pelacak?purpose=self_service&limit=1", headers=citizen).json()
    assert again["entries"][0]["accessed_by"].startswith("Anda") and again["next_before"] is not None
    older = api.get(f"/warga/pelacak?purpose=self_service&limit=5&before={again['next_before']}",
                    headers=citizen).json()
    assert older["entries"][0]["accessed_by"] == "Kementerian Sosial, PKH"
    # a citizen reads only its own family
    assert api.get("/api/families/11?purpose=self_service", headers=citizen).status_code == 404
    # staff have no tracker of their own
    assert api.get("/warga/pelacak?purpose=self_service", headers=operator.headers).status_code == 403


def test_a_failed_proof_says_nothing_about_which_part_failed(data_app: FastAPI, api: TestClient) -> None:
    answers = [_prove(api, nama="Siti Rahayu"), _prove(api, kk="3204020202100001"), _prove(api, nik="3204014403829999"),
               _prove(api, nik="3204014202400001", nama="DEWI LESTARI", kk="3204010303100001")]  # deceased
    assert {a.status_code for a in answers} == {401}
    assert len({a.json()["error_description"] for a in answers}) == 1
    entries = [e for e in _audit(data_app) if e["action"] == "citizen.prove"]
    assert [e["outcome"] for e in entries] == ["failed"] * 4
    assert "3204014403820002" not in str(entries)


def test_failed_proofs_are_locked_out(tmp_path: Path, store_url: str, fake_releases: Path) -> None:
    settings = data_project(tmp_path / "p", fake_releases, store_url)
    settings.security.max_failed_logins = 3
    app = create_app(settings)
    with TestClient(app) as api:
        for _ in range(3):
            assert _prove(api, nama="Siti Rahayu").status_code == 401
        locked = _prove(api)  # even the right details, for that NIK, until the lockout ends
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        other = api.post("/warga/pelacak/masuk", json={"nik": "3204011705800001", "kk": SITI["kk"],
                                                       "nama": "AHMAD SUBAGJA"})
        assert other.status_code == 200  # another NIK from the same address is not locked (yet)
    app.state.security.close()


def _audit(app: FastAPI) -> list[dict[str, Any]]:
    sec = security_of(app)
    with sec.store.reading() as conn:
        return sec.audit.entries(conn, limit=10_000)
