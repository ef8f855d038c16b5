"""A property: whatever a caller asks, no response carries a record outside its scope.

Hypothesis draws a caller (a role at a region of every level, or national), an endpoint, its
target (persons, families, NIKs, KKs, regions, release pairs) and a purpose; every person, family
and count in the answer must lie inside the caller's region prefix (records are located by the
fake releases' known regions, counts by the region asked for)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtsen.security.principal import Grant, within
from tests.api.data.conftest import Caller, issue, security_of
from tests.api.data.endpoints import FAMILY_REGION, KKS, NIKS, PERSON_REGION, dci_search

PERSONS = {**PERSON_REGION, 8: "33.01.01.2001"}  # person 8 is new in R0002
MOVED = {3: "32.04.02.2001"}  # RINA lives with family 11 in R0002: the change feed places her there
REGIONS = ["", "32", "33", "32.04", "33.01", "32.04.01", "32.04.02", "33.01.01", "32.04.01.2001", "32.04.01.2002",
           "32.04.02.2001", "33.01.01.2001"]
GRANTS = [Grant("province_operator", p) for p in ("32", "33")] + \
         [Grant("regency_operator", p) for p in ("32.04", "33.01")] + \
         [Grant("kepala_daerah", p) for p in ("32", "32.04")] + \
         [Grant("village_operator", p) for p in ("32.04.01.2001", "32.04.02.2001", "33.01.01.2001")] + \
         [Grant("client", p, frozenset({"eligibility", "targeting", "statistics"})) for p in REGIONS]


def _records(body: Any) -> tuple[set[int], set[int]]:
    """(person ids, family ids) anywhere in an answer, DCI envelopes included."""
    persons: set[int] = set()
    families: set[int] = set()

    def walk(x: Any, key: str | None = None) -> None:
        if isinstance(x, dict):
            if x.get("identifier_type") == "DTSEN_PERSON_ID":
                persons.add(int(x["identifier_value"]))
            if x.get("identifier_type") == "DTSEN_FAMILY_ID":
                families.add(int(x["identifier_value"]))
            if x.get("entity") in ("person", "family") and "id" in x:
                (persons if x["entity"] == "person" else families).add(int(x["id"]))
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif key == "person_id" and isinstance(x, int):
            persons.add(x)
        elif key == "family_id" and isinstance(x, int):
            families.add(x)

    walk(body)
    return persons, families


def _request(api: TestClient, caller: Caller, kind: str, target: Any, purpose: str) -> tuple[int, Any, str | None]:
    h = caller.headers
    q = f"?purpose={purpose}"
    area = None
    if kind == "person":
        r = api.get(f"/api/persons/{target}{q}", headers=h)
    elif kind == "nik":
        r = api.post(f"/api/persons/by-nik{q}", json={"nik": NIKS[target]}, headers=h)
    elif kind == "family":
        r = api.get(f"/api/families/{target}{q}", headers=h)
    elif kind == "kk":
        r = api.post(f"/api/families/by-kk{q}", json={"kk": KKS[target]}, headers=h)
    elif kind == "welfare":
        r = api.get(f"/api/families/{target}/welfare{q}", headers=h)
    elif kind == "eligibility":
        r = api.post(f"/api/eligibility{q}", json={"nik": NIKS[target], "programme": "pkh"}, headers=h)
    elif kind == "summary":
        area = target
        r = api.get(f"/api/regions/summary{q}&region={target}", headers=h)
    elif kind == "changes":
        r = api.get(f"/api/changes{q}&to_release=R0002" + (f"&region={target}" if target else ""), headers=h)
    else:  # every family with a decile, through DCI
        body = dci_search("0", caller.name)
        body["message"]["search_request"][0]["search_criteria"] = {
            "query_type": "predicate", "response_entity": "Group" if target else "Member",
            "query": [{"seq_num": 1, "expression1": {"attribute_name": "poverty_score", "operator": "le",
                                                     "attribute_value": 10}}]}
        r = api.post(f"/dci/registry/sync/search{q}", json=body, headers=h)
    return r.status_code, r.json() if r.headers.get("content-type", "").startswith("application/json") else None, area


TARGETS = {
    "person": st.sampled_from(sorted(PERSON_REGION)), "nik": st.sampled_from(sorted(NIKS)),
    "family": st.sampled_from(sorted(FAMILY_REGION)), "kk": st.sampled_from(sorted(KKS)),
    "welfare": st.sampled_from(sorted(FAMILY_REGION)), "eligibility": st.sampled_from(sorted(NIKS)),
    "summary": st.sampled_from(REGIONS), "changes": st.sampled_from(REGIONS), "dci": st.booleans(),
}


def test_no_answer_carries_a_record_outside_the_callers_scope(data_app: FastAPI, api: TestClient) -> None:
    table = security_of(data_app).policy.table
    callers = [issue(data_app, f"pemanggil{i}", g) for i, g in enumerate(GRANTS)]
    answered: list[int] = []

    @given(caller=st.sampled_from(callers), kind=st.sampled_from(sorted(TARGETS)), data=st.data())
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(caller: Caller, kind: str, data: st.DataObject) -> None:
        target = data.draw(TARGETS[kind])
        purpose = data.draw(st.sampled_from(sorted(table.purposes_of(caller.role))))
        status, body, area = _request(api, caller, kind, target, purpose)
        assert status < 500, body
        if status != 200:
            return
        answered.append(1)
        prefix = caller.grant.region_prefix
        if area is not None:
            assert within(area, prefix), (caller, area)
        persons, families = _records(body)
        where = {**PERSONS, **MOVED} if kind == "changes" else PERSONS
        outside = [p for p in persons if not within(where[p], prefix)] + \
                  [f for f in families if not within(FAMILY_REGION[f], prefix)]
        assert not outside, (caller.grant, kind, target, purpose, outside)
        for change in (body.get("changes") or []) if isinstance(body, dict) else []:
            if "region_code" in change:
                assert within(change["region_code"], prefix), (caller.grant, change)

    check()
    assert len(answered) > 20  # many draws were answered, so the property was really tested
