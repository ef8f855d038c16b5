"""Logins and tokens on SQLite and PostgreSQL: password and TOTP, replay, lockout and its end,
expiry and revocation, forged tokens, citizens' sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyotp
import pytest

from dtsen.config import Settings
from dtsen.security import totp
from dtsen.security.context import Security
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.security.principal import Grant
from dtsen.security.tokens import Claims, TokenSigner

PASSWORD = "kata-sandi-yang-panjang"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 7, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(settings: Settings, clock: Clock) -> Iterator[Security]:
    """The security bundle on a clock the test moves."""
    sec = Security.open(settings, clock=clock)
    yield sec
    sec.close()


def _user(sec: Security, name: str = "ani") -> str:
    return sec.accounts.add_user(name, "Ani", PASSWORD, [Grant("regency_operator", "32.04")],
                                 actor="cli:root").totp_secret


def test_password_and_totp_give_a_session(timed: Security, clock: Clock) -> None:
    seed = _user(timed)
    token = timed.auth.login("ANI", PASSWORD, totp.code_at(seed, clock.now), "10.0.0.1")
    assert token.kind == "session" and token.expires_in == 480 * 60
    principal = timed.auth.principal(token.token)
    assert (principal.kind, principal.name, principal.ref) == ("user", "ani", "user:ani")
    assert principal.grants == (Grant("regency_operator", "32.04"),)


def test_a_totp_code_works_once_and_only_near_its_time(timed: Security, clock: Clock) -> None:
    seed = _user(timed)
    code = totp.code_at(seed, clock.now)
    timed.auth.login("ani", PASSWORD, code, "10.0.0.1")
    with pytest.raises(AuthenticationError, match="wrong username, password or TOTP code"):
        timed.auth.login("ani", PASSWORD, code, "10.0.0.1")  # replayed
    old = totp.code_at(seed, clock.now - dt.timedelta(minutes=5))
    clock.advance(seconds=60)
    with pytest.raises(AuthenticationError):
        timed.auth.login("ani", PASSWORD, old, "10.0.0.1")
    with pytest.raises(AuthenticationError):
        timed.auth.login("ani", PASSWORD, "12345x", "10.0.0.1")
    timed.auth.login("ani", PASSWORD, totp.code_at(seed, clock.now), "10.0.0.1")
    with timed.store.reading() as conn:
        reasons = [e["detail"].get("reason") for e in timed.audit.entries(conn) if e["action"] == "auth.login"]
    assert reasons == [None, "replayed", "bad_totp", "bad_totp", None]


def test_failed_logins_lock_the_name_out_until_the_lockout_ends(timed: Security, clock: Clock) -> None:
    seed = _user(timed)
    for _ in range(5):
        with pytest.raises(AuthenticationError) as err:
            timed.auth.login("ani", "salah-salah-salah", totp.code_at(seed, clock.now), "10.0.0.1")
        assert not isinstance(err.value, LockedOutError)
        clock.advance(seconds=10)
    with pytest.raises(LockedOutError) as locked:
        timed.auth.login("ani", PASSWORD, totp.code_at(seed, clock.now), "10.0.0.1")  # even the right password
    assert 14 * 60 < locked.value.retry_after <= 15 * 60
    clock.advance(minutes=15)
    token = timed.auth.login("ani", PASSWORD, totp.code_at(seed, clock.now), "10.0.0.1")
    assert timed.auth.principal(token.token).name == "ani"


def test_unknown_names_lock_out_the_same_way(timed: Security, clock: Clock) -> None:
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="wrong username"):
            timed.auth.login("siapa", "apa-saja-apa-saja", "123456", "10.0.0.9")
    with pytest.raises(LockedOutError):
        timed.auth.login("siapa", "apa-saja-apa-saja", "123456", "10.0.0.9")


def test_one_address_failing_for_many_names_is_refused(settings: Settings, clock: Clock) -> None:
    settings.security.max_failed_per_source = 3
    sec = Security.open(settings, clock=clock)
    try:
        seed = _user(sec)
        for name in ("a1a", "b2b", "c3c"):
            with pytest.raises(AuthenticationError):
                sec.auth.login(name, "apa-saja-apa-saja", "123456", "10.9.9.9")
        with pytest.raises(LockedOutError):
            sec.auth.login("ani", PASSWORD, totp.code_at(seed, clock.now), "10.9.9.9")
        sec.auth.login("ani", PASSWORD, totp.code_at(seed, clock.now), "10.0.0.1")  # another address is fine
    finally:
        sec.close()


def test_a_reset_clears_the_lockout(timed: Security, clock: Clock) -> None:
    _user(timed)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            timed.auth.login("ani", "salah-salah-salah", "000000", "10.0.0.1")
    new = timed.accounts.reset_user("ani", "sandi-baru-yang-panjang", actor="cli:root")
    clock.advance(seconds=1)
    timed.auth.login("ani", "sandi-baru-yang-panjang", totp.code_at(new.totp_secret, clock.now), "10.0.0.1")


def test_tokens_expire(timed: Security, clock: Clock) -> None:
    secret = timed.accounts.add_client("bpjs", "BPJS", [Grant("client", "", frozenset({"eligibility"}))],
                                       actor="cli:root").secret
    token = timed.auth.client_token("bpjs", secret, "10.0.0.2")
    assert token.expires_in == 15 * 60
    clock.advance(minutes=14)
    assert timed.auth.principal(token.token).name == "bpjs"
    clock.advance(minutes=2)
    with pytest.raises(AuthenticationError, match="expired"):
        timed.auth.principal(token.token)


def test_forged_and_foreign_tokens_are_refused(security: Security) -> None:
    secret = security.accounts.add_client("bpjs", "BPJS", [Grant("client", "", frozenset({"eligibility"}))],
                                          actor="cli:root").secret
    token = security.auth.client_token("bpjs", secret, "10.0.0.2").token
    head, body, sig = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{head}.{flipped}.{sig}", f"{head}.{body}.{sig[::-1]}", "dt1.abc", "Bearer", ""):
        with pytest.raises(AuthenticationError):
            security.auth.principal(bad)
    claims = security.tokens.signer.read(token)
    foreign = TokenSigner(b"k" * 32).sign(claims)  # right shape, other key
    with pytest.raises(AuthenticationError, match="signature"):
        security.auth.principal(foreign)
    unknown = security.tokens.signer.sign(Claims("0" * 32, "client", "client:bpjs", claims.iat, claims.exp))
    with pytest.raises(AuthenticationError, match="not known"):
        security.auth.principal(unknown)


def test_logout_revokes_the_session(security: Security) -> None:
    seed = _user(security)
    token = security.auth.login("ani", PASSWORD, pyotp.TOTP(seed).now(), "10.0.0.1")
    principal = security.auth.principal(token.token)
    security.auth.logout(principal)
    with pytest.raises(AuthenticationError, match="revoked"):
        security.auth.principal(token.token)


def test_a_citizen_session_is_bound_to_one_family(security: Security) -> None:
    token = security.auth.citizen_session(45, "10.0.0.3")
    principal = security.auth.principal(token.token)
    assert (principal.kind, principal.family_id, principal.ref) == ("citizen", 45, "citizen:family:45")
    assert principal.grants == (Grant("citizen"),)


def test_names_that_cannot_be_accounts_never_reach_the_database(security: Security) -> None:
    """A NUL byte or other odd text as a name is a wrong login, not a database error."""
    for name in ("ani\x00", "a' OR 1=1 --", "x" * 300, "  "):
        with pytest.raises(AuthenticationError, match="wrong username"):
            security.auth.login(name, PASSWORD, "123456", "10.0.0.1")
        with pytest.raises(AuthenticationError, match="wrong client_id"):
            security.auth.client_token(name, "rahasia", "10.0.0.1")
