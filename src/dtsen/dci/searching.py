"""DCI search, synchronous and asynchronous, and the transaction status.

Each item of a search request is answered on its own (`succ` with a page of records, or `rjct`
with the specification's reason code), against the release current when the request runs, which
is held for the whole request. The asynchronous form returns the acknowledgement at once and a
function that does the work and gives the `on-search` callback to POST to the `sender_uri`; the
transaction is recorded (`pdng`, then `succ` or `rjct`) for the transaction-status query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dtsen.dci.context import Callback, DciContext, Scope, callback_uri
from dtsen.dci.envelope import ack, callback_envelope, new_id, now
from dtsen.dci.messages import (
    PageInfo,
    Pagination,
    SearchData,
    SearchRequest,
    SearchRequestItem,
    SearchResponse,
    SearchResponseItem,
    TxnStatusBody,
    TxnStatusRequest,
    TxnStatusResponse,
)
from dtsen.dci.query import QueryError, expression, idtype_value, predicate
from dtsen.dci.records import group, member
from dtsen.dci.store import Transaction, TxnItem
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import (
    QueryInputError,
    family_by_id,
    family_by_kk,
    members,
    person_by_id,
    persons_by_nik,
)
from dtsen.serve.models import Family, Person
from dtsen.serve.search import Entity, search

Work = Callable[[], Callback]
_DIGITS16 = re.compile(r"^[0-9]{16}$")


def _reject(item: SearchRequestItem, code: str, message: str) -> SearchResponseItem:
    return SearchResponseItem(reference_id=item.reference_id, timestamp=now(), status="rjct",
                              status_reason_code=code, status_reason_message=message[:999], locale=item.locale)


def _by_identifier(h: ReleaseHandle, item: SearchRequestItem, scope: Scope) -> tuple[Entity, list[Person | Family]]:
    look = idtype_value(item.search_criteria.query)
    wanted = item.search_criteria.response_entity
    people: list[Person] = []
    families: list[Family] = []
    if look.kind in ("nik", "kk") and not _DIGITS16.match(look.value):
        # a value no NIK or KK can have identifies nobody: found nothing (the query itself is sound)
        return ("person" if look.kind == "nik" else "family"), []
    if look.kind == "nik":
        people = persons_by_nik(h, look.value)
    elif look.kind == "person_id":
        found = person_by_id(h, int(look.value)) if look.value.isdigit() else None
        people = [found.person] if found else []
    else:
        rec = (family_by_kk(h, look.value) if look.kind == "kk"
               else family_by_id(h, int(look.value)) if look.value.isdigit() else None)
        families = [rec.family] if rec else []
    if people and wanted == "Group":  # the families of the persons found
        ids = sorted({p.family_id for p in scope.persons(people) if p.family_id is not None})
        families = [r.family for r in (family_by_id(h, i) for i in ids) if r is not None]
        people = []
    elif families and wanted == "Member":
        people = [m for f in scope.families(families) for m in members(h, f.family_id)]
        families = []
    if people:
        return "person", list(scope.persons(people))
    return ("family", list(scope.families(families))) if families or look.kind in ("kk", "family_id") \
        else ("person", [])


def _records(h: ReleaseHandle, entity: Entity, found: list[Any], scope: Scope) -> list[dict[str, Any]]:
    if entity == "person":
        return [member(p) for p in found]
    return [group(f, scope.persons(members(h, f.family_id))) for f in found]


def search_item(ctx: DciContext, h: ReleaseHandle, item: SearchRequestItem, scope: Scope) -> SearchResponseItem:
    crit = item.search_criteria
    paging = crit.pagination or item.pagination or Pagination(page_size=ctx.default_page_size)
    if paging.page_size > ctx.max_page_size:
        return _reject(item, "rjct.pagination.invalid", f"page_size is at most {ctx.max_page_size}")
    offset = (paging.page_number - 1) * paging.page_size
    try:
        if crit.query_type == "idtype-value":
            entity, found = _by_identifier(h, item, scope)
            total = len(found)
            found = found[offset: offset + paging.page_size]
        else:
            if crit.query_type == "expression":
                entity, query = expression(crit.query)
            else:
                entity, query = "person", predicate(crit.query)
            if crit.response_entity is not None:
                entity = "family" if crit.response_entity == "Group" else "person"
            order = [(s.attribute_name, s.sort_order == "desc") for s in crit.sort or []]
            page = search(h, entity, query, regions=list(scope.regions), order_by=order, offset=offset,
                          limit=paging.page_size, max_limit=ctx.max_page_size)
            total = page.total
            found = list(scope.persons(page.items) if entity == "person"  # type: ignore[arg-type]
                         else scope.families(page.items))  # type: ignore[arg-type]
    except (QueryError, QueryInputError) as exc:
        code = "rjct.sort.invalid" if "sort" in str(exc) else "rjct.search_criteria.invalid"
        return _reject(item, code, str(exc))
    records = _records(h, entity, found, scope)
    return SearchResponseItem(
        reference_id=item.reference_id, timestamp=now(), status="succ", locale=item.locale,
        data=SearchData(reg_record_type="Member" if entity == "person" else "Group", reg_records=records),
        pagination=PageInfo(page_size=paging.page_size, page_number=paging.page_number, total_count=total),
    )


def run_search(ctx: DciContext, request: SearchRequest, sender_id: str, correlation_id: str) -> SearchResponse:
    scope = ctx.scope_of(sender_id)
    with ctx.releases.acquire() as h:  # one release for every item of the request
        items = [search_item(ctx, h, item, scope) for item in request.search_request]
    return SearchResponse(transaction_id=request.transaction_id, correlation_id=correlation_id, search_response=items)


def _record(ctx: DciContext, response: SearchResponse, sender_id: str, txn_type: str = "search") -> None:
    items = tuple(TxnItem(i.reference_id, i.status, i.status_reason_code,
                          i.pagination.total_count if i.pagination else None) for i in response.search_response)
    status = "succ" if any(i.status == "succ" for i in items) else "rjct"
    ctx.store.put_transaction(Transaction(response.transaction_id, response.correlation_id, sender_id, txn_type,
                                          status, now().isoformat(), items))


def _envelope(ctx: DciContext, response: SearchResponse, receiver: str | None) -> dict[str, Any]:
    n = len(response.search_response)
    ok = any(i.status == "succ" for i in response.search_response)
    return ctx.sign(callback_envelope("on-search", response.dump(), sender_id=ctx.registry_id, receiver_id=receiver,
                                      status="succ" if ok else "rjct", total_count=n))


def search_sync(ctx: DciContext, body: Any) -> dict[str, Any]:
    """POST /registry/sync/search: the on-search envelope as the response body."""
    request = ctx.parse(body, "search", SearchRequest)
    response = run_search(ctx, request.message, request.header.sender_id, new_id())
    _record(ctx, response, request.header.sender_id)
    return _envelope(ctx, response, request.header.sender_id)


def search_async(ctx: DciContext, body: Any) -> tuple[dict[str, Any], Work]:
    """POST /registry/search: the ACK now, and the work that gives the on-search callback."""
    request = ctx.parse(body, "search", SearchRequest)
    correlation_id = new_id()
    sender = request.header.sender_id
    ctx.store.put_transaction(Transaction(request.message.transaction_id, correlation_id, sender, "search", "pdng",
                                          now().isoformat(), tuple(TxnItem(i.reference_id, "pdng")
                                                                   for i in request.message.search_request)))

    def work() -> Callback:
        response = run_search(ctx, request.message, sender, correlation_id)
        _record(ctx, response, sender)
        return Callback(callback_uri(request.header.sender_uri, "search"), _envelope(ctx, response, sender))

    return ack(correlation_id), work


# -- transaction status -------------------------------------------------------------------------------


def txn_status(ctx: DciContext, request: TxnStatusRequest, sender_id: str, correlation_id: str) -> TxnStatusResponse:
    """The status of the requester's own earlier transactions (never anyone else's)."""
    q = request.txnstatus_request
    found = [t for t in ctx.store.transactions(sender_id, q.attribute_type, q.attribute_value)
             if t.txn_type == q.txn_type or q.txn_type == "receipt"]
    first = found[0] if found else None
    items = [
        SearchResponseItem(reference_id=i.reference_id, timestamp=now(), status=i.status,
                           status_reason_code=i.status_reason_code)
        for t in found for i in t.items
    ]
    status = SearchResponse(
        transaction_id=first.transaction_id if first else (q.attribute_value if isinstance(q.attribute_value, str)
                                                           else request.transaction_id),
        correlation_id=first.correlation_id if first else correlation_id,
        search_response=items,
    )
    return TxnStatusResponse(transaction_id=request.transaction_id, correlation_id=correlation_id,
                             txnstatus_response=TxnStatusBody(txn_type=q.txn_type, txn_status=status.dump()))


def txn_status_sync(ctx: DciContext, body: Any) -> dict[str, Any]:
    """POST /registry/sync/txn/status: the txn-on-status envelope as the response body."""
    request = ctx.parse(body, "txn-status", TxnStatusRequest)
    response = txn_status(ctx, request.message, request.header.sender_id, new_id())
    return ctx.sign(callback_envelope("txn-on-status", response.dump(), sender_id=ctx.registry_id,
                                      receiver_id=request.header.sender_id))


def txn_status_async(ctx: DciContext, body: Any) -> tuple[dict[str, Any], Work]:
    """POST /registry/txn/status: the ACK now, and the work that gives the txn-on-status callback."""
    request = ctx.parse(body, "txn-status", TxnStatusRequest)
    correlation_id = new_id()

    def work() -> Callback:
        response = txn_status(ctx, request.message, request.header.sender_id, correlation_id)
        envelope = ctx.sign(callback_envelope("txn-on-status", response.dump(), sender_id=ctx.registry_id,
                                              receiver_id=request.header.sender_id))
        return Callback(callback_uri(request.header.sender_uri, "txn-status"), envelope)

    return ack(correlation_id), work
