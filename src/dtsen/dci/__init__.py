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
against the service (`dtsen.api.dci_routes` serves these functions at /dci/registry/...):

    # the project: a client for the suite, and the suite's callback receiver as an agreed origin
    #   [api] dci_registry_id = "dtsen-demo"   dci_callback_origins = ["http://127.0.0.1:3336"]
    dtsen clients add spmis-uji --purpose targeting --project demo     # prints the secret
    dtsen serve --project demo --port 8765 &
    TOKEN=$(curl -s -X POST http://127.0.0.1:8765/auth/token -d grant_type=client_credentials \
            -d client_id=spmis-uji -d client_secret=... | jq -r .access_token)
    git clone https://github.com/OpenSPP/spdci-compliance && cd spdci-compliance && npm ci
    API_BASE_URL=http://127.0.0.1:8765/dci/ DOMAIN=social DCI_AUTH_TOKEN=$TOKEN AUTH_TOKEN=$TOKEN \
    DCI_SENDER_ID=spmis-uji SENDER_ID=spmis-uji DCI_RECEIVER_ID=dtsen-demo RECEIVER_ID=dtsen-demo \
    CALLBACK_SERVER_ENABLED=true CALLBACK_SERVER_HOST=127.0.0.1 CALLBACK_SERVER_PORT=3336 \
    npx cucumber-js --tags '@profile=sr-registry'        # add DCI_SIGNATURE_VALIDATION_ENABLED=true too

(The suite's domain steps read DCI_AUTH_TOKEN/DCI_SENDER_ID, its common steps AUTH_TOKEN/SENDER_ID;
`API_BASE_URL` ends with a slash, the suite appends `registry/...`. The common registry features
run with `--tags '@tier=core and not @profile=spmis-client and not @profile=spmis-subscriber'`.)

What the HTTP layer gives the suite: bearer authentication (no or a bad token: 401 in the
service's error shape, which has the `error` member the suite looks for); a body that is not
`application/json`: 415; a refused envelope (`DciRequestError`: timestamp, locale, lengths over
99, page_size or page_number under 1, a missing message, an invalid signature): an HTTP 4xx with
`http_error_body`; the asynchronous callbacks POSTed to the request's `sender_uri` with the
request's `transaction_id` and the ACK's `correlation_id`; every response signed. The suite's test
data (identifier `UIN` `TEST-001`) identifies nobody: such a search is answered `succ` with no
records. Its location `central_region` is not a region code: `rjct.search_criteria.invalid`.
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
