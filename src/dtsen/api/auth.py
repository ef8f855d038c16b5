"""Authentication endpoints:

    POST /auth/token    OAuth2 client credentials (RFC 6749 4.4): form `grant_type=client_credentials`
                        with `client_id` and `client_secret` in the form or in HTTP Basic
    POST /auth/login    a person: username, password and TOTP code -> a session token
    POST /auth/logout   revoke the token of this request
    GET  /auth/me       who the token stands for: grants and the purposes it may state
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, Field

from dtsen.api.deps import CurrentCaller, SecurityDep, request_id, source_of
from dtsen.api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from dtsen.security.errors import AuthenticationError, LockedOutError
from dtsen.security.tokens import IssuedToken

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    token_type: str = Field("Bearer", description="Always Bearer.")
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field("", description="The purposes this token may state, separated by spaces.")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = Field(min_length=1, max_length=1024)
    totp: str = Field(min_length=6, max_length=8, pattern=r"^[0-9 ]+$",
                      description="The 6-digit code of the authenticator app.")


class GrantOut(BaseModel):
    role: str
    region_prefix: str = Field(description="Region code prefix the role is limited to; empty: national.")
    purposes: list[str] | None = Field(description="Purposes the grant is limited to (machine clients).")
    programmes: list[str] | None = Field(description="Programmes the grant is limited to; null: all.")


class MeResponse(BaseModel):
    kind: str = Field(description="user, client or citizen.")
    name: str
    grants: list[GrantOut]
    purposes: list[str] = Field(description="The purposes this caller may state.")
    family_id: int | None = Field(None, description="For citizens: their own family.")


def _token_response(issued: IssuedToken, purposes: frozenset[str]) -> TokenResponse:
    return TokenResponse(access_token=issued.token, expires_in=issued.expires_in, scope=" ".join(sorted(purposes)))


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_request", "the Basic authorization header cannot be read") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise ApiError("invalid_request", "the Basic authorization header has no client secret")
    return unquote(client_id), unquote(secret)


@router.post("/token", response_model=TokenResponse,
             responses={400: {"model": ErrorBody, "description": "OAuth2 invalid_request or unsupported_grant_type"},
                        401: {"model": ErrorBody}, 413: {"model": ErrorBody}, 429: {"model": ErrorBody}})
def token(request: Request, security: SecurityDep,
          grant_type: Annotated[str | None, Form()] = None,
          client_id: Annotated[str | None, Form(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")] = None,
          client_secret: Annotated[str | None, Form(max_length=256)] = None,
          scope: Annotated[str | None, Form(max_length=512)] = None) -> TokenResponse:
    """A short-lived access token for a ministry's or agency's machine client (OAuth2 client
    credentials). The secret is sent in the form or with HTTP Basic, never in the URL."""
    basic = _basic(request)
    if basic is not None:
        if client_id or client_secret:
            raise ApiError("invalid_request", "send the client credentials either in the form or with HTTP Basic, "
                                              "not both")
        client_id, client_secret = basic
    if grant_type is None or not client_id or not client_secret:
        raise ApiError("invalid_request", "grant_type, client_id and client_secret are required")
    if grant_type != "client_credentials":
        raise ApiError("unsupported_grant_type")
    try:
        issued = security.auth.client_token(client_id, client_secret, source_of(request), request_id(request))
    except AuthenticationError as exc:
        if isinstance(exc, LockedOutError):
            raise
        raise ApiError("invalid_client", str(exc),
                       headers={"WWW-Authenticate": 'Basic realm="dtsen"'} if basic else None) from None
    principal = security.auth.principal(issued.token)
    return _token_response(issued, security.policy.purposes_for(principal))


@router.post("/login", response_model=TokenResponse,
             responses={400: {"model": ErrorBody, "description": "The body cannot be read"},
                        401: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody},
                        429: {"model": ErrorBody}})
def login(body: LoginRequest, request: Request, security: SecurityDep) -> TokenResponse:
    """A session token for a person: username, password and the TOTP code of their
    authenticator app (every staff account has the second factor)."""
    try:
        issued = security.auth.login(body.username, body.password, body.totp, source_of(request), request_id(request))
    except AuthenticationError as exc:
        if isinstance(exc, LockedOutError):
            raise
        raise ApiError("invalid_login", str(exc)) from None
    principal = security.auth.principal(issued.token)
    return _token_response(issued, security.policy.purposes_for(principal))


@router.post("/logout", status_code=204, responses=ERROR_RESPONSES)
def logout(caller: CurrentCaller, security: SecurityDep) -> Response:
    """Revoke the token this request was made with."""
    security.auth.logout(caller.principal, caller.source, caller.request_id)
    return Response(status_code=204)


@router.get("/me", response_model=MeResponse, responses=ERROR_RESPONSES)
def me(caller: CurrentCaller, security: SecurityDep) -> MeResponse:
    """Who the token stands for: its grants, and the purposes it may state."""
    p = caller.principal
    return MeResponse(
        kind=p.kind, name=p.name, family_id=p.family_id,
        purposes=sorted(security.policy.purposes_for(p)),
        grants=[GrantOut(role=g.role, region_prefix=g.region_prefix,
                         purposes=None if g.purposes is None else sorted(g.purposes),
                         programmes=None if g.programmes is None else sorted(g.programmes)) for g in p.grants])
