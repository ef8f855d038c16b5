"""DCI subscriptions: subscribe, unsubscribe, and the notifications a new release brings.

A subscription names an event (REGISTER, UPDATE, DELETE, LINK, UNLINK; DEREGISTER is taken as
DELETE and NewHouseHoldMember as LINK), a record type (Member or Person: persons; Group or
Household: families) and a filter: an identifier (`{"type": "NIN", "value": ...}`; a KK follows
the family and, for Member subscriptions, its members) or an expression or predicate query, which
a changed record must match in the release where it is (the older one, for a deletion).

Events come from the change feed between two releases (`dtsen.serve.feed`): register, update,
delete, link and unlink map one to one. `notifications(ctx, a, b)` gives, for every active
subscription made before `b`, the notify messages of the changes from `a` to `b` that it asked
for, each to the subscriber's notify endpoint, at most `batch` events per message. Sending them
(and retrying) is the outbox's work; after they are sent, `mark_notified` records it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dtsen.dci.context import Callback, DciContext, Scope, callback_uri, notify_uri
from dtsen.dci.envelope import ack, callback_envelope, new_id, now
from dtsen.dci.messages import (
    NotifyData,
    NotifyEvent,
    NotifyEventRequest,
    SubscribeRequest,
    SubscribeRequestItem,
    SubscribeResponse,
    SubscribeResponseItem,
    SubscriptionInfo,
    SubscriptionStatus,
    UnsubscribeRequest,
    UnsubscribeResponse,
)
from dtsen.dci.query import GROUP_COLLECTIONS, QueryError, expression, idtype_value, predicate
from dtsen.dci.records import group, identifiers_only, member
from dtsen.dci.searching import Work
from dtsen.dci.store import Subscription, Transaction, TxnItem
from dtsen.serve.feed import change_feed
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import QueryInputError, clean_identifier, family_by_id, members, person_by_id
from dtsen.serve.models import Change
from dtsen.serve.search import Entity, Query, check_query, matching_ids

EVENTS = {"REGISTER": "register", "UPDATE": "update", "DELETE": "delete", "LINK": "link", "UNLINK": "unlink",
          "DEREGISTER": "delete", "NEWHOUSEHOLDMEMBER": "link"}
EVENT_NAMES = {"register": "REGISTER", "update": "UPDATE", "delete": "DELETE", "link": "LINK", "unlink": "UNLINK"}


def event_of(reg_event_type: str) -> str | None:
    """REGISTER (or spdci-common:RegistryEventType:Register) -> 'register'; None when unknown."""
    return EVENTS.get(str(reg_event_type).split(":")[-1].strip().upper())


def entity_of(notify_record_type: str) -> Entity:
    return "family" if str(notify_record_type).split(":")[-1].lower() in GROUP_COLLECTIONS else "person"


def _filter_type(item: SubscribeRequestItem) -> str:
    crit = item.subscribe_criteria
    if crit.filter_type:
        return crit.filter_type
    f = crit.filter
    if isinstance(f, dict) and "type" in f and "value" in f and not isinstance(f.get("value"), dict):
        return "idtype-value"
    return "predicate" if isinstance(f, list) else "expression"


def _query(filter_type: str, entity: Entity, f: Any) -> Query:
    if filter_type == "expression":
        return expression(f)[1]
    return predicate(f)


class _Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message[:999]


def _check(item: SubscribeRequestItem) -> tuple[str, str]:
    """(event, filter type) of a good item; raises `_Rejected` with the reason code."""
    crit = item.subscribe_criteria
    event = event_of(crit.reg_event_type)
    if event is None:
        raise _Rejected("rjct.notify_types.invalid", f"unknown event {crit.reg_event_type!r}; use {', '.join(EVENTS)}")
    filter_type = _filter_type(item)
    entity = entity_of(crit.notify_record_type)
    try:
        if filter_type == "idtype-value":
            look = idtype_value(crit.filter)
            if look.kind in ("nik", "kk"):
                clean_identifier(look.value, look.kind.upper())
            elif not look.value.isdigit():
                raise QueryError(f"{look.kind} must be a number")
        elif filter_type == "graphql":
            raise QueryError("graphql filters are not supported; use idtype-value, expression or predicate")
        else:
            check_query(entity, _query(filter_type, entity, crit.filter))
    except (QueryError, QueryInputError) as exc:
        raise _Rejected("rjct.notify_details.invalid", str(exc)) from None
    return event, filter_type


def subscribe(ctx: DciContext, body: Any) -> tuple[dict[str, Any], Work]:
    """POST /registry/subscribe: the ACK now; the subscriptions are made by the work, which gives
    the on-subscribe callback."""
    request = ctx.parse(body, "subscribe", SubscribeRequest)
    correlation_id = new_id()
    sender = request.header.sender_id

    def work() -> Callback:
        current = ctx.releases.store.current()
        out = []
        existing = ctx.store.subscriptions()
        for item in request.message.subscribe_request:
            try:
                event, filter_type = _check(item)
            except _Rejected as rejected:
                out.append(SubscribeResponseItem(reference_id=item.reference_id, timestamp=now(), status="rjct",
                                                 status_reason_code=rejected.code,
                                                 status_reason_message=rejected.message))
                continue
            crit = item.subscribe_criteria
            same = next((s for s in existing if s.sender_id == sender and s.event == event and s.filter == crit.filter
                         and s.notify_record_type == crit.notify_record_type), None)
            if same is not None:
                out.append(SubscribeResponseItem(
                    reference_id=item.reference_id, timestamp=now(), status="rjct",
                    status_reason_code="rjct.event.already_subscribed",
                    status_reason_message=f"already subscribed as {same.code}"))
                continue
            sub = Subscription(
                code=f"sub-{new_id()}", sender_id=sender, event=event, entity=entity_of(crit.notify_record_type),
                filter_type=filter_type, filter=crit.filter, notify_record_type=crit.notify_record_type,
                notify_uri=notify_uri(request.header.sender_uri), created=now().isoformat(), from_release=current,
                reg_event_type=crit.reg_event_type,
            )
            ctx.store.put_subscription(sub)
            info = SubscriptionInfo(code=sub.code, status="subscribe", timestamp=now(), reg_type=crit.reg_type,
                                    reg_event_type=crit.reg_event_type, filter_type=filter_type, filter=crit.filter,
                                    notify_record_type=crit.notify_record_type, locale=item.locale)
            out.append(SubscribeResponseItem(reference_id=item.reference_id, timestamp=now(), status="succ",
                                             subscriptions=[info]))
        response = SubscribeResponse(transaction_id=request.message.transaction_id, correlation_id=correlation_id,
                                     subscribe_response=out)
        ok = any(i.status == "succ" for i in out)
        ctx.store.put_transaction(Transaction(
            request.message.transaction_id, correlation_id, sender, "subscribe", "succ" if ok else "rjct",
            now().isoformat(), tuple(TxnItem(i.reference_id, i.status, i.status_reason_code) for i in out)))
        envelope = ctx.sign(callback_envelope("on-subscribe", response.dump(), sender_id=ctx.registry_id,
                                              receiver_id=sender, status="succ" if ok else "rjct",
                                              total_count=len(out)))
        return Callback(callback_uri(request.header.sender_uri, "subscribe"), envelope)

    return ack(correlation_id), work


def unsubscribe(ctx: DciContext, body: Any) -> tuple[dict[str, Any], Work]:
    """POST /registry/unsubscribe: the ACK now; the work ends the subscriptions and gives the
    on-unsubscribe callback. Only the subscriber may end its subscriptions."""
    request = ctx.parse(body, "unsubscribe", UnsubscribeRequest)
    correlation_id = new_id()
    sender = request.header.sender_id

    def work() -> Callback:
        done: list[SubscriptionStatus] = []
        problem: tuple[str, str] | None = None
        for code in request.message.subscription_codes:
            sub = ctx.store.subscription(code)
            if sub is None:
                problem = problem or ("rjct.subscription_code.invalid", "unknown subscription code")
            elif sub.sender_id != sender:
                problem = problem or ("rjct.requester.invalid", "the subscription belongs to another sender")
            elif sub.status == "unsubscribe":
                problem = problem or ("rjct.event.already_unsubscribed", "the subscription was already ended")
            else:
                ctx.store.put_subscription(replace(sub, status="unsubscribe"))
                done.append(SubscriptionStatus(code=code, status="unsubscribe"))
        response = UnsubscribeResponse(
            transaction_id=request.message.transaction_id, correlation_id=correlation_id, timestamp=now(),
            status="rjct" if problem else "succ", status_reason_code=problem[0] if problem else None,
            status_reason_message=problem[1] if problem else None, subscription_status=done,
        )
        envelope = ctx.sign(callback_envelope("on-unsubscribe", response.dump(), sender_id=ctx.registry_id,
                                              receiver_id=sender, status=response.status))
        return Callback(callback_uri(request.header.sender_uri, "unsubscribe"), envelope)

    return ack(correlation_id), work


# -- notifications ----------------------------------------------------------------------------------


def _all_changes(ctx: DciContext, a: str, b: str, kind: str) -> list[Change]:
    out: list[Change] = []
    offset = 0
    while True:
        feed = change_feed(ctx.releases, a, b, kinds=[kind], offset=offset, limit=10_000)
        out += feed.changes
        offset += len(feed.changes)
        if offset >= feed.total or not feed.changes:
            return out


def _wanted_ids(sub: Subscription, h: ReleaseHandle, changes: list[Change]) -> set[int]:
    """The ids among `changes` that the subscription's filter selects, in release `h`."""
    ids = sorted({c.id for c in changes})
    if sub.filter_type == "idtype-value":
        look = idtype_value(sub.filter)
        if look.kind in ("person_id", "family_id"):
            return {int(look.value)} & set(ids)
        field = "nik" if look.kind == "nik" else "kk"
        if sub.entity == "person":
            rows = h.rows(f"SELECT person_id FROM persons WHERE {field} = ?", (look.value,))
            return {r["person_id"] for r in rows} & set(ids)
        if field == "kk":
            rows = h.rows("SELECT family_id FROM families WHERE kk = ?", (look.value,))
        else:
            rows = h.rows("SELECT family_id FROM persons WHERE nik = ? AND family_id IS NOT NULL", (look.value,))
        return {r["family_id"] for r in rows} & set(ids)
    entity: Entity = "family" if sub.entity == "family" else "person"
    return matching_ids(h, entity, _query(sub.filter_type, entity, sub.filter), ids)


