"""The application shell through the real app: one error shape for 404, 405, 422 and 500 (no
traceback, no personal data), security headers, CORS closed by default, body and rate limits,
logs without identifiers, /health, the OpenAPI description and the docs, the factory's refusals."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

import dtsen.api.app as app_module
from dtsen.api.app import allow_larger_bodies, create_app
from dtsen.config import Settings
from dtsen.security.errors import PolicyError
from dtsen.security.principal import Grant
from dtsen.store.connection import Store, StoreNotMigratedError
from dtsen.store.migrate import head_revision
from dtsen.store.tables import assignments, users
from tests.api.conftest import bearer, client_token
from tests.store.fixtures import service_project

NIK = "3204055203850002"
ERROR_KEYS = {"error", "error_description", "pesan", "status", "request_id", "details"}


def _shape(response: object, status: int, code: str) -> dict:
    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == status, body  # type: ignore[attr-defined]
    assert set(body) == ERROR_KEYS and body["error"] == code and body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]  # type: ignore[attr-defined]
    return body


def test_404_405_and_422_share_the_shape_and_echo_nothing(client: TestClient) -> None:
    not_found = client.get(f"/api/persons/{NIK}?nik={NIK}")
    _shape(not_found, 404, "not_found")
    assert NIK not in not_found.text
    not_allowed = client.delete("/auth/me")
    _shape(not_allowed, 405, "method_not_allowed")
    assert not_allowed.headers["allow"] == "GET"
    invalid = client.post("/auth/login", json={"username": "ani", "password": NIK, "totp": NIK})
    body = _shape(invalid, 422, "validation_error")
    assert body["details"] == [{"loc": ["body", "totp"], "msg": "String should have at most 8 characters",
                                "type": "string_too_long"}]
    assert NIK not in invalid.text
    not_json = client.post("/auth/login", content=b"{nik: 3204055203850002", headers={"content-type": "application/json"})
    _shape(not_json, 422, "validation_error")
    assert NIK not in not_json.text


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError(f"cannot read family of NIK {NIK}")

    return app


def test_an_unexpected_exception_is_a_500_without_traceback_or_personal_data(
        failing_app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dtsen"), TestClient(failing_app, raise_server_exceptions=False) as c:
        response = c.get("/test/boom")
    body = _shape(response, 500, "internal_error")
    assert body["error_description"] == "Internal error"
    assert NIK not in response.text and "Traceback" not in response.text and "RuntimeError" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "unhandled RuntimeError on GET /test/boom" in caplog.text
    assert NIK not in caplog.text


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/health"), client.get("/nowhere"), client.get("/auth/me")):
        h = response.headers
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert h["referrer-policy"] == "no-referrer" and h["cache-control"] == "no-store"
        assert h["strict-transport-security"].startswith("max-age=")
        assert len(h["x-request-id"]) == 32


def test_cors_is_closed_by_default(client: TestClient) -> None:
    preflight = client.options("/auth/me", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


@pytest.fixture
def tight_settings(tmp_path: Path, store_url: str) -> Settings:
    return service_project(tmp_path / "tight", store_url,
                           api='cors_origins = ["https://dashboard.example"]\nmax_body_bytes = 1024\n'
                               "rate_per_minute = 1\nrate_burst = 3\n")


@pytest.fixture
def tight(tight_settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    application = create_app(tight_settings)
    with TestClient(application, raise_server_exceptions=False) as c:
        yield application, c
    application.state.security.close()


def test_cors_opens_only_to_configured_origins(tight: tuple[FastAPI, TestClient]) -> None:
    _, c = tight
    ok = c.options("/auth/me", headers={"Origin": "https://dashboard.example", "Access-Control-Request-Method": "GET"})
    assert ok.headers["access-control-allow-origin"] == "https://dashboard.example"
    other = c.options("/auth/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in other.headers


def test_bodies_above_the_limit_are_413(tight: tuple[FastAPI, TestClient]) -> None:
    application, c = tight
    big = {"username": "ani", "password": "x" * 1000, "totp": "123456"}
    _shape(c.post("/auth/login", json=big), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b'{"username": "ani", "password": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'", "totp": "123456"}'

    streamed = c.post("/auth/login", content=chunks(), headers={"content-type": "application/json"})
    _shape(streamed, 413, "payload_too_large")
    allow_larger_bodies(application, "/auth/login", 10_000)
    assert c.post("/auth/login", json=big).status_code == 401


def test_rate_limits_apply_per_client(tight: tuple[FastAPI, TestClient]) -> None:
    application, c = tight
    token = client_token(application, c, "bpjs", Grant("client", "", frozenset({"eligibility"})))
    assert [c.get("/auth/me", headers=bearer(token)).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = c.get("/auth/me", headers=bearer(token))
    _shape(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # the address without a token has its own bucket (the token request above took one of it)
    assert [c.get("/nowhere").status_code for _ in range(3)] == [404, 404, 429]
    assert all(c.get("/health").status_code == 200 for _ in range(5))  # health checks are not limited


def test_the_access_log_names_routes_never_paths(app: FastAPI, client: TestClient,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    token = client_token(app, client, "bpjs", Grant("client", "", frozenset({"eligibility"})))
    with caplog.at_level(logging.INFO, logger="dtsen.api.access"):
        client.get(f"/api/persons/{NIK}?nik={NIK}", headers=bearer(token))
        client.get(f"/auth/me?nik={NIK}", headers=bearer(token))
    lines = [r.getMessage() for r in caplog.records if r.name == "dtsen.api.access"]
    assert lines[0].startswith("GET - 404 ") and "client:bpjs" not in lines[0]
    assert lines[1].startswith("GET /auth/me 200 ") and "client:bpjs rid=" in lines[1]
    assert NIK not in caplog.text and "3204" not in caplog.text


def test_health_reports_the_store(app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    ok = client.get("/health")
    assert ok.status_code == 200
    body = ok.json()
    assert body["status"] == "ok" and body["store"]["revision"] == body["store"]["expected_revision"] == head_revision()
    assert body["store"]["reachable"] is True and body["store"]["dialect"] in ("sqlite", "postgresql")
    monkeypatch.setattr(app.state.security.store, "ping", lambda: False)
    down = client.get("/health")
    assert down.status_code == 503 and down.json()["status"] == "unavailable"
    assert down.json()["store"]["reachable"] is False


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/auth/token", "/auth/login", "/auth/logout", "/auth/me", "/health"} <= set(spec["paths"])
    assert "ErrorBody" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_the_factory_refuses_an_unmigrated_store(tmp_path: Path, empty_store_url: str) -> None:
    settings = service_project(tmp_path / "p", empty_store_url)
    with pytest.raises(StoreNotMigratedError, match="dtsen store upgrade"):
        create_app(settings)


def test_the_factory_refuses_grants_of_roles_the_policy_does_not_know(settings: Settings, store_url: str) -> None:
    app = create_app(settings)
    app.state.security.accounts.add_user("ani", "Ani", "kata-sandi-yang-panjang", [Grant("auditor")], actor="t")
    app.state.security.close()
    store = Store.open(store_url)
    with store.writing() as conn:
        conn.execute(sa.update(assignments).where(assignments.c.user_id == sa.select(users.c.id).scalar_subquery())
                     .values(role="ghost"))
    store.dispose()
    with pytest.raises(PolicyError, match="ghost"):
        create_app(settings)


def test_nothing_is_built_at_import_time() -> None:
    assert not any(isinstance(v, FastAPI) for v in vars(app_module).values())
