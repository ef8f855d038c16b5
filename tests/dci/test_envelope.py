"""The envelope: what is refused before any work, with which error code."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dtsen.dci import DciRegistry, DciRequestError
from dtsen.dci.envelope import ack, http_error_body
from tests.dci.conftest import search_body

GOOD: dict[str, Any] = {"query_type": "idtype-value", "query": {"type": "NIN", "value": "3204011705800001"}}


def _refused(registry: DciRegistry, body: dict[str, Any]) -> DciRequestError:
    with pytest.raises(DciRequestError) as err:
        registry.sync_search(body)
    return err.value


def test_a_good_request_is_answered(registry: DciRegistry) -> None:
    out = registry.sync_search(search_body(GOOD))
    assert out["header"]["action"] == "on-search" and out["header"]["status"] == "succ"


@pytest.mark.parametrize(("change", "code"), [
    (lambda b: b.pop("message"), "err.request.bad"),
    (lambda b: b["message"]["search_request"][0].update(timestamp="not-a-timestamp"), "err.request.bad"),
    (lambda b: b["message"]["search_request"][0].update(timestamp="2024-01-15T10:30:00"), "err.request.bad"),
    (lambda b: b["message"]["search_request"][0].update(locale="ENG"), "err.request.bad"),
    (lambda b: b["message"]["search_request"][0].update(locale="en"), "err.request.bad"),
    (lambda b: b["message"].update(transaction_id="x" * 100), "err.request.bad"),
    (lambda b: b["message"]["search_request"][0].update(pagination={"page_size": 0, "page_number": 1}),
     "err.request.bad"),
    (lambda b: b["message"]["search_request"][0].update(pagination={"page_size": 10, "page_number": 0}),
     "err.request.bad"),
    (lambda b: b["message"]["search_request"][0]["search_criteria"].update(query_type="graphql"), "err.request.bad"),
    (lambda b: b["header"].update(version="2.0.0"), "err.version.not_supported"),
    (lambda b: b["header"].update(action="subscribe"), "err.request.bad"),
    (lambda b: b["header"].pop("message_ts"), "err.request.bad"),
    (lambda b: b["header"].update(is_msg_encrypted=True), "err.encryption.invalid"),
])
def test_refusals(registry: DciRegistry, change: Any, code: str) -> None:
    body = copy.deepcopy(search_body(GOOD))
    change(body)
    err = _refused(registry, body)
    assert err.code == code and err.http_status == 400
    assert "3204011705800001" not in str(err)  # never the values


def test_accepted_boundaries(registry: DciRegistry) -> None:
    body = search_body(GOOD, locale="eng", pagination={"page_size": 10, "page_number": 2})
    body["message"]["transaction_id"] = "x" * 99
    out = registry.sync_search(body)
    assert out["message"]["transaction_id"] == "x" * 99


def test_receiver_is_checked_when_configured(registry: DciRegistry) -> None:
    registry.context.receiver_id = "dtsen-test"
    body = search_body(GOOD)
    body["header"]["receiver_id"] = "another-registry"
    assert _refused(registry, body).code == "err.receiver_id.invalid"


def test_error_shapes() -> None:
    err = DciRequestError("err.request.bad", "the message is not valid")
    detail = {"code": "err.request.bad", "message": "the message is not valid"}
    assert http_error_body(err) == {"errors": [detail], "error": detail}
    a = ack("c-1", err)["message"]
    assert a["ack_status"] == "ERR" and a["correlation_id"] == "c-1" and a["error"]["code"] == "err.request.bad"
    assert DciRegistry.error_response(err) == (400, http_error_body(err))
    assert DciRegistry.error_response(err, as_ack=True)[1]["message"]["ack_status"] == "ERR"
    assert ack("c-2")["message"]["ack_status"] == "ACK" and "error" not in ack("c-2")["message"]
