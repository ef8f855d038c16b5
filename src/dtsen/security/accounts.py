"""Accounts: people (users) and machine clients of ministries and agencies, and their role grants.

Every change is written together with its audit entry in one transaction. Secrets are shown once
and stored only in a form that cannot give them back: passwords as argon2id hashes, client
secrets (256 random bits) as keyed HMAC-SHA-256, TOTP seeds sealed with AES-256-GCM (a seed
must be read back to check a code, so it is encrypted rather than hashed).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dtsen.errors import Problem
from dtsen.security import totp
from dtsen.security.audit import AuditEvent, AuditLog
from dtsen.security.clock import Clock, utcnow
from dtsen.security.errors import AccountError
from dtsen.security.keys import KeyStore
from dtsen.security.lockout import Lockout
from dtsen.security.passwords import Passwords
from dtsen.security.policy import Policy
from dtsen.security.principal import Grant
from dtsen.security.settings import SecuritySettings
from dtsen.security.tokens import Tokens
from dtsen.store.connection import Store
from dtsen.store.tables import assignments, clients, users

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
PROGRAMME = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Enrolment:
    """What a new or reset user is told once: the TOTP seed to put into an authenticator app."""

    username: str
    totp_secret: str
    totp_uri: str


@dataclass(frozen=True)
class ClientSecret:
    """A client's id and its secret, shown once."""

    client_id: str
    secret: str


@dataclass(frozen=True)
class AccountInfo:
    id: int
    name: str  # username or client_id
    full_name: str
    status: str
    grants: tuple[Grant, ...]
    created_at: dt.datetime
    last_seen_at: dt.datetime | None


def subject_of(keys: KeyStore, kind: str, name: str) -> str:
    """The login-attempt subject of an account name or client id (a keyed hash, not the name)."""
    return keys.keyed_hash("login-subject", f"{kind}:{name.strip().lower()}")[:32]


def client_secret_hash(keys: KeyStore, secret: str) -> str:
    return keys.keyed_hash("client-secret", secret)


def grants_of(conn: sa.Connection, *, user_id: int | None = None, client_id: int | None = None) -> tuple[Grant, ...]:
    """The live role grants of a user or a client, in the order they were given."""
    a = assignments
    holder = a.c.user_id == user_id if user_id is not None else a.c.client_id == client_id
    rows = conn.execute(sa.select(a.c.role, a.c.region_prefix, a.c.purposes, a.c.programmes)
                        .where(holder, a.c.revoked_at.is_(None)).order_by(a.c.id)).all()
    return tuple(Grant(r.role, r.region_prefix, None if r.purposes is None else frozenset(r.purposes),
                       None if r.programmes is None else frozenset(r.programmes)) for r in rows)


