"""How a data endpoint reads one record: the policy's decision, or an answer as if it were absent.

A record outside the caller's scope is answered exactly like a record that does not exist: 404
with the same body (`NOT_FOUND`), so that no caller can learn that a NIK, KK or id exists outside
their region or family. Only a caller who may do the action *nowhere* for that purpose gets 403
(which says nothing about any record). The audit chain holds the truth: an out-of-scope read is
an entry with outcome `denied`, a read of an absent record an `ok` entry that found nothing.

    decision = read_record(access, "family.read", purpose, Resource(region, family_id), refs)
    ...
    access.record("family.read", purpose, refs, decision=decision, region_code=region)
"""

from __future__ import annotations

from collections.abc import Sequence

from dtsen.api.access import Access
from dtsen.api.errors import ApiError
from dtsen.security.errors import AccessDenied
from dtsen.security.policy import Decision, Resource, Scope

NOT_FOUND = "tidak ditemukan / not found"


def policy_scope(access: Access, action: str, purpose: str | None) -> Scope:
    """Where the caller may do `action`; 403 (audited) when nowhere. Records nothing on success:
    the endpoint records what it read."""
    scope = access.security.policy.scope(access.principal, action, purpose)
    if not scope.allowed:
        access.scope(action, purpose)  # records the denial and raises AccessDenied
    return scope


def read_record(access: Access, action: str, purpose: str | None, resource: Resource,
                refs: Sequence[str]) -> Decision:
    """The decision for one existing record; 404 (as if absent, the denial audited) when it lies
    outside the caller's scope; 403 when the caller may do `action` for `purpose` nowhere."""
    policy_scope(access, action, purpose)
    try:
        return access.require(action, purpose, resource, records=refs)
    except AccessDenied:
        raise ApiError("not_found", NOT_FOUND) from None


def absent(access: Access, action: str, purpose: str | None, refs: Sequence[str]) -> ApiError:
    """The 404 of a record that does not exist (the read is audited, having found nothing).
    The caller raises it; first checks that the caller may do `action` somewhere (else 403)."""
    policy_scope(access, action, purpose)
    access.record(action, purpose, refs, detail={"found": 0})
    return ApiError("not_found", NOT_FOUND)


def covered(scope: Scope, resource: Resource) -> bool:
    """Whether `scope` covers one record (to pick, among records, those the caller may see)."""
    return scope.decide(resource).allowed
