"""The DCI Social Registry API v1.0.0 (Social Protection Digital Convergence Initiative), as a library.

envelope       the message envelope (signature, header, message), acknowledgements, error codes
signature      Ed25519 signatures of envelopes (the form `MsgSignature` describes)
messages       pydantic models of the search, subscribe, unsubscribe, transaction-status and notify messages
query          idtype-value (NIN = NIK, HOUSEHOLD_ID = KK), expression and predicate queries onto
               `dtsen.serve.search`
records        persons as `Member`, families as `Group`
searching      sync and async search (on-search), transaction status (txn-on-status)
subscriptions  subscribe, unsubscribe, notifications of register/update/delete/link/unlink events
               from the change feed between releases
store          what is kept between requests (transactions, subscriptions): an interface and an
               in-memory implementation
registry       `DciRegistry`: one method per endpoint, for the HTTP layer

Running the independent compliance suite (github.com/OpenSPP/spdci-compliance, Node 18+, Cucumber)
against the service, once the HTTP layer exposes these functions:

    git clone https://github.com/OpenSPP/spdci-compliance && cd spdci-compliance && npm ci
    API_BASE_URL=http://127.0.0.1:8000/dci/ DOMAIN=social \
    DCI_AUTH_TOKEN=<a client's bearer token> DCI_SENDER_ID=<that client's id> DCI_RECEIVER_ID=<registry id> \
    CALLBACK_SERVER_ENABLED=true CALLBACK_SERVER_HOST=127.0.0.1 CALLBACK_SERVER_PORT=3336 \
    npm run test:social

(`CALLBACK_SERVER_ENABLED` starts the suite's own callback receiver and puts its address in every
request's `sender_uri`; `API_BASE_URL` ends with a slash, the suite appends `registry/...`.)

What it needs from the HTTP layer:
- the endpoints under `API_BASE_URL` + `registry/...` (sync/search, search, sync/txn/status,
  txn/status, subscribe, unsubscribe), JSON in and out with `Content-Type: application/json`;
- bearer authentication: no or a bad `Authorization` header gives 401 or 403 (the suite's
  security features); a missing `Content-Type` gives 400 or 415;
- a refused request (`DciRequestError`: bad timestamp, locale, lengths over 99, page_size or
  page_number under 1, a missing message) as an HTTP 4xx with `http_error_body` (the
  specification's `errors` list plus the `error` object the suite looks for) or an HTTP 200 ERR
  acknowledgement (`DciRegistry.error_response`);
- the asynchronous callbacks POSTed to the request's `sender_uri` within the suite's wait
  (`CALLBACK_WAIT_MS`, 120 s by default), with the request's `transaction_id` and the ACK's
  `correlation_id`;
- with `DCI_SIGNATURE_VALIDATION_ENABLED=true`, an invalid signature refused: set
  `SignaturePolicy(required=..., keys=...)` in the context (the suite's placeholder `unsigned-stub`
  is accepted while signatures are not required).
The suite also validates every response against `social_api_v1.0.0.yaml`. Its test data
(identifier `UIN` `TEST-001`, location `central_region`) is not in any DTSEN release: those
searches are answered `rjct.search_criteria.invalid`, which the schema allows.
"""

from __future__ import annotations

from dtsen.dci.context import EVERYTHING, Callback, DciContext, Scope
from dtsen.dci.envelope import DciRequestError
from dtsen.dci.registry import DciRegistry
from dtsen.dci.signature import SignaturePolicy, Signer
from dtsen.dci.store import DciStore, MemoryDciStore, Subscription, Transaction

__all__ = [
    "EVERYTHING", "Callback", "DciContext", "DciRegistry", "DciRequestError", "DciStore", "MemoryDciStore",
    "Scope", "SignaturePolicy", "Signer", "Subscription", "Transaction",
]  # fmt: skip
