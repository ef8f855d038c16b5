"""Known answers of the registry API over the fake releases (R0001 served; see tests/serve/fakes.py),
on SQLite and PostgreSQL: each endpoint's data, the purpose's fields, an out-of-scope record
answered exactly like an absent one, and the audit entry of every read."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.security.principal import Grant
from tests.api.data.conftest import issue, security_of


def _entries(app: FastAPI, action: str | None = None) -> list[dict[str, Any]]:
    sec = security_of(app)
    with sec.store.reading() as conn:
        rows = sec.audit.entries(conn, limit=10_000)
    return [e for e in rows if not e["action"].startswith(("auth.", "account.")) and
            (action is None or e["action"] == action)]


def _same_but_request_id(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "request_id"} == {k: v for k, v in b.items() if k != "request_id"}


def test_person_by_nik_and_id(data_app: FastAPI, api: TestClient) -> None:
    op = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    by_nik = api.post("/api/persons/by-nik?purpose=ground_check", json={"nik": "3204014403820002"}, headers=op.headers)
    assert by_nik.status_code == 200
    body = by_nik.json()
    assert (body["release_id"], body["purpose"]) == ("R0001", "ground_check")
    p = body["person"]
    assert (p["person_id"], p["full_name"], p["birth_date"], p["relationship"], p["family_id"]) == (
        2, "SITI AMINAH", "1982-03-04", "ISTRI", 10)
    assert api.get("/api/persons/2?purpose=ground_check", headers=op.headers).json() == body
    assert [(e["action"], e["records"], e["purpose"], e["outcome"], e["role"]) for e in _entries(data_app)] == [
        ("person.read", ["person:2"], "ground_check", "ok", "regency_operator@32.04")] * 2


def test_a_record_outside_the_region_is_answered_like_an_absent_one(data_app: FastAPI, api: TestClient) -> None:
    op = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    outside = api.post("/api/persons/by-nik?purpose=ground_check", json={"nik": "3301011212750001"},
                       headers=op.headers)  # JOKO SANTOSO lives in 33.01
    absent = api.post("/api/persons/by-nik?purpose=ground_check", json={"nik": "3204019999990001"},
                      headers=op.headers)
    assert outside.status_code == absent.status_code == 404
    assert _same_but_request_id(outside.json(), absent.json())
    assert set(outside.headers) == set(absent.headers)
    for path in ("/api/families/13", "/api/families/99", "/api/persons/7", "/api/persons/99",
                 "/api/families/13/welfare", "/api/families/99/welfare"):
        r = api.get(f"{path}?purpose=ground_check", headers=op.headers)
        assert r.status_code == 404 and _same_but_request_id(r.json(), absent.json()), path
    # the audit chain holds the truth: a denial for the real record, a read that found nothing otherwise
    reads = [(e["outcome"], e["records"]) for e in _entries(data_app, "person.read")]
    assert reads[0] == ("denied", ["person:7"]) and reads[1][0] == "ok" and reads[1][1][0].startswith("nik#")
    assert "3204019999990001" not in str(_entries(data_app))


def test_namesakes_in_two_districts(data_app: FastAPI, api: TestClient) -> None:
    # persons 2 and 4 are namesakes with the same birth date but their own NIKs, in two districts
    dinsos = issue(data_app, "dinsos", Grant("client", "32.04.02", frozenset({"targeting"})))
    r = api.post("/api/persons/by-nik?purpose=targeting", json={"nik": "3204024403820001"}, headers=dinsos.headers)
    assert r.json()["person"] == {"person_id": 4, "family_id": 10 + 1, "region_code": "32.04.02.2001"}
    r = api.post("/api/persons/by-nik?purpose=targeting", json={"nik": "3204014403820002"}, headers=dinsos.headers)
    assert r.status_code == 404


def test_family_with_members_by_kk_and_by_id(data_app: FastAPI, api: TestClient) -> None:
    steward = issue(data_app, "stew", Grant("steward"))
    r = api.post("/api/families/by-kk?purpose=data_quality", json={"kk": "3204010101100001"}, headers=steward.headers)
    body = r.json()
    assert body["family"]["family_id"] == 10 and body["family"]["decile"] == 2 and body["family"]["pkh"] is True
    assert [m["person_id"] for m in body["members"]] == [1, 2, 3]
    assert [m["full_name"] for m in body["members"]] == ["AHMAD SUBAGJA", "SITI AMINAH", "RINA"]
    assert api.get("/api/families/10?purpose=data_quality", headers=steward.headers).json() == body
    assert [e["records"] for e in _entries(data_app)] == [["family:10"], ["family:10"]]


def test_a_purpose_sees_only_its_fields(data_app: FastAPI, api: TestClient) -> None:
    kepala = issue(data_app, "bupati", Grant("kepala_daerah", "32.04"))
    family = api.get("/api/families/10?purpose=ground_check", headers=kepala.headers).json()
    # the regional head sees the family's names and address, never NIK, KK or birth dates
    assert "nik" not in family["members"][0] and "birth_date" not in family["members"][0]
    assert family["members"][0]["full_name"] == "AHMAD SUBAGJA" and "kk" not in family["family"]
    citizen = issue(data_app, "warga", Grant("citizen"), family_id=10)
    own = api.get("/api/families/10?purpose=self_service", headers=citizen.headers).json()
    assert own["family"] == {"family_id": 10, "decile": 2, "pkh": True, "bpnt": False, "pbi_jk": False}
    assert own["members"][2] == {"person_id": 3, "family_id": 10, "full_name": "RINA", "relationship": "ANAK"}
    assert api.get("/api/families/11?purpose=self_service", headers=citizen.headers).status_code == 404


def test_welfare_status(data_app: FastAPI, api: TestClient) -> None:
    op = issue(data_app, "ani", Grant("province_operator", "32"))
    w = api.get("/api/families/10/welfare?purpose=ground_check", headers=op.headers).json()["welfare"]
    assert (w["decile"], w["poor"], w["extreme_poor"], w["ranked"], w["persons"], w["pkh"]) == (2, True, False, True,
                                                                                                3, True)
    assert w["predicted_consumption"] == 500_000.0 and w["poverty_line"] == 595_000.0
    unranked = api.get("/api/families/12/welfare?purpose=ground_check", headers=op.headers).json()["welfare"]
    assert unranked["ranked"] is False and unranked["decile"] is None


def test_eligibility_under_its_rule_and_why(data_app: FastAPI, api: TestClient) -> None:
    ministry = issue(data_app, "kemensos", Grant("client", "", frozenset({"eligibility"})))
    yes = api.get("/api/families/10/eligibility/pkh?purpose=eligibility", headers=ministry.headers).json()
    assert yes["eligibility"] == {"family_id": 10, "person_id": None, "programme": "pkh", "eligible": True,
                                  "decile": 2, "eligibility_rule": yes["eligibility"]["eligibility_rule"]}
    assert yes["eligibility"]["eligibility_rule"]["deciles"] == [1, 4]
    # a ministry's eligibility check says yes or no, the decile and the rule; not why, not the address
    no = api.post("/api/eligibility?purpose=eligibility", json={"nik": "3204020101500001", "programme": "pkh"},
                  headers=ministry.headers).json()["eligibility"]
    assert (no["family_id"], no["person_id"], no["eligible"], no["decile"]) == (11, 5, False, 6)
    by_kk = api.post("/api/eligibility?purpose=eligibility", json={"kk": "3301010404100001", "programme": "pkh"},
                     headers=ministry.headers).json()["eligibility"]
    assert (by_kk["family_id"], by_kk["eligible"]) == (13, False)
    # the citizen (and the steward) see why
    citizen = issue(data_app, "warga", Grant("citizen"), family_id=13)
    mine = api.get("/api/families/13/eligibility/pkh?purpose=self_service", headers=citizen.headers).json()
    reasons = mine["eligibility"]["eligibility_reasons"]
    assert {c["condition"]: c["met"] for c in reasons["conditions"]} == {"ranked": True, "deciles": True,
                                                                         "any_of": False}
    assert "any_of" in reasons["reason"]
    assert api.get("/api/families/10/eligibility/bansos?purpose=eligibility",
                   headers=ministry.headers).status_code == 404
    both = api.post("/api/eligibility?purpose=eligibility", json={"programme": "pkh"}, headers=ministry.headers)
    assert both.status_code == 400


def test_region_summary_suppressed_and_scoped(data_app: FastAPI, api: TestClient) -> None:
    op = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    r = api.get("/api/regions/summary?purpose=statistics&region=32.04", headers=op.headers).json()
    assert (r["region"], r["level"], r["threshold"]) == ("32.04", "regency", 10)
    s = r["summary"]
    # six persons in three families: every count from 1 to 9 is hidden, zeros are shown
    assert s["counts"]["persons"] == {"value": None, "shown": "<10"}
    assert s["poverty"]["extreme_families"] == {"value": 0, "shown": "0"}
    assert "persons" in r["suppressed"] and "poor_families" in r["suppressed"]
    assert all(d["families"]["value"] in (None, 0) for d in s["deciles"])
    assert api.get("/api/regions/summary?purpose=statistics&region=33", headers=op.headers).status_code == 403
    assert api.get("/api/regions/summary?purpose=statistics", headers=op.headers).status_code == 403  # national
    national = issue(data_app, "bps", Grant("client", "", frozenset({"statistics"})))
    whole = api.get("/api/regions/summary?purpose=statistics", headers=national.headers).json()
    assert whole["level"] == "national" and whole["summary"]["counts"]["families"]["shown"] == "<10"
    assert [e["records"] for e in _entries(data_app, "region.summary")][-1] == ["region:national"]


def test_releases_and_manifest(data_app: FastAPI, api: TestClient) -> None:
    op = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    listing = api.get("/api/releases", headers=op.headers).json()
    assert listing["served"] == "R0001"
    assert [(e["release_id"], e["current"], e["served"], e["indexed"]) for e in listing["releases"]] == [
        ("R0001", True, True, True), ("R0002", False, False, True)]
    manifest = api.get("/api/releases/R0002", headers=op.headers).json()
    assert manifest["manifest"]["previous"] == "R0001"
    assert api.get("/api/releases/R0009", headers=op.headers).status_code == 404
    citizen = issue(data_app, "warga", Grant("citizen"), family_id=10)
    assert api.get("/api/releases", headers=citizen.headers).status_code == 403


def test_change_feed_within_the_region(data_app: FastAPI, api: TestClient) -> None:
    op = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    feed = api.get("/api/changes?purpose=ground_check&to_release=R0002", headers=op.headers).json()
    assert (feed["from_release"], feed["to_release"], feed["region"]) == ("R0001", "R0002", "32.04")
    got = {(c["entity"], c["id"], c["change"]) for c in feed["changes"]}
    assert ("family", 10, "update") in got and ("person", 5, "update") in got and ("family", 12, "delete") in got
    assert not any(c["id"] in (7, 8, 13) for c in feed["changes"])  # JOKO's merge happened in 33.01
    assert all(c["region_code"].startswith("32.04.") for c in feed["changes"])
    ministry = issue(data_app, "bpjs", Grant("client", "", frozenset({"targeting"})))
    national = api.get("/api/changes?purpose=targeting&to_release=R0002", headers=ministry.headers).json()
    assert ("person", 8, "link") in {(c["entity"], c["id"], c["change"]) for c in national["changes"]}
    assert api.get("/api/changes?purpose=ground_check&to_release=R0002&region=33.01",
                   headers=op.headers).status_code == 403
    outcomes = [(e["outcome"], e["purpose"]) for e in _entries(data_app, "changes.read")]
    assert outcomes == [("ok", "ground_check"), ("ok", "targeting"), ("denied", "ground_check")]
    assert "person:8" in _entries(data_app, "changes.read")[1]["records"]


def test_no_token_no_purpose_no_data(data_app: FastAPI, api: TestClient) -> None:
    assert api.get("/api/families/10?purpose=ground_check").status_code == 401
    op = issue(data_app, "ani", Grant("regency_operator", "32.04"))
    assert api.get("/api/families/10", headers=op.headers).status_code == 422
    assert api.post("/api/persons/by-nik?purpose=ground_check", json={"nik": "3204"},
                    headers=op.headers).status_code == 422
    wrong = api.get("/api/families/10?purpose=targeting", headers=op.headers)
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
