"""Every data endpoint as the role matrix and the property test call it: what it does (the policy
action), how to ask it about a record inside or outside a caller's region, and where the answer
keeps the fields the policy trims.

The fake releases (tests/serve/fakes.py): family 10 (persons 1, 2, 3) in 32.04.01.2001 is the record
"inside" every region-bound role's region; family 13 (person 7) in 33.01.01.2001 is "outside".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from dtsen.api import views

INSIDE = {"person": 1, "nik": "3204011705800001", "family": 10, "kk": "3204010101100001", "region": "32.04.01.2001",
          "area": "32.04.01"}
OUTSIDE = {"person": 7, "nik": "3301011212750001", "family": 13, "kk": "3301010404100001", "region": "33.01.01.2001",
           "area": "33.01"}
# Where each record of the fake release R0001 lives (the property test checks answers against it).
PERSON_REGION = {1: "32.04.01.2001", 2: "32.04.01.2001", 3: "32.04.01.2001", 4: "32.04.02.2001",
                 5: "32.04.02.2001", 6: "32.04.01.2002", 7: "33.01.01.2001"}
FAMILY_REGION = {10: "32.04.01.2001", 11: "32.04.02.2001", 12: "32.04.01.2002", 13: "33.01.01.2001"}
NIKS = {1: "3204011705800001", 2: "3204014403820002", 3: "3204014107100001", 4: "3204024403820001",
        5: "3204020101500001", 6: "3204014202400001", 7: "3301011212750001"}
KKS = {10: "3204010101100001", 11: "3204020202100001", 12: "3204010303100001", 13: "3301010404100001"}


def dci_search(nik: str, sender: str) -> dict[str, Any]:
    ts = "2025-07-01T00:00:00+00:00"
    return {"signature": "unsigned-stub",
            "header": {"version": "1.0.0", "message_id": uuid.uuid4().hex, "message_ts": ts, "action": "search",
                       "sender_id": sender, "total_count": 1},
            "message": {"transaction_id": "t-" + uuid.uuid4().hex[:8], "search_request": [
                {"reference_id": "r-1", "timestamp": ts,
                 "search_criteria": {"query_type": "idtype-value", "query": {"type": "NIN", "value": nik}}}]}}


@dataclass(frozen=True)
class Endpoint:
    name: str
    action: str
    kind: str  # record | region | list | none
    call: Callable[[TestClient, dict[str, Any], str | None, dict[str, str], str], Response]
    fields: tuple[str, ...] = ()  # the row's keys the policy trims (record endpoints)
    answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body  # the trimmed part of the answer


def _q(purpose: str | None) -> str:
    return f"?purpose={purpose}" if purpose else ""


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("person by id", "person.read", "record",
             lambda c, r, p, h, n: c.get(f"/api/persons/{r['person']}{_q(p)}", headers=h),
             views.PERSON_FIELDS, lambda b: b["person"]),
    Endpoint("person by NIK", "person.read", "record",
             lambda c, r, p, h, n: c.post(f"/api/persons/by-nik{_q(p)}", json={"nik": r["nik"]}, headers=h),
             views.PERSON_FIELDS, lambda b: b["person"]),
    Endpoint("family by id", "family.read", "record",
             lambda c, r, p, h, n: c.get(f"/api/families/{r['family']}{_q(p)}", headers=h),
             views.FAMILY_FIELDS, lambda b: b["family"]),
    Endpoint("family members", "family.read", "record",
             lambda c, r, p, h, n: c.post(f"/api/families/by-kk{_q(p)}", json={"kk": r["kk"]}, headers=h),
             views.PERSON_FIELDS, lambda b: b["members"][0]),
    Endpoint("welfare", "family.read", "record",
             lambda c, r, p, h, n: c.get(f"/api/families/{r['family']}/welfare{_q(p)}", headers=h),
             views.WELFARE_FIELDS, lambda b: b["welfare"]),
    Endpoint("explanation", "family.explain", "record",
             lambda c, r, p, h, n: c.get(f"/api/families/{r['family']}/explanation{_q(p)}", headers=h)),
    Endpoint("eligibility by family", "eligibility.check", "record",
             lambda c, r, p, h, n: c.get(f"/api/families/{r['family']}/eligibility/pkh{_q(p)}", headers=h),
             views.ELIGIBILITY_FIELDS, lambda b: b["eligibility"]),
    Endpoint("eligibility by NIK", "eligibility.check", "record",
             lambda c, r, p, h, n: c.post(f"/api/eligibility{_q(p)}", json={"nik": r["nik"], "programme": "pkh"},
                                          headers=h),
             views.ELIGIBILITY_FIELDS, lambda b: b["eligibility"]),
    Endpoint("region summary", "region.summary", "region",
             lambda c, r, p, h, n: c.get(f"/api/regions/summary{_q(p)}&region={r['area']}" if p else
                                         f"/api/regions/summary?region={r['area']}", headers=h),
             views.SUMMARY_FIELDS, lambda b: b["summary"]),
    Endpoint("change feed", "changes.read", "list",
             lambda c, r, p, h, n: c.get(f"/api/changes{_q(p)}&to_release=R0002&region={r['area']}" if p else
                                         f"/api/changes?to_release=R0002&region={r['area']}", headers=h)),
    Endpoint("bulk matching", "match.bulk", "list",
             lambda c, r, p, h, n: c.post(f"/api/match{_q(p)}", files={"file": ("list.pdf", b"%PDF", "application/pdf")},
                                          headers=h)),
    Endpoint("DCI search", "dci.search", "list",
             lambda c, r, p, h, n: c.post(f"/dci/registry/sync/search{_q(p)}", json=dci_search(r["nik"], n),
                                          headers=h)),
    Endpoint("data tracker", "tracker.read", "record",
             lambda c, r, p, h, n: c.get(f"/warga/pelacak{_q(p)}", headers=h),
             ("accessed_by", "accessed_at", "access_purpose", "access_action")),
    Endpoint("releases", "release.read", "none", lambda c, r, p, h, n: c.get("/api/releases", headers=h)),
)
