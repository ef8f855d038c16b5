"""DCI search, sync and async, and transaction status, over the hand-written release R0001."""

from __future__ import annotations

from typing import Any

from dtsen.dci import DciRegistry, Scope
from tests.dci.conftest import envelope, search_body, ts


def _item(out: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = out["message"]["search_response"][0]
    return item


def _ids(item: dict[str, Any], kind: str) -> list[str]:
    key = "member_identifier" if kind == "DTSEN_PERSON_ID" else "group_identifier"
    return [i["identifier_value"] for r in item["data"]["reg_records"] for i in r[key] if i["identifier_type"] == kind]


def test_nin_finds_the_person(registry: DciRegistry) -> None:
    out = registry.sync_search(search_body({"query_type": "idtype-value",
                                            "query": {"type": "NIN", "value": "3204011705800001"}}))
    assert out["header"]["action"] == "on-search" and out["header"]["receiver_id"] == "kemensos"
    item = _item(out)
    assert item["status"] == "succ" and item["data"]["reg_record_type"] == "Member"
    (record,) = item["data"]["reg_records"]
    assert {"identifier_type": "NIN", "identifier_value": "3204011705800001", "@type": "Identifier"} in \
        record["member_identifier"]
    demo = record["demographic_info"]
    assert (demo["name"]["given_name"], demo["sex"], demo["birth_date"]) == ("AHMAD SUBAGJA", "male", "1980-05-17")
    assert record["relationship_head"] == "KEPALA_KELUARGA" and item["pagination"]["total_count"] == 1


def test_household_id_finds_the_family_with_members(registry: DciRegistry) -> None:
    out = registry.sync_search(search_body({"query_type": "idtype-value",
                                            "query": {"type": "HOUSEHOLD_ID", "value": "3204010101100001"}}))
    item = _item(out)
    (g,) = item["data"]["reg_records"]
    assert item["data"]["reg_record_type"] == "Group" and g["group_type"] == "family"
    assert (g["poverty_score"], g["group_size"]) == (2, 3)
    assert len(g["member_list"]) == 3 and g["group_head_info"]["demographic_info"]["name"]["given_name"] == "AHMAD SUBAGJA"
    assert {"poor": True} in g["additional_attributes"] and {"pkh": True} in g["additional_attributes"]


def test_response_entity_group_for_a_person_identifier(registry: DciRegistry) -> None:
    out = registry.sync_search(search_body({"query_type": "idtype-value", "response_entity": "Group",
                                            "query": {"type": "NIN", "value": "3204020101500001"}}))
    assert _ids(_item(out), "DTSEN_FAMILY_ID") == ["11"]


def test_unknown_identifiers_are_rejected_or_not_found(registry: DciRegistry) -> None:
    mobile = _item(registry.sync_search(search_body({"query_type": "idtype-value",
                                                     "query": {"type": "MOBILE", "value": "0812"}})))
    assert mobile["status"] == "rjct" and mobile["status_reason_code"] == "rjct.search_criteria.invalid"
    # a value that no NIK can have identifies nobody: found nothing, as the compliance suite expects
    bad = _item(registry.sync_search(search_body({"query_type": "idtype-value",
                                                  "query": {"type": "UIN", "value": "TEST-001"}})))
    assert bad["status"] == "succ" and bad["data"]["reg_records"] == [] and bad["pagination"]["total_count"] == 0
    absent = _item(registry.sync_search(search_body({"query_type": "idtype-value",
                                                     "query": {"type": "NIN", "value": "3204019999999999"}})))
    assert absent["status"] == "succ" and absent["data"]["reg_records"] == []


def test_expression_query(registry: DciRegistry) -> None:
    expr = {"collection": "Group", "query": {"$and": [{"poverty_score": {"$lt": 3}}, {"location": {"$eq": "32"}}]}}
    out = registry.sync_search(search_body({"query_type": "expression",
                                            "query": {"type": "ns:org:QueryType:expression", "value": {"expression": expr}}}))
    assert _ids(_item(out), "DTSEN_FAMILY_ID") == ["10"]
    members = {"collection": "Member", "query": {"$or": [{"age": {"$lt": 15}}, {"gender": "male", "age": {"$gte": 75}}]}}
    out = registry.sync_search(search_body({"query_type": "expression",
                                            "query": {"type": "expression", "value": {"expression": members}}}))
    assert _ids(_item(out), "DTSEN_PERSON_ID") == ["3", "5"]
    unknown = {"collection": "Group", "query": {"location": {"$eq": "central_region"}}}
    item = _item(registry.sync_search(search_body({"query_type": "expression",
                                                   "query": {"type": "expression", "value": {"expression": unknown}}})))
    assert item["status_reason_code"] == "rjct.search_criteria.invalid"


def test_predicate_query_and_pages(registry: DciRegistry) -> None:
    pred = [{"seq_num": 1, "expression1": {"attribute_name": "age", "operator": "lt", "attribute_value": "25"},
             "condition": "and",
             "expression2": {"attribute_name": "poverty_score", "operator": "lt", "attribute_value": "2.5"}}]
    assert _ids(_item(registry.sync_search(search_body({"query_type": "predicate", "query": pred}))),
                "DTSEN_PERSON_ID") == ["3"]
    women = [{"seq_num": 1, "expression1": {"attribute_name": "gender", "operator": "eq", "attribute_value": "female"}}]
    page = _item(registry.sync_search(search_body({"query_type": "predicate", "query": women,
                                                   "sort": [{"attribute_name": "birth_date", "sort_order": "desc"}]},
                                                  pagination={"page_size": 2, "page_number": 2})))
    assert page["pagination"] == {"page_size": 2, "page_number": 2, "total_count": 4}
    assert _ids(page, "DTSEN_PERSON_ID") == ["4", "6"]  # 3 (2010), 2 and 4 (1982), 6 (1940)
    too_big = _item(registry.sync_search(search_body({"query_type": "predicate", "query": women},
                                                     pagination={"page_size": 5000, "page_number": 1})))
    assert too_big["status_reason_code"] == "rjct.pagination.invalid"


def test_scope_limits_what_a_caller_sees(registry: DciRegistry) -> None:
    registry.context.scope_of = lambda sender: Scope(regions=("32.04.02",)) if sender == "pemda" else Scope()
    everyone = [{"seq_num": 1, "expression1": {"attribute_name": "age", "operator": "ge", "attribute_value": 0}}]
    mine = _item(registry.sync_search(search_body({"query_type": "predicate", "query": everyone}, sender="pemda")))
    assert _ids(mine, "DTSEN_PERSON_ID") == ["4", "5"]
    outside = _item(registry.sync_search(search_body({"query_type": "idtype-value",
                                                      "query": {"type": "NIN", "value": "3204011705800001"}},
                                                     sender="pemda")))
    assert outside["data"]["reg_records"] == []  # a person outside the region is not found, not refused


def test_async_search_and_transaction_status(registry: DciRegistry) -> None:
    body = search_body({"query_type": "idtype-value", "query": {"type": "NIN", "value": "3204011705800001"}})
    answer, work = registry.search(body)
    correlation = answer["message"]["correlation_id"]
    assert answer["message"]["ack_status"] == "ACK"
    pending = registry.sync_txn_status(envelope("txn-status", {"transaction_id": "q-1", "txnstatus_request": {
        "reference_id": "q", "txn_type": "search", "attribute_type": "correlation_id", "attribute_value": correlation}}))
    assert [i["status"] for i in pending["message"]["txnstatus_response"]["txn_status"]["search_response"]] == ["pdng"]
    callback = work()
    assert callback.uri == "https://spmis.example/registry/on-search"
    msg = callback.envelope["message"]
    assert callback.envelope["header"]["action"] == "on-search"
    assert (msg["transaction_id"], msg["correlation_id"]) == (body["message"]["transaction_id"], correlation)
    assert msg["search_response"][0]["data"]["reg_records"][0]["demographic_info"]["birth_date"] == "1980-05-17"
    status = registry.sync_txn_status(envelope("txn-status", {"transaction_id": "q-2", "txnstatus_request": {
        "reference_id": "q", "txn_type": "search", "attribute_type": "transaction_id",
        "attribute_value": body["message"]["transaction_id"]}}))
    txn = status["message"]["txnstatus_response"]["txn_status"]
    assert status["header"]["action"] == "txn-on-status"
    assert txn["correlation_id"] == correlation and txn["search_response"][0]["status"] == "succ"
    assert "data" not in txn["search_response"][0]  # statuses only, never the records again
    other = registry.sync_txn_status(envelope("txn-status", {"transaction_id": "q-3", "txnstatus_request": {
        "reference_id": "q", "txn_type": "search", "attribute_type": "transaction_id",
        "attribute_value": body["message"]["transaction_id"]}}, sender="someone-else"))
    assert other["message"]["txnstatus_response"]["txn_status"]["search_response"] == []
    ack, later = registry.txn_status(envelope("txn-status", {"transaction_id": "q-4", "txnstatus_request": {
        "reference_id": "q", "txn_type": "search", "attribute_type": "reference_id_list", "attribute_value": ["r-1"]}},
        uri="https://spmis.example/registry/txn/on-status"))
    cb = later()
    assert ack["message"]["ack_status"] == "ACK" and cb.uri == "https://spmis.example/registry/txn/on-status"
    assert cb.envelope["message"]["correlation_id"] == ack["message"]["correlation_id"]
    assert cb.envelope["message"]["txnstatus_response"]["txn_status"]["search_response"][0]["reference_id"] == "r-1"
    assert ts()
