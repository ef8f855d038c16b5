"""The outbox: notifications written in the same transaction as the change they tell about,
delivered later by `dtsen workflow deliver` through the adapters (`dtsen.workflow.adapters`).

    enqueue(conn, keys, key="case:12:approved:citizen", channel="sms", address="+62...", ...)
    deliver(store, keys, adapters, now)        # -> DeliveryReport

A message is written once per `idempotency_key` (a second enqueue of the same key is ignored).
Its address is sealed with AES-256-GCM (the service's sealing key); its text names the case and
its state, never a NIK, a KK or another person's data.

`deliver` takes the due messages, claims each one (`pending` -> `sending`, one UPDATE that only
one deliverer can win), hands it to its channel's adapter outside any transaction, and records
the result: `delivered` (never sent again), or back to `pending` with the next attempt after
`workflow.deliver_backoff_seconds` doubled per attempt (at most a day), or `failed` after
`workflow.deliver_max_attempts` or a permanent failure. A message left `sending` by a deliverer
that died is taken again after `LEASE`; the adapter gets the same idempotency key, so the
gateway (or the file adapter) does not deliver it twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from dtsen.privacy import mask_identifiers
from dtsen.security.clock import Clock, utcnow
from dtsen.security.keys import KeyStore
from dtsen.store.connection import Store
from dtsen.store.tables import outbox
from dtsen.workflow.adapters import ANY_CHANNEL, Adapter, OutboundMessage, PermanentFailure, TemporaryFailure

LEASE = dt.timedelta(minutes=10)
MAX_BACKOFF = dt.timedelta(days=1)
_CONTEXT = b"outbox-address"


def seal_address(keys: KeyStore, channel: str, address: str) -> str:
    return keys.seal(f"{channel}:{address}".encode(), _CONTEXT)


def open_address(keys: KeyStore, sealed: str) -> tuple[str, str]:
    channel, _, address = keys.unseal(sealed, _CONTEXT).decode().partition(":")
    return channel, address


def enqueue(conn: sa.Connection, keys: KeyStore, *, key: str, sealed_contact: str, subject: str, body: str,
            case_id: int | None, now: dt.datetime) -> bool:
    """Write one message for the sealed contact (`seal_address`) unless its key was written
    before; whether it was written."""
    exists = conn.execute(sa.select(outbox.c.id).where(outbox.c.idempotency_key == key)).first()
    if exists is not None:
        return False
    channel, _ = open_address(keys, sealed_contact)
    conn.execute(sa.insert(outbox).values(
        idempotency_key=key[:80], case_id=case_id, channel=channel, address=sealed_contact, subject=subject[:200],
        body=body, status="pending", attempts=0, created_at=now, next_attempt_at=now))
    return True


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    waiting_for_adapter: dict[str, int] = field(default_factory=dict)


def _backoff(attempts: int, first: dt.timedelta) -> dt.timedelta:
    return min(MAX_BACKOFF, first * (2 ** max(0, attempts - 1)))


def deliver(store: Store, keys: KeyStore, adapters: Sequence[Adapter], *, max_attempts: int = 8,
            backoff: dt.timedelta = dt.timedelta(minutes=1), limit: int = 500, clock: Clock = utcnow) -> DeliveryReport:
    """Deliver the messages that are due (see the module docstring); idempotent."""
    by_channel = {a.channel: a for a in adapters}
    report = DeliveryReport()
    now = clock()
    o = outbox.c
    with store.reading() as conn:
        due = conn.execute(sa.select(o.id, o.channel).where(
            sa.or_(sa.and_(o.status == "pending", o.next_attempt_at <= now),
                   sa.and_(o.status == "sending", o.claimed_at < now - LEASE)))
            .order_by(o.id).limit(limit)).all()
    for row in due:
        adapter = by_channel.get(row.channel) or by_channel.get(ANY_CHANNEL)
        if adapter is None:
            report.waiting_for_adapter[row.channel] = report.waiting_for_adapter.get(row.channel, 0) + 1
            continue
        with store.writing() as conn:
            claimed = conn.execute(sa.update(outbox).where(
                o.id == row.id, sa.or_(sa.and_(o.status == "pending", o.next_attempt_at <= now),
                                       sa.and_(o.status == "sending", o.claimed_at < now - LEASE)))
                .values(status="sending", claimed_at=now, attempts=o.attempts + 1)).rowcount
            if claimed != 1:
                continue  # another deliverer took it
            msg = conn.execute(sa.select(outbox).where(o.id == row.id)).mappings().one()
        channel, address = open_address(keys, msg["address"])
        message = OutboundMessage(int(msg["id"]), msg["idempotency_key"], channel, address, msg["subject"], msg["body"])
        values: dict[str, object]
        try:
            adapter.send(message)
            values = {"status": "delivered", "delivered_at": clock(), "last_error": None}
            report.delivered += 1
        except PermanentFailure as exc:
            values = {"status": "failed", "last_error": mask_identifiers(str(exc))[:300]}
            report.failed += 1
        except TemporaryFailure as exc:
            attempts = int(msg["attempts"])
            if attempts >= max_attempts:
                values = {"status": "failed", "last_error": mask_identifiers(str(exc))[:300]}
                report.failed += 1
            else:
                values = {"status": "pending", "next_attempt_at": clock() + _backoff(attempts, backoff),
                          "last_error": mask_identifiers(str(exc))[:300]}
                report.retrying += 1
        with store.writing() as conn:
            conn.execute(sa.update(outbox).where(o.id == row.id, o.status == "sending").values(**values))
    return report
