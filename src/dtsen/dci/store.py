"""What the DCI flows keep between requests: transactions (for the transaction status) and
subscriptions (for notifications).

`DciStore` is the interface; the service keeps them in its operational store. `MemoryDciStore`
is the reference implementation (tests, a single process). Transactions keep statuses and
counts only, never the records found: a transaction-status answer says what happened to a
request, it does not hand the data out a second time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


@dataclass(frozen=True)
class TxnItem:
    reference_id: str
    status: str
    status_reason_code: str | None = None
    total_count: int | None = None


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    correlation_id: str
    sender_id: str
    txn_type: str  # search | subscribe | unsubscribe
    status: str  # rcvd | pdng | succ | rjct
    created: str
    items: tuple[TxnItem, ...] = ()


@dataclass(frozen=True)
class Subscription:
    code: str
    sender_id: str
    event: str  # REGISTER | UPDATE | DELETE | LINK | UNLINK
    entity: str  # person | family
    filter_type: str  # idtype-value | expression | predicate
    filter: Any
    notify_record_type: str
    notify_uri: str | None
    created: str
    from_release: str | None  # the release current when it was made: changes after it are notified
    status: str = "subscribe"
    notified_release: str | None = None
    reg_event_type: str = ""  # as the subscriber wrote it
    extra: dict[str, Any] = field(default_factory=dict)


class DciStore(Protocol):
    def put_transaction(self, txn: Transaction) -> None: ...
    def transactions(self, sender_id: str, attribute_type: str, value: str | list[str]) -> list[Transaction]: ...
    def put_subscription(self, sub: Subscription) -> None: ...
    def subscription(self, code: str) -> Subscription | None: ...
    def subscriptions(self, active_only: bool = True) -> list[Subscription]: ...


class MemoryDciStore:
    """A `DciStore` in memory, safe for threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._txns: list[Transaction] = []
        self._subs: dict[str, Subscription] = {}

    def put_transaction(self, txn: Transaction) -> None:
        with self._lock:
            self._txns = [t for t in self._txns if t.correlation_id != txn.correlation_id] + [txn]

    def transactions(self, sender_id: str, attribute_type: str, value: str | list[str]) -> list[Transaction]:
        with self._lock:
            mine = [t for t in self._txns if t.sender_id == sender_id]
        if attribute_type == "transaction_id":
            return [t for t in mine if t.transaction_id == value]
        if attribute_type == "correlation_id":
            return [t for t in mine if t.correlation_id == value]
        wanted = set(value if isinstance(value, list) else [value])
        return [replace(t, items=tuple(i for i in t.items if i.reference_id in wanted))
                for t in mine if any(i.reference_id in wanted for i in t.items)]

    def put_subscription(self, sub: Subscription) -> None:
        with self._lock:
            self._subs[sub.code] = sub

    def subscription(self, code: str) -> Subscription | None:
        with self._lock:
            return self._subs.get(code)

    def subscriptions(self, active_only: bool = True) -> list[Subscription]:
        with self._lock:
            subs = list(self._subs.values())
        return [s for s in subs if s.status == "subscribe"] if active_only else subs
