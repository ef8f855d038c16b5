"""The interface data endpoints use (`AccessDep`, `PurposeParam`, `Resource`), through a small
router mounted on the real app: decisions, field projection, 403 in the one shape, and the audit
entries of every allowed read, every denial and every read that forgot to record itself."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from dtsen.api.deps import AccessDep, PurposeParam
from dtsen.security.policy import Resource
from dtsen.security.principal import Grant
from tests.api.conftest import bearer, client_token, security_of, user_token

# A family as a data endpoint would read it from the serving index.
FAMILY = {"family_id": 45, "kk": "3204050101090001", "full_name": "SITI AMINAH", "address": "JL. MAWAR 1",
          "region_code": "32.04.05.2001", "decile": 2, "pkh": True, "eligible": True, "programme": "pkh",
          "person_id": 7}


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/test/families/{family_id}")
    def family(family_id: int, purpose: PurposeParam, access: AccessDep, record: bool = True) -> dict[str, Any]:
        row = FAMILY if family_id == 45 else {**FAMILY, "family_id": family_id, "region_code": "35.78.01.1001"}
        ref = [f"family:{family_id}"]
        decision = access.require("family.read", purpose, Resource(str(row["region_code"]), family_id),
                                  records=ref)
        if record:
            access.record("family.read", purpose, ref, decision=decision, region_code=str(row["region_code"]))
        return decision.project(row)

    @router.get("/test/changes")
    def changes(purpose: PurposeParam, access: AccessDep) -> dict[str, Any]:
        scope = access.scope("changes.read", purpose)
        access.record("changes.read", purpose, [])
        return {"prefixes": scope.region_prefixes}

    return router


@pytest.fixture
def data_app(app: FastAPI) -> FastAPI:
    app.include_router(_router())
    return app


def _entries(app: FastAPI) -> list[dict[str, Any]]:
    sec = security_of(app)
    with sec.store.reading() as conn:
        return [e for e in sec.audit.entries(conn, limit=1000) if not e["action"].startswith(("auth.", "account."))]


def test_an_allowed_read_gets_its_fields_and_an_audit_entry(data_app: FastAPI, client: TestClient) -> None:
    token = user_token(data_app, client, "ani", Grant("regency_operator", "32.04"))
    response = client.get("/test/families/45?purpose=ground_check", headers=bearer(token))
    assert response.status_code == 200
    # ground checks see names and the address, not the eligibility answer
    assert response.json() == {k: v for k, v in FAMILY.items() if k not in ("eligible", "programme")}
    [entry] = _entries(data_app)
    assert (entry["actor"], entry["role"], entry["purpose"], entry["action"], entry["outcome"]) == (
        "user:ani", "regency_operator@32.04", "ground_check", "family.read", "ok")
    assert entry["records"] == ["family:45"] and entry["region_code"] == "32.04.05.2001"
    assert entry["source"] == "testclient" and len(entry["request_id"]) == 32
    assert security_of(data_app).audit.verify(security_of(data_app).store).ok


def test_a_purpose_sees_only_its_fields(data_app: FastAPI, client: TestClient) -> None:
    token = client_token(data_app, client, "kemensos-pkh", Grant("client", "", frozenset({"eligibility"})))
    response = client.get("/test/families/45?purpose=eligibility", headers=bearer(token))
    assert response.json() == {"family_id": 45, "person_id": 7, "decile": 2, "eligible": True, "programme": "pkh"}


def test_denials_are_403_in_the_one_shape_and_audited(data_app: FastAPI, client: TestClient) -> None:
    token = user_token(data_app, client, "ani", Grant("regency_operator", "32.04"))
    outside = client.get("/test/families/46?purpose=ground_check", headers=bearer(token))
    assert outside.status_code == 403 and outside.json()["error"] == "forbidden"
    assert "outside the caller's region" in outside.json()["error_description"]
    assert "35.78" not in outside.text and "MAWAR" not in outside.text
    wrong_purpose = client.get("/test/families/45?purpose=targeting", headers=bearer(token))
    assert wrong_purpose.status_code == 403
    entries = _entries(data_app)
    assert [(e["outcome"], e["purpose"], e["records"], e["detail"]["reason"]) for e in entries] == [
        ("denied", "ground_check", ["family:46"], "outside the caller's region"),
        ("denied", "targeting", ["family:45"], "no role of this caller may do family.read for targeting"),
    ]


def test_a_malformed_purpose_is_422(data_app: FastAPI, client: TestClient) -> None:
    token = user_token(data_app, client, "ani", Grant("regency_operator", "32.04"))
    assert client.get("/test/families/45?purpose=Ground Check!", headers=bearer(token)).status_code == 422
    assert client.get("/test/families/45", headers=bearer(token)).status_code == 422


def test_a_read_that_records_nothing_is_audited_anyway(data_app: FastAPI, client: TestClient) -> None:
    token = user_token(data_app, client, "ani", Grant("regency_operator", "32.04"))
    assert client.get("/test/families/45?purpose=ground_check&record=false", headers=bearer(token)).status_code == 200
    [entry] = _entries(data_app)
    assert (entry["action"], entry["outcome"], entry["detail"]) == ("family.read", "ok", {"records": "not stated"})


def test_a_scope_gives_the_region_filters(data_app: FastAPI, client: TestClient) -> None:
    op = user_token(data_app, client, "ani", Grant("regency_operator", "32.04"))
    assert client.get("/test/changes?purpose=ground_check", headers=bearer(op)).json() == {"prefixes": ["32.04"]}
    national = client_token(data_app, client, "bpjs", Grant("client", "", frozenset({"targeting"})))
    assert client.get("/test/changes?purpose=targeting", headers=bearer(national)).json() == {"prefixes": None}
    auditor = user_token(data_app, client, "audi", Grant("auditor"))
    denied = client.get("/test/changes?purpose=ground_check", headers=bearer(auditor))
    assert denied.status_code == 403
