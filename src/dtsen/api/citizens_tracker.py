"""The citizen data tracker (*pelacak data warga*), as Estonia's: who read my family's data.

    POST /warga/pelacak/masuk   {"nik", "kk", "nama"} -> a citizen session (Bearer token) for the
                                family these details prove (`dtsen.security.citizens.prove_citizen`)
    GET  /warga/pelacak?purpose=self_service
                                which agency or office read the family's data (the family and its
                                members), when, for which purpose and what: from the audit chain

A failed proof is 401 with one message whatever part was wrong; repeated failures are locked out
(429) per NIK and per address. The session sees its own family only (`own_family` in the policy).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from dtsen.api.deps import AccessDep, PurposeParam, SecurityDep, request_id, source_of
from dtsen.api.errors import ERROR_RESPONSES, ErrorBody
from dtsen.api.serving import HandleDep
from dtsen.security import citizens
from dtsen.security.policy import Resource
from dtsen.serve.lookups import family_by_id

router = APIRouter(prefix="/warga/pelacak", tags=["warga"])


class ProofRequest(BaseModel):
    nik: str = Field(pattern=r"^[0-9]{16}$", description="Your NIK (16 digits).")
    kk: str = Field(pattern=r"^[0-9]{16}$", description="Your family card's number (nomor KK, 16 digits).")
    nama: str = Field(min_length=1, max_length=200, description="Your name as on the family card.")


class CitizenSession(BaseModel):
    access_token: str = Field(description="Send it as `Authorization: Bearer <token>`.")
    token_type: str = "Bearer"
    expires_in: int
    family_id: int = Field(description="Your family in the registry.")


class TrackerEntry(BaseModel):
    accessed_by: str | None = Field(None, description="The agency (by its registered name) or office (role, region).")
    accessed_at: str | None = Field(None, description="When (UTC).")
    access_purpose: str | None = Field(None, description="The purpose stated.")
    access_action: str | None = Field(None, description="What was read.")


class TrackerAnswer(BaseModel):
    release_id: str
    purpose: str
    family_id: int
    entries: list[TrackerEntry]
    next_before: int | None = Field(description="Pass as `before` for older entries; null: none.")


@router.post("/masuk", response_model=CitizenSession, responses={
    400: {"model": ErrorBody}, 401: {"model": ErrorBody, "description": "The details do not prove a family"},
    422: {"model": ErrorBody}, 429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
def prove(body: ProofRequest, request: Request, security: SecurityDep, h: HandleDep) -> CitizenSession:
    """Prove who you are with your NIK, your KK number and your name."""
    issued, family_id = citizens.prove_citizen(security, h, body.nik, body.kk, body.nama, source_of(request),
                                               request_id(request))
    return CitizenSession(access_token=issued.token, expires_in=issued.expires_in, family_id=family_id)


@router.get("", response_model=TrackerAnswer, response_model_exclude_unset=True,
            responses={**ERROR_RESPONSES, 503: {"model": ErrorBody}})
def tracker(purpose: PurposeParam, access: AccessDep, h: HandleDep,
            before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
            limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Who read your family's data, when and for which purpose (newest first)."""
    family_id = access.principal.family_id
    record = family_by_id(h, family_id) if family_id is not None else None
    region = record.family.region_code if record is not None else None
    refs = [f"family:{family_id}"] + ([f"person:{m.person_id}" for m in record.members] if record else [])
    decision = access.require("tracker.read", purpose, Resource(region, family_id), records=refs[:1])
    entries, after = citizens.access_history(access.security, refs, access.principal.ref, before=before, limit=limit)
    access.record("tracker.read", purpose, refs[:1], decision=decision, region_code=region)
    return {"release_id": h.release_id, "purpose": purpose, "family_id": family_id,
            "entries": [decision.project(e.row()) for e in entries], "next_before": after}
