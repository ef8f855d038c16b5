"""Who is calling: people log in with password and TOTP, machine clients with OAuth2 client
credentials, and every later request carries the token they got, turned back into a `Principal`.

Failures say only that the credentials were wrong (never which part, never whether the account
exists); they are recorded for the lockout and in the audit chain.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import sqlalchemy as sa

from dtsen.security import totp
from dtsen.security.accounts import NAME, client_secret_hash, grants_of, subject_of
from dtsen.security.audit import AuditEvent, AuditLog
from dtsen.security.clock import Clock, utcnow
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.security.keys import KeyStore
from dtsen.security.lockout import Lockout
from dtsen.security.passwords import Passwords
from dtsen.security.principal import Grant, Principal
from dtsen.security.settings import SecuritySettings
from dtsen.security.tokens import IssuedToken, Tokens
from dtsen.store.connection import Store
from dtsen.store.tables import clients, users

WRONG_LOGIN = ("nama pengguna, kata sandi atau kode TOTP salah / "
               "wrong username, password or TOTP code")
WRONG_CLIENT = "client_id atau client_secret salah / wrong client_id or client_secret"


@dataclass
class Authenticator:
    store: Store
    keys: KeyStore
    tokens: Tokens
    audit: AuditLog
    settings: SecuritySettings
    clock: Clock = utcnow

    def __post_init__(self) -> None:
        self.passwords = Passwords(self.settings)
        self.lockout = Lockout(self.settings, self.clock)

    # -- people -------------------------------------------------------------------------------
    def login(self, username: str, password: str, code: str, source: str, request_id: str = "") -> IssuedToken:
        """A session token for a person whose password and TOTP code are right."""
        name = username.strip().lower()
        if not NAME.match(name):
            name = ""  # cannot be an account; never sent to the database (NUL bytes, odd text)
        subject = subject_of(self.keys, "user", name or username)
        with self.store.reading() as conn:
            self._locked(conn, "user", subject, source, request_id)
            row = conn.execute(sa.select(users.c.id, users.c.password_hash).where(users.c.username == name)).first()
        password_ok = self.passwords.verify(row.password_hash if row else None, password)
        issued: IssuedToken | None = None
        with self.store.writing() as conn:
            user = conn.execute(sa.select(users).where(users.c.username == name).with_for_update()).first()
            user_id = user.id if user is not None else None
            if user is None:
                outcome = "unknown"
            elif user.status != "active":
                outcome = "disabled"
            elif not password_ok:
                outcome = "bad_password"
            else:
                secret = self.keys.unseal(user.totp_secret, b"totp").decode()
                step = totp.accept(secret, code, self.clock(), user.totp_last_step)
                if step is None:
                    last = user.totp_last_step
                    replayed = last is not None and totp.accept(secret, code, self.clock(), last - 2) is not None
                    outcome = "replayed" if replayed else "bad_totp"
                else:
                    outcome = "ok"
                    conn.execute(sa.update(users).where(users.c.id == user.id).values(
                        totp_last_step=step, last_login_at=self.clock()))
                    issued = self.tokens.issue(conn, "session", f"user:{name}", self.settings.session_minutes, source,
                                               user_id=user.id)
            self.lockout.record(conn, "user", subject, source, outcome, user_id=user_id)
            self.audit.append(conn, AuditEvent(
                actor=f"user:{name}" if user is not None else f"unknown:{subject[:12]}", action="auth.login",
                outcome="ok" if issued else "failed", source=source, request_id=request_id,
                records=(f"user:{user_id}",) if user_id is not None else (),
                detail={} if issued else {"reason": outcome}))
        if issued is None:
            raise AuthenticationError(WRONG_LOGIN)
        return issued

    # -- machine clients (OAuth2 client credentials) --------------------------------------------
    def client_token(self, client_id: str, secret: str, source: str, request_id: str = "") -> IssuedToken:
        """A short-lived access token for a client whose secret is right."""
        cid = client_id.strip().lower()
        if not NAME.match(cid):
            cid = ""  # cannot be a client; never sent to the database
        subject = subject_of(self.keys, "client", cid or client_id)
        offered = client_secret_hash(self.keys, secret)
        issued: IssuedToken | None = None
        with self.store.reading() as conn:
            self._locked(conn, "client", subject, source, request_id)
        with self.store.writing() as conn:
            row = conn.execute(sa.select(clients).where(clients.c.client_id == cid)).first()
            if row is None:
                outcome = "unknown"
            elif not hmac.compare_digest(row.secret_hash, offered):
                outcome = "bad_secret"
            elif row.status != "active":
                outcome = "disabled"
            else:
                outcome = "ok"
                conn.execute(sa.update(clients).where(clients.c.id == row.id).values(last_token_at=self.clock()))
                issued = self.tokens.issue(conn, "client", f"client:{cid}", self.settings.client_token_minutes,
                                           source, client_id=row.id)
            self.lockout.record(conn, "client", subject, source, outcome, client_id=row.id if row else None)
            self.audit.append(conn, AuditEvent(
                actor=f"client:{cid}" if row is not None else f"unknown:{subject[:12]}", action="auth.token",
                outcome="ok" if issued else "failed", source=source, request_id=request_id,
                records=(f"client:{row.id}",) if row is not None else (),
                detail={} if issued else {"reason": outcome}))
        if issued is None:
            raise AuthenticationError(WRONG_CLIENT)
        return issued

    def _locked(self, conn: sa.Connection, kind: str, subject: str, source: str, request_id: str) -> None:
        try:
            self.lockout.check(conn, subject, source)
        except LockedOutError:
            with self.store.writing() as w:
                self.lockout.record(w, kind, subject, source, "locked")
                self.audit.append(w, AuditEvent(actor=f"{kind}-subject:{subject[:12]}",
                                                action="auth.login" if kind == "user" else "auth.token",
                                                outcome="denied", source=source, request_id=request_id,
                                                detail={"reason": "locked"}))
            raise

    # -- citizens -----------------------------------------------------------------------------
    def citizen_session(self, family_id: int, source: str, minutes: int = 30) -> IssuedToken:
        """A session limited to one family, for a citizen who proved who they are (the proof is
        the citizen endpoint's: NIK, KK and name matching the registry)."""
        with self.store.writing() as conn:
            return self.tokens.issue(conn, "citizen", f"citizen:family:{family_id}", minutes, source,
                                     family_id=family_id)

    # -- every request ------------------------------------------------------------------------
    def principal(self, token: str) -> Principal:
        """The principal a token stands for, with its live grants; AuthenticationError if the
        token is not valid now or its account is disabled or revoked."""
        with self.store.reading() as conn:
            claims, row = self.tokens.check(conn, token)
            if row.kind == "citizen":
                return Principal("citizen", None, "citizen", (Grant("citizen"),), family_id=row.family_id,
                                 token_id=claims.jti)
            if row.holder_status != "active":
                raise AuthenticationError("akun tidak aktif atau dicabut / the account is disabled or revoked")
            if row.kind == "session":
                return Principal("user", row.holder_id, row.holder_name, grants_of(conn, user_id=row.holder_id),
                                 token_id=claims.jti)
            return Principal("client", row.holder_id, row.holder_name, grants_of(conn, client_id=row.holder_id),
                             token_id=claims.jti)

    def logout(self, principal: Principal, source: str = "", request_id: str = "") -> None:
        """Revoke the token the principal called with."""
        if principal.token_id is None:
            return
        with self.store.writing() as conn:
            self.tokens.revoke(conn, "logout", jti=principal.token_id)
            self.audit.append(conn, AuditEvent(actor=principal.ref, action="auth.logout", source=source,
                                               request_id=request_id))
