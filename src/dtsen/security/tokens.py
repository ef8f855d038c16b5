"""Access tokens: short-lived, signed with HMAC-SHA-256 (`cryptography`), revocable.

    dt1.<base64url(JSON claims)>.<base64url(HMAC-SHA-256 of "dt1.<claims>")>

The claims are the token's id (`jti`), its kind (`client` for OAuth2 client credentials, `session`
after a person's login, `citizen` after a citizen proved who they are), its subject and its
issue and expiry times. Every issued token is a row of the `tokens` table, so a token is valid
only while its row exists, has not expired and is not revoked: revoking one token, or all tokens
of a user or client, takes effect at the next request.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from dtsen.security.clock import Clock, utcnow
from dtsen.security.errors import AuthenticationError
from dtsen.store.tables import clients, tokens, users

PREFIX = "dt1"
TokenKind = Literal["client", "session", "citizen"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Claims:
    jti: str
    kind: TokenKind
    sub: str
    iat: int
    exp: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    kind: TokenKind
    expires_at: dt.datetime
    expires_in: int  # seconds


class TokenSigner:
    """Signs and reads tokens; knows nothing of the store."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, message: bytes) -> crypto_hmac.HMAC:
        mac = crypto_hmac.HMAC(self._key, hashes.SHA256())
        mac.update(message)
        return mac

    def sign(self, claims: Claims) -> str:
        body = json.dumps(claims.__dict__, separators=(",", ":"), sort_keys=True).encode()
        head = f"{PREFIX}.{_b64(body)}"
        return f"{head}.{_b64(self._mac(head.encode()).finalize())}"

    def read(self, token: str) -> Claims:
        """The claims of a token whose signature is good (expiry and revocation not checked)."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX or len(token) > 2048:
            raise AuthenticationError("token tidak dikenal / not a dtsen access token")
        try:
            self._mac(f"{parts[0]}.{parts[1]}".encode()).verify(_unb64(parts[2]))
            data: dict[str, Any] = json.loads(_unb64(parts[1]))
            return Claims(jti=str(data["jti"]), kind=data["kind"], sub=str(data["sub"]), iat=int(data["iat"]),
                          exp=int(data["exp"]))
        except (InvalidSignature, ValueError, KeyError, TypeError):
            raise AuthenticationError("token tidak sah / the token's signature is not valid") from None

    def subject(self, token: str) -> str | None:
        """The subject of a well-signed token, or None (for rate limiting, before the store)."""
        try:
            return self.read(token).sub
        except AuthenticationError:
            return None


class Tokens:
    """Issue, check and revoke tokens against the `tokens` table."""

    def __init__(self, signer: TokenSigner, clock: Clock = utcnow) -> None:
        self.signer = signer
        self.clock = clock

    def issue(self, conn: sa.Connection, kind: TokenKind, sub: str, minutes: int, source: str, *,
              user_id: int | None = None, client_id: int | None = None, family_id: int | None = None) -> IssuedToken:
        now = self.clock().replace(microsecond=0)
        expires = now + dt.timedelta(minutes=minutes)
        jti = secrets.token_hex(16)
        conn.execute(sa.insert(tokens).values(
            jti=jti, kind=kind, user_id=user_id, client_id=client_id, family_id=family_id, issued_at=now,
            expires_at=expires, source=source[:64]))
        claims = Claims(jti, kind, sub, int(now.timestamp()), int(expires.timestamp()))
        return IssuedToken(self.signer.sign(claims), jti, kind, expires, minutes * 60)

    def check(self, conn: sa.Connection, token: str) -> tuple[Claims, Any]:
        """The claims and row of a valid token, with its holder (`holder_id`, `holder_name`,
        `holder_status` of the user or client; None for citizens), in one query;
        AuthenticationError if the token is not valid now."""
        claims = self.signer.read(token)
        now = self.clock()
        if claims.exp <= int(now.timestamp()):
            raise AuthenticationError("token kedaluwarsa / the token has expired")
        u, c = users, clients
        query = (sa.select(tokens.c.kind, tokens.c.family_id, tokens.c.expires_at, tokens.c.revoked_at,
                           sa.func.coalesce(u.c.id, c.c.id).label("holder_id"),
                           sa.func.coalesce(u.c.username, c.c.client_id).label("holder_name"),
                           sa.func.coalesce(u.c.status, c.c.status).label("holder_status"))
                 .select_from(tokens.outerjoin(u, u.c.id == tokens.c.user_id).outerjoin(c, c.c.id == tokens.c.client_id))
                 .where(tokens.c.jti == claims.jti))
        row = conn.execute(query).first()
        if row is None or row.kind != claims.kind:
            raise AuthenticationError("token tidak dikenal / the token is not known to this service")
        if row.revoked_at is not None:
            raise AuthenticationError("token telah dicabut / the token has been revoked")
        if row.expires_at <= now:
            raise AuthenticationError("token kedaluwarsa / the token has expired")
        return claims, row

    def revoke(self, conn: sa.Connection, reason: str, *, jti: str | None = None, user_id: int | None = None,
               client_id: int | None = None) -> int:
        """Revoke one token, or every live token of a user or a client; the number revoked."""
        where: list[sa.ColumnElement[bool]] = [tokens.c.revoked_at.is_(None)]
        if jti is not None:
            where.append(tokens.c.jti == jti)
        elif user_id is not None:
            where.append(tokens.c.user_id == user_id)
        elif client_id is not None:
            where.append(tokens.c.client_id == client_id)
        else:
            raise ValueError("revoke needs a jti, a user_id or a client_id")
        result = conn.execute(sa.update(tokens).where(*where).values(revoked_at=self.clock(), revoked_reason=reason))
        return int(result.rowcount or 0)

    def purge_expired(self, conn: sa.Connection, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
        """Delete rows of tokens that expired more than `older_than` ago."""
        result = conn.execute(sa.delete(tokens).where(tokens.c.expires_at < self.clock() - older_than))
        return int(result.rowcount or 0)
