"""`dtsen demo-accounts`: an account of every staff role and two clients on a synthetic project,
each able to log in; refused on a project `dtsen synth` did not write."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyotp
import pytest
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import load_settings
from dtsen.security.demo import SYNTH_MARK, NotADemoProjectError, seed_demo_accounts
from tests.store.fixtures import FAST_ARGON2


def _project(root: Path, store_url: str, synthetic: bool = True) -> Path:
    (root / "truth").mkdir(parents=True)
    pq.write_table(pa.table({"region_code": ["32.04.05.2001", "32.04.05.2001", "33.01.01.2001"]}),
                   root / "truth" / "families.parquet")
    pq.write_table(pa.table({"nik": [None, "3204050108860001"]}), root / "truth" / "persons.parquet")
    header = f"# {SYNTH_MARK}: a synthetic population\n" if synthetic else "# a real registry\n"
    (root / "dtsen.toml").write_text(f'{header}[project]\nname = "demo"\n\n[store]\nurl = "{store_url}"\n\n'
                                     f"[security]\n{FAST_ARGON2}", encoding="utf-8")
    return root


def test_every_role_can_log_in(tmp_path: Path, empty_store_url: str) -> None:
    settings = load_settings(_project(tmp_path / "demo", empty_store_url))
    accounts = seed_demo_accounts(settings)  # also creates the store's tables
    roles = {a.role for a in accounts}
    app = create_app(settings)
    assert roles == set(app.state.security.policy.table.roles) - {"citizen"}
    assert {a.region for a in accounts if a.role == "village_operator"} == {"32.04.05.2001"}
    assert {a.region for a in accounts if a.role == "regency_operator"} == {"32.04"}
    with TestClient(app) as api:
        for a in accounts:
            if a.kind == "user":
                assert a.totp_secret is not None
                r = api.post("/auth/login", json={"username": a.name, "password": a.secret,
                                                  "totp": pyotp.TOTP(a.totp_secret).now()})
            else:
                r = api.post("/auth/token", data={"grant_type": "client_credentials", "client_id": a.name,
                                                  "client_secret": a.secret})
            assert r.status_code == 200, (a.name, r.text)
    app.state.security.close()
    again = seed_demo_accounts(settings)  # run twice: the same accounts, new secrets
    assert [a.name for a in again] == [a.name for a in accounts]
    assert all(x.secret != y.secret for x, y in zip(again, accounts, strict=True))


def test_refused_on_a_project_synth_did_not_write(tmp_path: Path, empty_store_url: str) -> None:
    settings = load_settings(_project(tmp_path / "real", empty_store_url, synthetic=False))
    with pytest.raises(NotADemoProjectError, match="dtsen synth"):
        seed_demo_accounts(settings)