def _record(h: ReleaseHandle, c: Change, scope: Scope) -> dict[str, Any] | None:
    if c.change == "delete":
        return identifiers_only(c.entity, c.id)
    if c.entity == "person":
        p = person_by_id(h, c.id)
        kept = scope.persons([p.person]) if p else []
        return member(kept[0]) if kept else None
    f = family_by_id(h, c.id)
    kept_f = scope.families([f.family]) if f else []
    return group(kept_f[0], scope.persons(members(h, c.id))) if kept_f else None


def due(sub: Subscription, a: str) -> bool:
    """Whether `sub` is next to be told the changes from release `a` (to the release after it):
    it was last told up to `a`, or made while `a` was current and told nothing since."""
    return (sub.notified_release or sub.from_release) == a


def notifications(ctx: DciContext, a: str, b: str, batch: int = 100,
                  subscriptions: list[Subscription] | None = None) -> list[tuple[Subscription, Callback]]:
    """The notify messages of the changes from release `a` to release `b`, per subscription:
    those given, or every active subscription that is `due` from `a` (one told up to an earlier
    release is first told the releases in between, in order, so that no change is skipped)."""
    out: list[tuple[Subscription, Callback]] = []
    subs = subscriptions if subscriptions is not None else [s for s in ctx.store.subscriptions() if due(s, a)]
    if not subs:
        return out
    older, newer = ctx.releases.open(a), ctx.releases.open(b)
    try:
        feeds: dict[str, list[Change]] = {}
        for sub in subs:
            changes = feeds.setdefault(sub.event, _all_changes(ctx, a, b, sub.event))
            mine = [c for c in changes if c.entity == sub.entity]
            scope = ctx.scope_of(sub.sender_id)
            mine = [c for c in mine if scope.sees(c.region_code)]
            where = older if sub.event == "delete" else newer
            keep = _wanted_ids(sub, where, mine)
            events = []
            for c in (c for c in mine if c.id in keep):
                record = _record(where, c, scope)
                if record is None:
                    continue
                data = NotifyData(reg_event_type=EVENT_NAMES[c.change],
                                  reg_record_type="Group" if c.entity == "family" else "Member", reg_records=record)
                events.append(NotifyEvent(reference_id=f"{b}:{c.entity}:{c.id}:{c.change}:{c.other_id or ''}",
                                          timestamp=now(), data=data))
            for start in range(0, len(events), batch):
                chunk = events[start: start + batch]
                message = NotifyEventRequest(transaction_id=f"{sub.code[:60]}-{b}-{start // batch}", notify_event=chunk)
                envelope = ctx.sign(callback_envelope("notify", message.dump(), sender_id=ctx.registry_id,
                                                      receiver_id=sub.sender_id, total_count=len(chunk)))
                out.append((sub, Callback(sub.notify_uri, envelope)))
    finally:
        older.close()
        newer.close()
    return out


def mark_notified(ctx: DciContext, sub: Subscription, release_id: str) -> None:
    """Record that the subscriber has been sent the changes up to `release_id`."""
    ctx.store.put_subscription(replace(sub, notified_release=release_id))
