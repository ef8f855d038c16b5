"""`DciRegistry`: the DCI Social Registry API v1.0.0 as functions, one per endpoint.

The HTTP layer maps each endpoint to one method and does nothing else with the payload:

    POST /registry/sync/search       sync_search(body)        -> 200, the returned envelope
    POST /registry/search            search(body)             -> 200, ack; then POST the callback
    POST /registry/sync/txn/status   sync_txn_status(body)    -> 200, the returned envelope
    POST /registry/txn/status        txn_status(body)         -> 200, ack; then POST the callback
    POST /registry/subscribe         subscribe(body)          -> 200, ack; then POST the callback
    POST /registry/unsubscribe       unsubscribe(body)        -> 200, ack; then POST the callback

The asynchronous methods return `(ack, work)`: send the ACK, then run `work()` (a background
task, or the outbox) and POST `callback.envelope` as JSON to `callback.uri`. A `DciRequestError`
(a bad envelope, a bad signature, a wrong version) is answered with `error_response(err)`. When
a new release becomes current, `notifications(previous, current)` gives the notify messages to
POST, and `mark_notified` records each once it is delivered.

Who the caller is (`sender_id`) and what they may see is the HTTP layer's and the policy's: it
authenticates the bearer token, checks that the token's client is the header's `sender_id`, and
passes a `scope_of(sender_id) -> Scope` (regions, and a trim of each record) to the context.
"""

from __future__ import annotations

from typing import Any

from dtsen.dci import searching, subscriptions
from dtsen.dci.context import Callback, DciContext
from dtsen.dci.envelope import DciRequestError, ack, http_error_body, new_id
from dtsen.dci.searching import Work
from dtsen.dci.store import Subscription


class DciRegistry:
    def __init__(self, context: DciContext) -> None:
        self.context = context

    def sync_search(self, body: Any) -> dict[str, Any]:
        return searching.search_sync(self.context, body)

    def search(self, body: Any) -> tuple[dict[str, Any], Work]:
        return searching.search_async(self.context, body)

    def sync_txn_status(self, body: Any) -> dict[str, Any]:
        return searching.txn_status_sync(self.context, body)

    def txn_status(self, body: Any) -> tuple[dict[str, Any], Work]:
        return searching.txn_status_async(self.context, body)

    def subscribe(self, body: Any) -> tuple[dict[str, Any], Work]:
        return subscriptions.subscribe(self.context, body)

    def unsubscribe(self, body: Any) -> tuple[dict[str, Any], Work]:
        return subscriptions.unsubscribe(self.context, body)

    def notifications(self, previous: str, current: str, batch: int = 100,
                      subs: list[Subscription] | None = None) -> list[tuple[Subscription, Callback]]:
        return subscriptions.notifications(self.context, previous, current, batch, subs)

    def mark_notified(self, subscription: Subscription, release_id: str) -> None:
        subscriptions.mark_notified(self.context, subscription, release_id)

    @staticmethod
    def error_response(error: DciRequestError, as_ack: bool = False) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) for a refused request: an HTTP 4xx with the HttpErrorResponse, or
        (as_ack) an HTTP 200 with an ERR acknowledgement."""
        if as_ack:
            return 200, ack(new_id(), error)
        return error.http_status, http_error_body(error)
