"""Accounts on SQLite and PostgreSQL: users and clients are added, listed, disabled, reset,
rotated and revoked; grants are checked; secrets are stored only hashed or sealed; every change
is in the audit chain."""

from __future__ import annotations

import pyotp
import pytest
import sqlalchemy as sa

from dtsen.security.context import Security
from dtsen.security.errors import AccountError, AuthenticationError
from dtsen.security.principal import Grant
from dtsen.store.tables import assignments, clients, users

PASSWORD = "kata-sandi-yang-panjang"
ELIGIBILITY = Grant("client", "", frozenset({"eligibility"}), frozenset({"pkh"}))


def _dump(security: Security) -> str:
    """Every value in the account tables, as text."""
    with security.store.reading() as conn:
        rows = [*conn.execute(sa.select(users)), *conn.execute(sa.select(clients))]
    return " ".join(str(v) for row in rows for v in row)


def test_users_are_added_listed_and_their_secrets_kept_only_hashed(security: Security) -> None:
    enrolment = security.accounts.add_user("Ani.Operator", "Ani Lestari", PASSWORD,
                                           [Grant("regency_operator", "32.04")], actor="cli:root")
    assert enrolment.username == "ani.operator"
    assert enrolment.totp_uri.startswith("otpauth://totp/DTSEN:ani.operator?secret=")
    [info] = security.accounts.list_users()
    assert (info.name, info.full_name, info.status) == ("ani.operator", "Ani Lestari", "active")
    assert info.grants == (Grant("regency_operator", "32.04"),)
    stored = _dump(security)
    assert PASSWORD not in stored and enrolment.totp_secret not in stored
    assert "$argon2id$" in stored


def test_grants_passwords_and_names_are_checked(security: Security) -> None:
    add = security.accounts.add_user
    with pytest.raises(AccountError) as err:
        add("budi", "Budi", PASSWORD, [Grant("regency_operator", "32")], actor="cli:root")
    assert "not at province level" in str(err.value)
    with pytest.raises(AccountError, match="at least 12 characters"):
        add("budi", "Budi", "pendek", [Grant("auditor")], actor="cli:root")
    with pytest.raises(AccountError, match="must not contain the username"):
        add("budi", "Budi", "budi-budi-budi-123", [Grant("auditor")], actor="cli:root")
    with pytest.raises(AccountError, match="not valid"):
        add("b", "Budi", PASSWORD, [Grant("auditor")], actor="cli:root")
    with pytest.raises(AccountError, match="is for a client"):
        add("budi", "Budi", PASSWORD, [Grant("client", "", frozenset({"eligibility"}))], actor="cli:root")
    add("budi", "Budi", PASSWORD, [Grant("auditor")], actor="cli:root")
    with pytest.raises(AccountError, match="taken"):
        add("BUDI", "Budi lagi", PASSWORD, [Grant("auditor")], actor="cli:root")
    assert [u.name for u in security.accounts.list_users()] == ["budi"]


def test_disable_ends_sessions_and_reset_gives_new_factors(security: Security) -> None:
    first = security.accounts.add_user("ani", "Ani", PASSWORD, [Grant("auditor")], actor="cli:root")
    session = security.auth.login("ani", PASSWORD, pyotp.TOTP(first.totp_secret).now(), "10.0.0.1")
    assert security.auth.principal(session.token).name == "ani"
    assert security.accounts.disable_user("ani", actor="cli:root") == 1
    with pytest.raises(AuthenticationError):
        security.auth.principal(session.token)
    with pytest.raises(AuthenticationError):
        security.auth.login("ani", PASSWORD, pyotp.TOTP(first.totp_secret).now(), "10.0.0.1")
    second = security.accounts.reset_user("ani", "sandi-baru-yang-panjang", actor="cli:root")
    assert second.totp_secret != first.totp_secret
    assert security.accounts.list_users()[0].status == "active"
    with pytest.raises(AuthenticationError):
        security.auth.login("ani", PASSWORD, pyotp.TOTP(second.totp_secret).now(), "10.0.0.1")
    token = security.auth.login("ani", "sandi-baru-yang-panjang", pyotp.TOTP(second.totp_secret).now(), "10.0.0.1")
    assert security.auth.principal(token.token).grants == (Grant("auditor"),)
    with pytest.raises(AccountError, match="no such user"):
        security.accounts.disable_user("nobody", actor="cli:root")


