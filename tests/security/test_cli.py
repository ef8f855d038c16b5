"""`dtsen users`, `dtsen clients` and `dtsen audit verify` through the command line, on both
stores: secrets printed once, accounts listed, the chain verified and its damage located."""

from __future__ import annotations

import re

import pyotp
import sqlalchemy as sa
from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import Settings
from dtsen.security.context import Security
from dtsen.store.connection import Store
from dtsen.store.tables import audit_log

runner = CliRunner()
PASSWORD = "kata-sandi-yang-panjang"


def _run(settings: Settings, *args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, [*args, "--project", str(settings.project.root)], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_add_list_disable_reset(settings: Settings) -> None:
    out = _run(settings, "users", "add", "ani", "--name", "Ani Lestari", "--role", "regency_operator",
               "--region", "32.04", "--password-stdin", stdin=PASSWORD + "\n")
    seed = re.search(r"TOTP secret: (\w+)", out)
    assert seed and "otpauth://totp/DTSEN:ani" in out and "not shown again" in out
    sec = Security.open(settings)
    try:
        token = sec.auth.login("ani", PASSWORD, pyotp.TOTP(seed.group(1)).now(), "cli-test")
        assert sec.auth.principal(token.token).grants[0].label() == "regency_operator@32.04"
    finally:
        sec.close()
    listing = _run(settings, "users", "list")
    assert "ani" in listing and "regency_operator@32.04" in listing and "active" in listing
    assert "1 session(s) revoked" in _run(settings, "users", "disable", "ani")
    assert "disabled" in _run(settings, "users", "list")
    reset = _run(settings, "users", "reset", "ani", "--password-stdin", stdin="sandi-baru-yang-panjang\n")
    new_seed = re.search(r"TOTP secret: (\w+)", reset)
    assert new_seed and new_seed.group(1) != seed.group(1)
    bad = runner.invoke(app, ["users", "add", "budi", "--name", "Budi", "--role", "regency_operator", "--region",
                              "32", "--password-stdin", "--project", str(settings.project.root)], input=PASSWORD)
    assert bad.exit_code == 2 and "not at province level" in bad.output


def test_clients_add_rotate_revoke(settings: Settings) -> None:
    out = _run(settings, "clients", "add", "kemensos-pkh", "--name", "Kemensos PKH", "--purpose", "eligibility",
               "--purpose", "targeting", "--programme", "pkh")
    secret = re.search(r"client_secret: (\S+)", out)
    assert secret and "client_id:     kemensos-pkh" in out
    listing = _run(settings, "clients", "list")
    assert "kemensos-pkh" in listing and "purposes eligibility,targeting" in listing and "programmes pkh" in listing
    assert secret.group(1) not in listing
    rotated = re.search(r"client_secret: (\S+)", _run(settings, "clients", "rotate", "kemensos-pkh"))
    assert rotated and rotated.group(1) != secret.group(1)
    assert "revoked" in _run(settings, "clients", "revoke", "kemensos-pkh")
    assert "revoked" in _run(settings, "clients", "list")


def test_audit_verify_says_intact_or_where_it_is_broken(settings: Settings, store_url: str) -> None:
    for i in range(3):
        _run(settings, "clients", "add", f"klien-{i}", "--purpose", "statistics")
    assert "entries 1 to 3" in (out := _run(settings, "audit", "verify")) and "intact" in out
    store = Store.open(store_url)
    with store.writing() as conn:  # an administrator edits entry 2 behind the triggers' back
        if store.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 2).values(actor="cli:someone-else"))
    store.dispose()
    result = runner.invoke(app, ["audit", "verify", "--project", str(settings.project.root)])
    assert result.exit_code == 1
    assert "entry 2: its content does not match its hash" in " ".join(result.output.split())