class Accounts:
    def __init__(self, store: Store, keys: KeyStore, policy: Policy, audit: AuditLog, tokens: Tokens,
                 settings: SecuritySettings, known_programmes: Sequence[str] = (), clock: Clock = utcnow) -> None:
        self.store = store
        self.keys = keys
        self.policy = policy
        self.audit = audit
        self.tokens = tokens
        self.settings = settings
        self.passwords = Passwords(settings)
        self.lockout = Lockout(settings, clock)
        self.known_programmes = frozenset(known_programmes)
        self.clock = clock

    # -- checks -------------------------------------------------------------------------------
    def _check_name(self, name: str, what: str) -> str:
        name = name.strip().lower()
        if not NAME.match(name):
            raise AccountError(f"{what} {name!r} tidak sah / is not valid: 3 to 64 of a-z, 0-9, '.', '_', '-', "
                               "starting with a letter or digit")
        return name

    def _check_grants(self, kind: str, grants: Sequence[Grant]) -> None:
        problems = self.policy.grant_problems(kind, grants)
        for g in grants:
            for p in sorted(g.programmes or ()):
                if not PROGRAMME.match(p):
                    problems.append(f"programme {p!r} is not a programme name (a-z, 0-9, _)")
                elif self.known_programmes and p not in self.known_programmes:
                    problems.append(f"programme {p!r} is not one of the project's programmes: "
                                    f"{', '.join(sorted(self.known_programmes))}")
        if problems:
            raise AccountError("peran tidak dapat diberikan / the roles cannot be granted", [Problem(m) for m in problems])

    def _check_password(self, password: str, username: str) -> None:
        problems = self.passwords.problems(password, username)
        if problems:
            raise AccountError("kata sandi ditolak / the password is not accepted", [Problem(m) for m in problems])

    def _grant(self, conn: sa.Connection, grants: Sequence[Grant], actor: str, *, user_id: int | None = None,
               client_id: int | None = None) -> None:
        now = self.clock()
        conn.execute(sa.insert(assignments), [
            {"user_id": user_id, "client_id": client_id, "role": g.role, "region_prefix": g.region_prefix,
             "purposes": None if g.purposes is None else sorted(g.purposes),
             "programmes": None if g.programmes is None else sorted(g.programmes),
             "granted_at": now, "granted_by": actor[:100], "revoked_at": None, "revoked_by": None}
            for g in grants])

    # -- users --------------------------------------------------------------------------------
    def add_user(self, username: str, full_name: str, password: str, grants: Sequence[Grant], actor: str,
                 source: str = "") -> Enrolment:
        """A new staff account with its grants; returns the TOTP seed to enrol (shown once)."""
        username = self._check_name(username, "nama pengguna / username")
        if not full_name.strip():
            raise AccountError("nama lengkap kosong / the full name is empty")
        self._check_grants("user", grants)
        self._check_password(password, username)
        secret = totp.new_secret()
        now = self.clock()
        pw_hash = self.passwords.hash(password)
        with self.store.writing() as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
                raise AccountError(f"nama pengguna {username!r} sudah dipakai / the username is taken")
            user_id = _inserted(conn, sa.insert(users).values(
                username=username, full_name=full_name.strip(), password_hash=pw_hash,
                totp_secret=self.keys.seal(secret.encode(), b"totp"), status="active", created_at=now,
                updated_at=now, password_changed_at=now).returning(users.c.id), f"username {username!r}")
            self._grant(conn, grants, actor, user_id=user_id)
            self.audit.append(conn, AuditEvent(actor=actor, action="account.user_add", records=(f"user:{user_id}",),
                                               source=source, detail={"grants": [g.label() for g in grants]}))
        return Enrolment(username, secret, totp.provisioning_uri(secret, username, self.settings.totp_issuer))

    def _user(self, conn: sa.Connection, username: str) -> Any:
        row = conn.execute(sa.select(users).where(users.c.username == username.strip().lower())).first()
        if row is None:
            raise AccountError(f"tidak ada pengguna {username!r} / no such user")
        return row

    def list_users(self) -> list[AccountInfo]:
        with self.store.reading() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
            return [AccountInfo(r.id, r.username, r.full_name, r.status, grants_of(conn, user_id=r.id),
                                r.created_at, r.last_login_at) for r in rows]

    def disable_user(self, username: str, actor: str, source: str = "") -> int:
        """Disable an account and revoke its sessions; the number of sessions revoked."""
        with self.store.writing() as conn:
            row = self._user(conn, username)
            conn.execute(sa.update(users).where(users.c.id == row.id).values(status="disabled",
                                                                             updated_at=self.clock()))
            revoked = self.tokens.revoke(conn, "user disabled", user_id=row.id)
            self.audit.append(conn, AuditEvent(actor=actor, action="account.user_disable",
                                               records=(f"user:{row.id}",), source=source,
                                               detail={"sessions_revoked": revoked}))
        return revoked

    def reset_user(self, username: str, password: str, actor: str, source: str = "") -> Enrolment:
        """A new password and a new TOTP seed; the account is active again, its lockout cleared
        and its sessions revoked."""
        username = username.strip().lower()
        self._check_password(password, username)
        secret = totp.new_secret()
        pw_hash = self.passwords.hash(password)
        with self.store.writing() as conn:
            row = self._user(conn, username)
            now = self.clock()
            conn.execute(sa.update(users).where(users.c.id == row.id).values(
                password_hash=pw_hash, totp_secret=self.keys.seal(secret.encode(), b"totp"), totp_last_step=None,
                status="active", updated_at=now, password_changed_at=now))
            self.tokens.revoke(conn, "user reset", user_id=row.id)
            self.lockout.record(conn, "user", subject_of(self.keys, "user", username), source or "cli", "reset",
                                user_id=row.id)
            self.audit.append(conn, AuditEvent(actor=actor, action="account.user_reset", records=(f"user:{row.id}",),
                                               source=source))
        return Enrolment(username, secret, totp.provisioning_uri(secret, username, self.settings.totp_issuer))

    # -- clients ------------------------------------------------------------------------------
    def add_client(self, client_id: str, name: str, grants: Sequence[Grant], actor: str,
                   source: str = "") -> ClientSecret:
        """A new machine client with its grants; returns its secret (shown once)."""
        client_id = self._check_name(client_id, "client id")
        self._check_grants("client", grants)
        if not grants:
            raise AccountError("a client needs a role (--purpose gives it the client role)")
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.writing() as conn:
            if conn.execute(sa.select(clients.c.id).where(clients.c.client_id == client_id)).first():
                raise AccountError(f"client id {client_id!r} sudah dipakai / is taken")
            cid = _inserted(conn, sa.insert(clients).values(
                client_id=client_id, name=name.strip() or client_id, secret_hash=client_secret_hash(self.keys, secret),
                status="active", created_at=now, updated_at=now, secret_rotated_at=now)
                .returning(clients.c.id), f"client id {client_id!r}")
            self._grant(conn, grants, actor, client_id=cid)
            self.audit.append(conn, AuditEvent(actor=actor, action="account.client_add", records=(f"client:{cid}",),
                                               source=source, detail={"grants": [g.label() for g in grants]}))
        return ClientSecret(client_id, secret)

    def _client(self, conn: sa.Connection, client_id: str) -> Any:
        row = conn.execute(sa.select(clients).where(clients.c.client_id == client_id.strip().lower())).first()
        if row is None:
            raise AccountError(f"tidak ada klien {client_id!r} / no such client")
        return row

    def list_clients(self) -> list[AccountInfo]:
        with self.store.reading() as conn:
            rows = conn.execute(sa.select(clients).order_by(clients.c.client_id)).all()
            return [AccountInfo(r.id, r.client_id, r.name, r.status, grants_of(conn, client_id=r.id), r.created_at,
                                r.last_token_at) for r in rows]

    def rotate_client(self, client_id: str, actor: str, source: str = "") -> ClientSecret:
        """A new secret for a client; the old one stops working and its tokens are revoked."""
        secret = secrets.token_urlsafe(32)
        with self.store.writing() as conn:
            row = self._client(conn, client_id)
            if row.status != "active":
                raise AccountError(f"klien {row.client_id!r} sudah dicabut / the client is revoked; add a new one")
            now = self.clock()
            conn.execute(sa.update(clients).where(clients.c.id == row.id).values(
                secret_hash=client_secret_hash(self.keys, secret), secret_rotated_at=now, updated_at=now))
            revoked = self.tokens.revoke(conn, "secret rotated", client_id=row.id)
            self.audit.append(conn, AuditEvent(actor=actor, action="account.client_rotate",
                                               records=(f"client:{row.id}",), source=source,
                                               detail={"tokens_revoked": revoked}))
        return ClientSecret(row.client_id, secret)

    def revoke_client(self, client_id: str, actor: str, source: str = "") -> int:
        """Revoke a client for good: its secret and every token stop working."""
        with self.store.writing() as conn:
            row = self._client(conn, client_id)
            conn.execute(sa.update(clients).where(clients.c.id == row.id).values(status="revoked",
                                                                                 updated_at=self.clock()))
            revoked = self.tokens.revoke(conn, "client revoked", client_id=row.id)
            self.audit.append(conn, AuditEvent(actor=actor, action="account.client_revoke",
                                               records=(f"client:{row.id}",), source=source,
                                               detail={"tokens_revoked": revoked}))
        return revoked



def _inserted(conn: sa.Connection, statement: Any, what: str) -> int:
    """The id of the inserted row; a name taken by a concurrent insert is an AccountError."""
    try:
        return int(conn.execute(statement).scalar_one())
    except sa.exc.IntegrityError:
        raise AccountError(f"{what} sudah dipakai / is taken") from None
