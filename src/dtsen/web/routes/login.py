"""Logging in and out of the dashboard, the start page, and the language.

    GET  /web/            the first page the viewer may see (or the login page)
    GET  /web/masuk       the login form (username, password, TOTP code)
    POST /web/masuk       `Authenticator.login`, as POST /auth/login: the same checks, lockout and audit
    POST /web/keluar      revokes the session's token and clears the cookie
    GET  /web/bahasa/{id|en}   Bahasa Indonesia (default) or English
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from dtsen.api.auth import LoginRequest
from dtsen.api.deps import request_id, source_of
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.web.messages import LANGUAGES
from dtsen.web.pages import PAGE_HEADERS, WebRoute
from dtsen.web.session import (
    LANG_COOKIE,
    check_csrf,
    clear_session,
    login_csrf,
    pre_session,
    session_token,
    set_pre_session,
    set_session,
)
from dtsen.web.viewer import CsrfDep, ViewerDep, WebStateDep

router = APIRouter(prefix="/web", route_class=WebRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path of this service, nothing else."""
    if target and target.startswith("/web/") and not target.startswith("//") and "\\" not in target \
            and "://" not in target and len(target) < 500:
        return target
    return "/web/"


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


@router.get("/")
def home(viewer: ViewerDep, request: Request) -> Response:
    nav = viewer.nav()
    if nav:
        return redirect(nav[0]["href"])
    return viewer.state.pages.render(request, "home.html", viewer.page_context())


def _login_form(request: Request, state: WebStateDep, *, status: int = 200, error: str = "", next_: str = "/web/",
                username: str = "", headers: dict[str, str] | None = None) -> Response:
    value, new = pre_session(request)
    response = state.pages.render(request, "login.html", {
        "login_csrf": login_csrf(state.security.keys, value), "error": error, "next": safe_next(next_),
        "username": username}, status=status, headers=headers)
    if new:
        set_pre_session(response, value)
    return response


@router.get("/masuk")
def login_page(request: Request, state: WebStateDep,
               lanjut: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    token = session_token(request)
    if token is not None:
        try:
            if state.security.auth.principal(token).kind != "citizen":
                return redirect(safe_next(lanjut))
        except AuthenticationError:
            pass
    return _login_form(request, state, next_=lanjut or "/web/")


@router.post("/masuk")
async def login(request: Request, state: WebStateDep,
                nama: Annotated[str, Form(max_length=200)] = "", sandi: Annotated[str, Form(max_length=1024)] = "",
                kode: Annotated[str, Form(max_length=20)] = "",
                lanjut: Annotated[str, Form(max_length=500)] = "/web/") -> Response:
    value, _ = pre_session(request)
    await check_csrf(request, login_csrf(state.security.keys, value))
    try:
        body = LoginRequest(username=nama.strip(), password=sandi, totp=kode.strip())
    except ValidationError:
        return _login_form(request, state, status=401, error="login.wrong", next_=lanjut, username=nama[:64])
    try:
        issued = state.security.auth.login(body.username, body.password, body.totp, source_of(request),
                                           request_id(request))
    except LockedOutError as exc:
        return _login_form(request, state, status=429, error="login.locked", next_=lanjut, username=nama[:64],
                           headers={"Retry-After": str(exc.retry_after)})
    except AuthenticationError:
        return _login_form(request, state, status=401, error="login.wrong", next_=lanjut, username=nama[:64])
    response = redirect(safe_next(lanjut))
    set_session(response, issued.token, issued.expires_in)
    return response


@router.post("/keluar")
def logout(viewer: CsrfDep, request: Request) -> Response:
    viewer.state.security.auth.logout(viewer.principal, source_of(request), request_id(request))
    response = redirect("/web/masuk")
    clear_session(response)
    return response


@router.get("/bahasa/{lang}")
def language(lang: str, lanjut: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    response = redirect(safe_next(lanjut))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", secure=True, httponly=True,
                            samesite="strict")
    return response
