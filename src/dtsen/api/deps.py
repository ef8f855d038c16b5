"""Typed dependencies for endpoints (FastAPI `Annotated` aliases):

    SecurityDep       the project's `Security` (store, keys, policy, audit, accounts, authenticator)
    StoreDep          the operational store
    SettingsDep       the settings tree
    CurrentPrincipal  the caller behind the bearer token (401 without a valid one)
    CurrentCaller     principal, address and request id
    AccessDep         `Access`: the policy and the audit chain for this request
    PurposeParam      the `purpose` query parameter a request for personal data states
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dtsen.api.access import Access, Caller
from dtsen.config import Settings
from dtsen.security.context import Security
from dtsen.security.errors import AuthenticationError
from dtsen.security.principal import Principal
from dtsen.store.connection import Store

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="An access token from POST /auth/token (clients) or POST /auth/login (people).")


def get_security(request: Request) -> Security:
    security: Security = request.app.state.security
    return security


SecurityDep = Annotated[Security, Depends(get_security)]


def get_store(security: SecurityDep) -> Store:
    return security.store


def get_settings(security: SecurityDep) -> Settings:
    return security.settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def source_of(request: Request) -> str:
    """The caller's address (uvicorn applies X-Forwarded-For from `api.forwarded_allow_ips`)."""
    return request.client.host if request.client else "-"


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def current_principal(request: Request, security: SecurityDep,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if credentials is None:
        raise AuthenticationError("token akses diperlukan / a bearer access token is required")
    principal = security.auth.principal(credentials.credentials)
    request.state.principal_ref = principal.ref
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_caller(request: Request, principal: CurrentPrincipal) -> Caller:
    return Caller(principal, source_of(request), request_id(request))


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def get_access(security: SecurityDep, caller: CurrentCaller) -> Iterator[Access]:
    with Access(security, caller).request() as access:
        yield access


AccessDep = Annotated[Access, Depends(get_access)]

PurposeParam = Annotated[str, Query(
    min_length=1, max_length=40, pattern=r"^[a-z_]+$",
    description="Why the data is asked for, from the caller's allowed purposes: eligibility, targeting, "
                "ground_check, statistics, data_quality, audit, self_service (GET /auth/me lists yours).")]