def test_clients_are_added_rotated_and_revoked(security: Security) -> None:
    secret = security.accounts.add_client("kemensos-pkh", "Kementerian Sosial, PKH", [ELIGIBILITY], actor="cli:root")
    assert secret.client_id == "kemensos-pkh" and len(secret.secret) >= 40
    assert secret.secret not in _dump(security)
    token = security.auth.client_token("kemensos-pkh", secret.secret, "10.0.0.2")
    principal = security.auth.principal(token.token)
    assert principal.kind == "client" and principal.grants == (ELIGIBILITY,)

    new = security.accounts.rotate_client("kemensos-pkh", actor="cli:root")
    assert new.secret != secret.secret
    with pytest.raises(AuthenticationError):
        security.auth.principal(token.token)
    with pytest.raises(AuthenticationError):
        security.auth.client_token("kemensos-pkh", secret.secret, "10.0.0.2")
    token = security.auth.client_token("kemensos-pkh", new.secret, "10.0.0.2")

    assert security.accounts.revoke_client("kemensos-pkh", actor="cli:root") == 1
    with pytest.raises(AuthenticationError):
        security.auth.principal(token.token)
    with pytest.raises(AuthenticationError):
        security.auth.client_token("kemensos-pkh", new.secret, "10.0.0.2")
    with pytest.raises(AccountError, match="revoked"):
        security.accounts.rotate_client("kemensos-pkh", actor="cli:root")
    [info] = security.accounts.list_clients()
    assert info.status == "revoked"


def test_client_grants_need_purposes_and_known_programmes(security: Security) -> None:
    with pytest.raises(AccountError) as err:
        security.accounts.add_client("bpjs", "BPJS", [Grant("client", "")], actor="cli:root")
    assert "named purposes" in str(err.value)
    with pytest.raises(AccountError, match="not open to role"):
        security.accounts.add_client("bpjs", "BPJS", [Grant("client", "", frozenset({"audit"}))], actor="cli:root")
    with pytest.raises(AccountError, match="not a programme name"):
        security.accounts.add_client("bpjs", "BPJS", [Grant("client", "", frozenset({"eligibility"}),
                                                            frozenset({"PKH 2025"}))], actor="cli:root")
    security.accounts.add_client("dinsos-jabar", "Dinas Sosial Jawa Barat",
                                 [Grant("client", "32", frozenset({"targeting", "statistics"}))], actor="cli:root")
    with security.store.reading() as conn:
        row = conn.execute(sa.select(assignments.c.region_prefix, assignments.c.purposes,
                                     assignments.c.programmes)).one()
    assert (row.region_prefix, row.purposes, row.programmes) == ("32", ["statistics", "targeting"], None)


def test_every_account_change_is_audited(security: Security) -> None:
    security.accounts.add_user("ani", "Ani", PASSWORD, [Grant("auditor")], actor="cli:root")
    security.accounts.disable_user("ani", actor="cli:root")
    security.accounts.reset_user("ani", "sandi-baru-yang-panjang", actor="cli:root")
    security.accounts.add_client("bpjs", "BPJS", [ELIGIBILITY], actor="cli:root")
    security.accounts.rotate_client("bpjs", actor="cli:root")
    security.accounts.revoke_client("bpjs", actor="cli:root")
    with security.store.reading() as conn:
        entries = security.audit.entries(conn)
    assert [(e["actor"], e["action"], e["records"]) for e in entries] == [
        ("cli:root", "account.user_add", ["user:1"]),
        ("cli:root", "account.user_disable", ["user:1"]),
        ("cli:root", "account.user_reset", ["user:1"]),
        ("cli:root", "account.client_add", ["client:1"]),
        ("cli:root", "account.client_rotate", ["client:1"]),
        ("cli:root", "account.client_revoke", ["client:1"]),
    ]
    assert security.audit.verify(security.store).ok
