"""The role matrix over every data endpoint, generated from the policy's own rule table:
every endpoint x every role x a record inside and outside its region x every purpose -> the
status the table implies (allowed: 200 and exactly the rule's fields; no rule for that role,
action and purpose: 403; a record outside the caller's region: 404, the same answer as an absent
record), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.reads import NOT_FOUND
from dtsen.security.principal import Grant, within
from dtsen.security.rules import RuleTable
from tests.api.data.conftest import Caller, issue, security_of
from tests.api.data.endpoints import ENDPOINTS, INSIDE, OUTSIDE, Endpoint

CLIENT_PURPOSES = frozenset({"eligibility", "targeting", "statistics"})
GRANTS: tuple[tuple[str, Grant, int | None], ...] = (
    ("admin", Grant("admin"), None),
    ("steward", Grant("steward"), None),
    ("auditor", Grant("auditor"), None),
    ("kemensos", Grant("client", "", CLIENT_PURPOSES), None),
    ("dinsos-bandung", Grant("client", "32.04", CLIENT_PURPOSES), None),
    ("prov", Grant("province_operator", "32"), None),
    ("kab", Grant("regency_operator", "32.04"), None),
    ("desa", Grant("village_operator", "32.04.01.2001"), None),
    ("bupati", Grant("kepala_daerah", "32.04"), None),
    ("petugas", Grant("field_officer", "32.04"), None),
    ("delegasi", Grant("approval_delegate", "32.04"), None),
    ("warga", Grant("citizen"), 10),
)


def expected(table: RuleTable, caller: Caller, ep: Endpoint, purpose: str | None,
             record: dict[str, Any]) -> tuple[int, frozenset[str]]:
    """(status, fields) the rule table implies for this request."""
    g = caller.grant
    rule = table.rule(g.role, ep.action, purpose)
    if rule is None or (purpose is not None and g.purposes is not None and purpose not in g.purposes):
        return 403, frozenset()
    fields = rule.fields & frozenset(ep.fields)
    if ep.kind == "none":
        return 200, fields
    if ep.action == "match.bulk":
        return 415, fields  # allowed: the (unreadable) list is refused after the policy said yes
    if rule.scope == "own_family":
        inside = record["family"] == caller.family_id or ep.action == "tracker.read"
        return (200 if inside else 404), fields
    if ep.kind == "region" or ep.action == "changes.read":
        return (200 if within(record["area"], g.region_prefix) else 403), fields
    if ep.action == "dci.search":
        return 200, fields
    return (200 if within(record["region"], g.region_prefix) else 404), fields


def _check(ep: Endpoint, caller: Caller, purpose: str | None, record: dict[str, Any], want: tuple[int, frozenset[str]],
           status: int, body: dict[str, Any]) -> str | None:
    code, fields = want
    if ep.action == "family.explain" and code == 200:  # the fake release has no PMT model to explain with
        code = 404 if body.get("error_description") != NOT_FOUND else -1
    if status != code:
        return f"status {status}, want {code}: {body.get('error_description', '')[:120]}"
    if status == 404 and ep.action != "family.explain" and body.get("error_description") != NOT_FOUND:
        return "a record outside the scope must be answered as an absent one"
    if status != 200:
        return None
    if ep.action == "dci.search":
        records = body["message"]["search_response"][0]["data"]["reg_records"]
        outside = record is OUTSIDE and caller.grant.region_prefix != ""
        return None if bool(records) != outside else f"DCI records {len(records)} for a record {'out' if outside else 'in'}side"
    if ep.action == "changes.read":
        changes = body["changes"]
        shown = "region_code" in _TABLE.rule(caller.grant.role, ep.action, purpose).fields  # type: ignore[union-attr]
        ok = changes and all(("region_code" in c) == shown for c in changes)
        ok = ok and all(within(c["region_code"], caller.grant.region_prefix) for c in changes if "region_code" in c)
        return None if ok else "change feed: empty, or region codes not as the rule says"
    if ep.action == "tracker.read":
        entries = body["entries"]
        return None if entries and all(set(e) == fields for e in entries) else f"tracker entries {entries[:1]}"
    if ep.kind == "none":
        return None
    got = set(ep.answer(body))
    return None if got == fields else f"fields {sorted(got ^ fields)} differ from the rule's"


_TABLE: RuleTable


def test_every_endpoint_role_region_and_purpose(data_app: FastAPI, api: TestClient) -> None:
    global _TABLE
    table = security_of(data_app).policy.table
    _TABLE = table
    callers = [issue(data_app, name, grant, family) for name, grant, family in GRANTS]
    assert {c.role for c in callers} == set(table.roles)  # every role of the table is exercised
    purposes = sorted(table.purposes)
    problems: list[str] = []
    audited: dict[str, str] = {}  # request id -> the request, for every answer about personal data
    cases = 0
    order = sorted(ENDPOINTS, key=lambda e: e.action == "tracker.read")  # the tracker last: it shows the reads
    for ep in order:
        for caller in callers:
            for record in (INSIDE, OUTSIDE):
                for purpose in ([None] if ep.kind == "none" else purposes):
                    want = expected(table, caller, ep, purpose, record)
                    response = ep.call(api, record, purpose, caller.headers, caller.name)
                    cases += 1
                    body = response.json() if response.headers.get("content-type", "").startswith(
                        "application/json") else {}
                    problem = _check(ep, caller, purpose, record, want, response.status_code, body)
                    if table.actions[ep.action].personal and response.status_code in (200, 403, 404):
                        audited[response.headers["X-Request-ID"]] = f"{ep.name} | {caller.name} | {purpose}"
                    if problem:
                        where = "inside" if record is INSIDE else "outside"
                        problems.append(f"{ep.name} | {caller.name} ({caller.role}) | {where} | {purpose}: {problem}")
    assert not problems, f"{len(problems)} of {cases} cases:\n" + "\n".join(problems[:40])
    assert cases > 1500
    # every answer about personal data (a read, a denial, an absent record) is in the audit chain
    sec = security_of(data_app)
    with sec.store.reading() as conn:
        entries = sec.audit.entries(conn, limit=100_000)
    logged = {e["request_id"] for e in entries}
    missing = [what for rid, what in audited.items() if rid not in logged]
    assert not missing and len(audited) > 1000, missing[:10]
    assert sec.audit.verify(sec.store).ok
