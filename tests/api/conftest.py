"""The real application on each store (SQLite and PostgreSQL), and a test client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import Settings
from dtsen.security.context import Security
from dtsen.security.principal import Grant

PASSWORD = "kata-sandi-yang-panjang"


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.security.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def security_of(app: FastAPI) -> Security:
    sec: Security = app.state.security
    return sec


def client_token(app: FastAPI, client: TestClient, client_id: str, grant: Grant) -> str:
    """A machine client with `grant`, and a token for it through POST /auth/token."""
    secret = security_of(app).accounts.add_client(client_id, client_id, [grant], actor="cli:test").secret
    response = client.post("/auth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                "client_secret": secret})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def user_token(app: FastAPI, client: TestClient, username: str, grant: Grant) -> str:
    """A staff account with `grant`, logged in through POST /auth/login."""
    seed = security_of(app).accounts.add_user(username, username, PASSWORD, [grant], actor="cli:test").totp_secret
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD,
                                                "totp": pyotp.TOTP(seed).now()})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
