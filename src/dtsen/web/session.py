"""The dashboard's session cookie and its CSRF tokens.

A person logs in on the login page with the same `Authenticator.login` as `POST /auth/login`
(password and TOTP, the same lockout and audit); the session token it issues (a row of the
`tokens` table: short-lived, `security.session_minutes`, revoked at logout or when the account is
disabled) is kept in the cookie `__Host-dtsen-sesi`: Secure, HttpOnly, SameSite=Strict, Path=/,
no Domain, expiring with the token. A citizen's session (after proving who they are on
/web/warga/masuk) is kept the same way but in its own cookie, `__Host-dtsen-warga`: the staff
pages read only the staff cookie and refuse a citizen's token, the citizen pages read only the
citizen cookie and refuse anything but a citizen's token.

CSRF: every form and every htmx POST carries a token (`csrf` form field, or the `X-CSRF-Token`
header htmx sends from `hx-headers` on <body>). For a session it is a keyed hash of the session
token's id, so it changes at each login and dies with the session; before login it is a keyed
hash of a random value in the `__Host-dtsen-pra` cookie. A POST whose token is missing or wrong,
or that a browser marks as cross-site (`Sec-Fetch-Site: cross-site`, or an `Origin` that is not
this host), is refused before anything is done. SameSite=Strict already keeps the session cookie
off cross-site requests; the token is the second lock.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from dtsen.errors import DtsenError
from dtsen.security.keys import KeyStore

SESSION_COOKIE = "__Host-dtsen-sesi"
CITIZEN_COOKIE = "__Host-dtsen-warga"
PRE_SESSION_COOKIE = "__Host-dtsen-pra"
LANG_COOKIE = "dtsen-bahasa"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
PRE_SESSION_SECONDS = 3600


class CsrfError(DtsenError):
    """A form or htmx POST came without its CSRF token, with a wrong one, or from another site."""


def session_token(request: Request, cookie: str = SESSION_COOKIE) -> str | None:
    token = request.cookies.get(cookie)
    return token if token and len(token) <= 2048 else None


def set_session(response: Response, token: str, seconds: int, cookie: str = SESSION_COOKIE) -> None:
    response.set_cookie(cookie, token, max_age=seconds, path="/", secure=True, httponly=True,
                        samesite="strict")
    response.delete_cookie(PRE_SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")


def clear_session(response: Response, cookie: str = SESSION_COOKIE) -> None:
    response.delete_cookie(cookie, path="/", secure=True, httponly=True, samesite="strict")


def pre_session(request: Request) -> tuple[str, bool]:
    """The pre-login random value: (value, True when it is new and must be set on the response)."""
    value = request.cookies.get(PRE_SESSION_COOKIE, "")
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value, False
    return secrets.token_hex(32), True


def set_pre_session(response: Response, value: str) -> None:
    response.set_cookie(PRE_SESSION_COOKIE, value, max_age=PRE_SESSION_SECONDS, path="/", secure=True,
                        httponly=True, samesite="strict")


def session_csrf(keys: KeyStore, token_id: str) -> str:
    """The CSRF token of a session (by the session token's id)."""
    return keys.keyed_hash("web-csrf-session", token_id)


def login_csrf(keys: KeyStore, pre_value: str) -> str:
    """The CSRF token of the login form (by the pre-session cookie's value)."""
    return keys.keyed_hash("web-csrf-login", pre_value)


def citizen_login_csrf(keys: KeyStore, pre_value: str) -> str:
    """The CSRF token of the citizen's proof form (by the pre-session cookie's value)."""
    return keys.keyed_hash("web-csrf-warga-masuk", pre_value)


def same_site(request: Request) -> bool:
    """False when the browser says the request comes from another site: `Sec-Fetch-Site:
    cross-site`, or an `Origin` naming another host. (Under `Referrer-Policy: no-referrer` a
    browser sends `Origin: null` with a form, which says nothing either way.)"""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


async def sent_csrf(request: Request) -> str:
    """The CSRF token a POST carries: the header (htmx), else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, expected: str) -> None:
    """CsrfError unless the request is same-site and carries `expected`."""
    if not same_site(request):
        raise CsrfError("permintaan dari situs lain ditolak / a request from another site was refused")
    sent = await sent_csrf(request)
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfError("token formulir tidak sah atau kedaluwarsa; muat ulang halaman dan coba lagi / "
                        "the form's token is missing or out of date; reload the page and try again")
