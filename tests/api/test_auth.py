"""The authentication endpoints through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.security.principal import Grant
from tests.api.conftest import PASSWORD, bearer, client_token, security_of, user_token

PKH = Grant("client", "", frozenset({"eligibility", "targeting"}), frozenset({"pkh"}))
ERROR_KEYS = {"error", "error_description", "pesan", "status", "request_id", "details"}


def test_client_credentials_give_a_token_that_names_its_purposes(app: FastAPI, client: TestClient) -> None:
    token = client_token(app, client, "kemensos-pkh", PKH)
    me = client.get("/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {"kind": "client", "name": "kemensos-pkh", "family_id": None,
                         "purposes": ["eligibility", "targeting"],
                         "grants": [{"role": "client", "region_prefix": "", "purposes": ["eligibility", "targeting"],
                                     "programmes": ["pkh"]}]}


def test_client_credentials_in_http_basic(app: FastAPI, client: TestClient) -> None:
    secret = security_of(app).accounts.add_client("bpjs", "BPJS", [PKH], actor="cli:test").secret
    basic = base64.b64encode(f"bpjs:{secret}".encode()).decode()
    ok = client.post("/auth/token", data={"grant_type": "client_credentials"},
                     headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer" and ok.json()["scope"] == "eligibility targeting"
    assert ok.headers["cache-control"] == "no-store"
    wrong = base64.b64encode(b"bpjs:salah").decode()
    bad = client.post("/auth/token", data={"grant_type": "client_credentials"},
                      headers={"Authorization": f"Basic {wrong}"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert bad.headers["www-authenticate"].startswith("Basic")
    both = client.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "bpjs",
                                            "client_secret": secret}, headers={"Authorization": f"Basic {basic}"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_token_errors_are_oauth2_errors_in_the_one_shape(app: FastAPI, client: TestClient) -> None:
    secret = security_of(app).accounts.add_client("bpjs", "BPJS", [PKH], actor="cli:test").secret
    cases = [
        ({"grant_type": "client_credentials", "client_id": "bpjs", "client_secret": "salah"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "siapa", "client_secret": secret}, 401, "invalid_client"),
        ({"grant_type": "password", "client_id": "bpjs", "client_secret": secret}, 400, "unsupported_grant_type"),
        ({"client_id": "bpjs", "client_secret": secret}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "bpjs"}, 400, "invalid_request"),
    ]
    for form, status, code in cases:
        response = client.post("/auth/token", data=form)
        assert (response.status_code, response.json()["error"]) == (status, code), form
        assert set(response.json()) == ERROR_KEYS
        assert secret not in response.text


def test_people_log_in_with_password_and_totp(app: FastAPI, client: TestClient) -> None:
    token = user_token(app, client, "ani", Grant("regency_operator", "32.04"))
    me = client.get("/auth/me", headers=bearer(token)).json()
    assert me["kind"] == "user" and me["grants"][0]["region_prefix"] == "32.04"
    assert me["purposes"] == ["case_work", "eligibility", "ground_check", "statistics"]


def test_wrong_logins_are_401_then_429_with_retry_after(app: FastAPI, client: TestClient) -> None:
    seed = security_of(app).accounts.add_user("budi", "Budi", PASSWORD, [Grant("auditor")],
                                              actor="cli:test").totp_secret
    for _ in range(5):
        wrong = client.post("/auth/login", json={"username": "budi", "password": "salah-salah-salah",
                                                 "totp": pyotp.TOTP(seed).now()})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_login"
        assert "salah-salah-salah" not in wrong.text
    locked = client.post("/auth/login", json={"username": "budi", "password": PASSWORD,
                                              "totp": pyotp.TOTP(seed).now()})
    assert locked.status_code == 429 and locked.json()["error"] == "locked_out"
    assert 0 < int(locked.headers["retry-after"]) <= 900


def test_no_token_a_bad_token_and_a_revoked_one_are_401(app: FastAPI, client: TestClient) -> None:
    missing = client.get("/auth/me")
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/auth/me", headers=bearer("dt1.bukan.token")).status_code == 401
    token = client_token(app, client, "kemensos-pkh", PKH)
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    security_of(app).accounts.revoke_client("kemensos-pkh", actor="cli:test")
    revoked = client.get("/auth/me", headers=bearer(token))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error_description"]


def test_logout_ends_the_session(app: FastAPI, client: TestClient) -> None:
    token = user_token(app, client, "ani", Grant("auditor"))
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/auth/me", headers=bearer(token)).status_code == 401
