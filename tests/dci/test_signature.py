"""Envelope signatures: signed by the registry, checked on requests."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dtsen.dci import DciRegistry, DciRequestError, SignaturePolicy, Signer
from dtsen.dci.signature import sign_envelope, verify
from tests.dci.conftest import REGISTRY_KEY, search_body

CLIENT_KEY = Ed25519PrivateKey.generate()
QUERY: dict[str, Any] = {"query_type": "idtype-value", "query": {"type": "NIN", "value": "3204011705800001"}}


def keys(sender: str, key_id: str) -> Any:
    return CLIENT_KEY.public_key() if (sender, key_id) == ("kemensos", "c1") else None


def signed(body: dict[str, Any], key: Ed25519PrivateKey = CLIENT_KEY, key_id: str = "c1", now: float | None = None,
           ttl: int = 600) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k != "signature"}
    return sign_envelope(out, Signer("kemensos", key_id, key, ttl=ttl), now=now)


def test_round_trip() -> None:
    body = signed(search_body(QUERY))
    assert body["signature"].startswith('Signature: namespace="spdci", kidId="kemensos|c1|ed25519"')
    v = verify(body["signature"], body["header"], body["message"], keys)
    assert (v.sender_id, v.key_id) == ("kemensos", "c1") and v.expires - v.created == 600


@pytest.mark.parametrize("case", ["tampered", "unknown_key", "wrong_key", "expired", "future", "malformed", "sender"])
def test_bad_signatures_are_refused(case: str) -> None:
    body = signed(search_body(QUERY))
    if case == "tampered":
        body["message"]["search_request"][0]["search_criteria"]["query"]["value"] = "3204011705800002"
    elif case == "unknown_key":
        body = signed(search_body(QUERY), key_id="c9")
    elif case == "wrong_key":
        body = signed(search_body(QUERY), key=Ed25519PrivateKey.generate())
    elif case == "expired":
        body = signed(search_body(QUERY), now=time.time() - 7200)
    elif case == "future":
        body = signed(search_body(QUERY), now=time.time() + 7200)
    elif case == "malformed":
        body["signature"] = "invalid-signature"
    elif case == "sender":
        body["header"]["sender_id"] = "someone-else"
    with pytest.raises(DciRequestError) as err:
        SignaturePolicy(required=True, keys=keys).check(body["signature"], body["header"], body["message"])
    assert err.value.code == "err.signature.invalid"


def test_unsigned_requests_follow_the_policy() -> None:
    body = search_body(QUERY)
    assert SignaturePolicy(required=False, keys=keys).check("unsigned-stub", body["header"], body["message"]) is None
    with pytest.raises(DciRequestError) as err:
        SignaturePolicy(required=True, keys=keys).check(None, body["header"], body["message"])
    assert err.value.code == "err.signature.missing"


def test_the_registry_checks_requests_and_signs_answers(registry: DciRegistry) -> None:
    registry.context.signatures = SignaturePolicy(required=True, keys=keys)
    with pytest.raises(DciRequestError, match="requires signed"):
        registry.sync_search(search_body(QUERY))
    out = registry.sync_search(signed(search_body(QUERY)))
    assert out["message"]["search_response"][0]["status"] == "succ"

    def registry_keys(sender: str, key_id: str) -> Any:
        return REGISTRY_KEY.public_key() if (sender, key_id) == ("dtsen-test", "k1") else None

    assert verify(out["signature"], out["header"], out["message"], registry_keys).sender_id == "dtsen-test"
