"""The service over the two hand-written releases of tests/serve (R0001 current, R0002 next),
on each store (SQLite and PostgreSQL), with a principal of every role.

The fake releases (tests/serve/fakes.py) hold families 10 and 12 in 32.04.01, 11 in 32.04.02
(all in regency 32.04, province 32) and family 13 in 33.01 (another province): every region-bound
role is given a region holding family 10 ("inside") and not family 13 ("outside").
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import Settings, load_settings
from dtsen.security.principal import Grant
from dtsen.serve.index import build_serving_index
from dtsen.store.tables import clients, users
from tests.api.conftest import security_of
from tests.serve.fakes import write_project
from tests.store.fixtures import FAST_ARGON2

PROGRAMMES = """
[programmes.pkh]
deciles = [1, 4]
any_of = ["children", "elderly", "disabled"]

[programmes.sembako]
deciles = [1, 5]
"""


def build_fake_releases(root: Path) -> Path:
    """The fake project's releases and serving indexes at `root` (R0001 current)."""
    write_project(root)
    for rid in ("R0001", "R0002"):
        build_serving_index(root / "releases" / rid, root / "serving" / rid)
    return root


@pytest.fixture(scope="session")
def fake_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake releases, built once per session."""
    return build_fake_releases(tmp_path_factory.mktemp("data") / "proj")


def data_project(root: Path, fake: Path, store_url: str, extra: str = "") -> Settings:
    """A project at `root` with a copy of the fake releases and indexes, on `store_url`."""
    shutil.copytree(fake / "releases", root / "releases", symlinks=False)
    shutil.copytree(fake / "serving", root / "serving", symlinks=False)
    text = (f'[project]\nname = "uji-data"\n\n[store]\nurl = "{store_url}"\n\n[security]\n{FAST_ARGON2}\n'
            f'[api]\nrate_per_minute = 100000\nrate_burst = 100000\n{extra}\n{PROGRAMMES}')
    (root / "dtsen.toml").write_text(text, encoding="utf-8")
    return load_settings(root)


@pytest.fixture
def data_settings(tmp_path: Path, store_url: str, fake_releases: Path) -> Settings:
    return data_project(tmp_path / "project", fake_releases, store_url)


@pytest.fixture
def data_app(data_settings: Settings) -> Iterator[FastAPI]:
    application = create_app(data_settings)
    yield application
    application.state.security.close()


@pytest.fixture
def api(data_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(data_app, raise_server_exceptions=False) as c:
        yield c


@dataclass(frozen=True)
class Caller:
    """A principal of one role: the token and the grant it was given."""

    name: str
    role: str
    grant: Grant
    token: str
    family_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def issue(app: FastAPI, name: str, grant: Grant, family_id: int | None = None, display: str | None = None) -> Caller:
    """A principal with `grant` and a token for it, made in the store directly (the login flows
    have tests of their own; here every role needs a token cheaply)."""
    sec = security_of(app)
    if grant.role == "citizen":
        assert family_id is not None
        issued = sec.auth.citizen_session(family_id, "test")
    elif sec.policy.table.roles[grant.role].principal == "client":
        sec.accounts.add_client(name, display or name, [grant], actor="cli:test")
        with sec.store.writing() as conn:
            cid = conn.execute(sa.select(clients.c.id).where(clients.c.client_id == name)).scalar_one()
            issued = sec.tokens.issue(conn, "client", f"client:{name}", 60, "test", client_id=cid)
    else:
        sec.accounts.add_user(name, name, "kata-sandi-yang-panjang", [grant], actor="cli:test")
        with sec.store.writing() as conn:
            uid = conn.execute(sa.select(users.c.id).where(users.c.username == name)).scalar_one()
            issued = sec.tokens.issue(conn, "session", f"user:{name}", 60, "test", user_id=uid)
    return Caller(name, grant.role, grant, issued.token, family_id)
