"""The data endpoints on a release made by `dtsen build` (a synthetic regency): the explanation of
a rank over HTTP is the serving layer's (`dtsen explain family` with the release's model), and a
family's answer is what the release holds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.security.principal import Grant
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import index_release
from dtsen.serve.welfare import explain_rank
from tests.api.data.conftest import issue
from tests.conftest import build_on_duckdb, regency_project
from tests.store.fixtures import FAST_ARGON2


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = regency_project(tmp_path_factory.mktemp("real-http") / "project", 400, seed=5)
    build_on_duckdb(project)
    index_release(load_settings(project))
    return project


@pytest.fixture
def real(built: Path, tmp_path: Path, store_url: str) -> Iterator[tuple[TestClient, object]]:
    project = tmp_path / "project"
    shutil.copytree(built, project)
    text = (project / "dtsen.toml").read_text(encoding="utf-8")
    (project / "dtsen.toml").write_text(text + f'\n[store]\nurl = "{store_url}"\n\n[security]\n{FAST_ARGON2}',
                                        encoding="utf-8")
    app = create_app(load_settings(project))
    with TestClient(app) as api:
        yield api, app
    app.state.security.close()


def test_explanation_and_family_over_http(real: tuple[TestClient, object]) -> None:
    api, app = real
    steward = issue(app, "stew", Grant("steward"))  # type: ignore[arg-type]
    settings = app.state.security.settings  # type: ignore[attr-defined]
    release = settings.path(settings.release.dir) / "R0001"
    families = [f for f in read_parquet_arrow(release / "families.parquet").to_pylist() if f["decile"] is not None]
    handle = ReleaseHandle(settings.path(settings.serving.dir) / "R0001", release)
    try:
        for f in families[:2]:
            fid = f["family_id"]
            got = api.get(f"/api/families/{fid}/explanation?purpose=data_quality", headers=steward.headers).json()
            want = explain_rank(handle, fid)
            e = got["explanation"]
            assert (got["release_id"], e["family_id"], e["decile"], e["model_id"]) == (
                "R0001", fid, want.decile, want.model_id)
            assert e["explanation"]["base"] == pytest.approx(want.base)
            assert [(c["predictor"], c["contribution"]) for c in e["explanation"]["contributions"]] == [
                (c.predictor, pytest.approx(c.contribution)) for c in want.contributions]
            family = api.get(f"/api/families/{fid}?purpose=data_quality", headers=steward.headers).json()["family"]
            assert (family["kk"], family["decile"], family["region_code"]) == (f["kk"], f["decile"], f["region_code"])
    finally:
        handle.close()
