"""The DCI flows over HTTP with our own known answers (the independent compliance suite is run
by hand, see README): sync and async search with the callback, transaction status, subscribe,
a new release bringing notifications (scoped and audited), unsubscribe; machine clients only,
the sender must be the token's client, callbacks only to agreed origins, state kept in files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dtsen.api.app import create_app
from dtsen.config import Settings
from dtsen.dci.signature import verify
from dtsen.security.principal import Grant
from tests.api.data.conftest import Caller, data_project, issue, security_of
from tests.serve.fakes import set_current

ORIGIN = "https://spmis.example"
URI = f"{ORIGIN}/registry/on-search"
DCI = 'dci_registry_id = "dtsen-uji"\ndci_callback_origins = ["https://spmis.example:443"]\n'


@pytest.fixture
def dci_settings(tmp_path: Path, store_url: str, fake_releases: Path) -> Settings:
    return data_project(tmp_path / "p", fake_releases, store_url, extra=DCI + "\n")


class Sent(list[tuple[str, dict[str, Any]]]):
    def actions(self) -> list[str]:
        return [env["header"]["action"] for _, env in self]


@pytest.fixture
def dci(dci_settings: Settings) -> Iterator[tuple[FastAPI, TestClient, Sent]]:
    app = create_app(dci_settings)
    sent = Sent()
    app.state.dci.post = lambda uri, envelope: sent.append((uri, envelope))
    with TestClient(app) as client:
        yield app, client, sent
    app.state.security.close()


def envelope(action: str, message: dict[str, Any], sender: str, uri: str | None = URI) -> dict[str, Any]:
    ts = "2025-07-01T08:00:00+07:00"
    header = {"version": "1.0.0", "message_id": uuid.uuid4().hex, "message_ts": ts, "action": action,
              "sender_id": sender, "receiver_id": "dtsen-uji", "total_count": 1}
    if uri:
        header["sender_uri"] = uri
    return {"signature": "unsigned-stub", "header": header, "message": message}


def search(criteria: dict[str, Any], sender: str, uri: str | None = URI, txn: str = "t-1") -> dict[str, Any]:
    return envelope("search", {"transaction_id": txn, "search_request": [
        {"reference_id": "r-1", "timestamp": "2025-07-01T08:00:00+07:00", "search_criteria": criteria}]}, sender, uri)


def nin(nik: str) -> dict[str, Any]:
    return {"query_type": "idtype-value", "query": {"type": "NIN", "value": nik}}


def _ids(item: dict[str, Any], kind: str) -> list[str]:
    out = []
    for rec in item["data"]["reg_records"]:
        for ident in rec.get("member_identifier") or rec.get("group_identifier") or []:
            if ident["identifier_type"] == kind:
                out.append(ident["identifier_value"])
    return out


def _client(app: FastAPI, name: str, region: str = "", purposes: frozenset[str] = frozenset({"targeting"})) -> Caller:
    return issue(app, name, Grant("client", region, purposes))


def test_sync_search_answers_within_the_region_and_purpose(dci: tuple[FastAPI, TestClient, Sent]) -> None:
    app, api, _ = dci
    bandung = _client(app, "dinsos-bandung", "32.04")
    pred = {"query_type": "predicate", "query": [
        {"seq_num": 1, "expression1": {"attribute_name": "poverty_score", "operator": "le", "attribute_value": 2}}],
        "response_entity": "Group"}
    r = api.post("/dci/registry/sync/search", json=search(pred, "dinsos-bandung"), headers=bandung.headers)
    assert r.status_code == 200
    item = r.json()["message"]["search_response"][0]
    assert item["status"] == "succ" and _ids(item, "DTSEN_FAMILY_ID") == ["10"]  # family 13 (decile 1) is in 33.01
    assert item["pagination"]["total_count"] == 1
    group = item["data"]["reg_records"][0]
    # targeting: ids, region, ranking and programmes; no names, no NIK, no address
    assert group["poverty_score"] == 2 and "HOUSEHOLD_ID" not in str(group) and "SUBAGJA" not in str(group)
    key = serialization.load_pem_public_key(
        (security_of(app).keys.directory / "dci-signing.pub.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    body = r.json()
    verify(body["signature"], body["header"], body["message"], lambda s, k: key)  # signed by the registry
    ministry = _client(app, "kemensos", "", frozenset({"eligibility", "targeting"}))
    both = api.post("/dci/registry/sync/search?purpose=targeting", json=search(pred, "kemensos"),
                    headers=ministry.headers).json()["message"]["search_response"][0]
    assert sorted(_ids(both, "DTSEN_FAMILY_ID")) == ["10", "13"]
    # two purposes and none stated: the client must say which
    assert api.post("/dci/registry/sync/search", json=search(pred, "kemensos"),
                    headers=ministry.headers).status_code == 403
    audit = [e for e in _audit(app) if e["action"] == "dci.search"]
    # a Group carries its members: the audit names every person disclosed
    assert [e["records"] for e in audit if e["outcome"] == "ok"] == [
        ["family:10", "person:1", "person:2", "person:3"],
        ["family:10", "person:1", "person:2", "person:3", "family:13", "person:7"]]


def test_who_may_call(dci: tuple[FastAPI, TestClient, Sent]) -> None:
    app, api, _ = dci
    body = search(nin("3204011705800001"), "kemensos")
    assert api.post("/dci/registry/sync/search", json=body).status_code == 401
    other = _client(app, "bpjs")
    refused = api.post("/dci/registry/sync/search", json=body, headers=other.headers)  # sender_id is not bpjs
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "err.sender_id.invalid"
    operator = issue(app, "ani", Grant("regency_operator", "32.04"))
    assert api.post("/dci/registry/sync/search", json=search(nin("3204011705800001"), "ani"),
                    headers=operator.headers).status_code == 403
    statistics = _client(app, "bps", "", frozenset({"statistics"}))
    assert api.post("/dci/registry/sync/search", json=search(nin("3204011705800001"), "bps"),
                    headers=statistics.headers).status_code == 403
    not_json = api.post("/dci/registry/sync/search", content=b"{}", headers={**other.headers,
                                                                           "content-type": "text/plain"})
    assert not_json.status_code == 415 and not_json.json()["errors"][0]["code"] == "err.request.bad"
    wrong = envelope("search", {"transaction_id": "x"}, "bpjs")
    wrong["header"]["version"] = "0.9"
    bad = api.post("/dci/registry/sync/search", json=wrong, headers=other.headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "err.version.not_supported"


def test_async_search_calls_back_and_the_status_is_kept(dci: tuple[FastAPI, TestClient, Sent]) -> None:
    app, api, sent = dci
    ministry = _client(app, "kemensos")
    ack = api.post("/dci/registry/search", json=search(nin("3301011212750001"), "kemensos", txn="t-async"),
                   headers=ministry.headers).json()["message"]
    assert ack["ack_status"] == "ACK"
    [(uri, callback)] = sent
    assert uri == URI and callback["header"]["action"] == "on-search"
    assert callback["message"]["correlation_id"] == ack["correlation_id"]
    assert _ids(callback["message"]["search_response"][0], "DTSEN_PERSON_ID") == ["7"]
    status = api.post("/dci/registry/sync/txn/status", json=envelope("txn-status", {
        "transaction_id": "q-1", "txnstatus_request": {"reference_id": "q", "txn_type": "search",
                                                       "attribute_type": "transaction_id",
                                                       "attribute_value": "t-async"}}, "kemensos"),
                      headers=ministry.headers).json()["message"]["txnstatus_response"]
    assert status["txn_status"]["search_response"][0]["status"] == "succ"
    assert status["txn_status"]["correlation_id"] == ack["correlation_id"]
    # a callback address that was not agreed is refused before anything is done
    elsewhere = api.post("/dci/registry/search", json=search(nin("3301011212750001"), "kemensos",
                                                             uri="http://169.254.169.254/latest"),
                         headers=ministry.headers)
    assert elsewhere.status_code == 400 and elsewhere.json()["error"]["code"] == "err.sender_uri.invalid"
    assert len(sent) == 1
    entries = [e for e in _audit(app) if e["action"] == "dci.search"]
    assert [e["records"] for e in entries] == [[], ["person:7"]]  # the request, then what its callback carried


def test_subscriptions_notify_at_a_new_release(dci_settings: Settings, dci: tuple[FastAPI, TestClient, Sent]) -> None:
    app, api, sent = dci
    bandung = _client(app, "dinsos-bandung", "32.04")
    sub_uri = f"{ORIGIN}/registry/on-subscribe"

    def subscribe(event: str, record: str, filt: Any, filter_type: str | None = None) -> str:
        crit: dict[str, Any] = {"reg_event_type": event, "filter": filt, "notify_record_type": record}
        if filter_type:
            crit["filter_type"] = filter_type
        body = envelope("subscribe", {"transaction_id": "s", "subscribe_request": [
            {"reference_id": "r", "timestamp": "2025-07-01T08:00:00+07:00", "subscribe_criteria": crit}]},
            "dinsos-bandung", sub_uri)
        assert api.post("/dci/registry/subscribe", json=body, headers=bandung.headers).status_code == 200
        item = sent[-1][1]["message"]["subscribe_response"][0]
        assert item["status"] == "succ", item
        return str(item["subscriptions"][0]["code"])

    updates = subscribe("UPDATE", "Group", {"type": "expression", "value": {"expression": {"query": {"location": "32"}}}},
                        "expression")
    everyone = subscribe("UPDATE", "Group", {"type": "expression", "value": {"expression": {"query": {
        "poverty_score": {"$lte": 10}}}}}, "expression")
    joko = subscribe("REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"})
    assert app.state.dci.notify_once() == 0  # nothing new yet
    set_current(dci_settings.path(dci_settings.release.dir), "R0002")
    count = app.state.dci.notify_once()
    notices = [(uri, env) for uri, env in sent if env["header"]["action"] == "notify"]
    assert count == len(notices) == 2
    assert {uri for uri, _ in notices} == {f"{ORIGIN}/registry/notify"}
    got: dict[str, list[str]] = {}
    for _, env in notices:
        for e in env["message"]["notify_event"]:
            ident = e["data"]["reg_records"]["group_identifier"]
            got.setdefault(env["message"]["transaction_id"].split("-R0002")[0], []).append(
                next(i["identifier_value"] for i in ident if i["identifier_type"] == "DTSEN_FAMILY_ID"))
    # both Group subscriptions are told family 10's update; family 13 (33.01) is outside the client's
    # region and JOKO's registration too: nobody outside 32.04 is ever notified to this client
    assert got == {updates: ["10"], everyone: ["10"]}
    assert app.state.dci.notify_once() == 0  # told once
    notified = [e for e in _audit(app) if e["action"] == "dci.subscribe" and e["source"] == "dci-notify"]
    assert [e["records"] for e in notified] == [["family:10", "person:1", "person:2"]] * 2
    # subscriptions are kept in files, and survive a restart
    again = create_app(dci_settings)
    subs = again.state.dci.context.store.subscriptions()
    assert {s.code for s in subs} == {updates, everyone, joko}
    assert {s.notified_release for s in subs} == {"R0002"} and {s.extra["purpose"] for s in subs} == {"targeting"}
    again.state.dci.close()
    again.state.security.close()
    # unsubscribe: the subscriber's own only
    other = _client(app, "kemensos")
    end = envelope("unsubscribe", {"transaction_id": "u", "timestamp": "2025-07-01T08:00:00+07:00",
                                   "subscription_codes": [joko]}, "kemensos", sub_uri)
    api.post("/dci/registry/unsubscribe", json=end, headers=other.headers)
    assert sent[-1][1]["message"]["status_reason_code"] == "rjct.requester.invalid"
    end["header"]["sender_id"] = "dinsos-bandung"
    api.post("/dci/registry/unsubscribe", json=end, headers=bandung.headers)
    assert sent[-1][1]["message"]["status"] == "succ"


def _audit(app: FastAPI) -> list[dict[str, Any]]:
    sec = security_of(app)
    with sec.store.reading() as conn:
        return sec.audit.entries(conn, limit=10_000)
