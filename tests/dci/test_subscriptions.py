"""DCI subscribe, unsubscribe, and notifications of the changes from R0001 to R0002 (see
tests/serve/fakes.py for what changed)."""

from __future__ import annotations

from typing import Any

from dtsen.dci import DciRegistry, Scope
from tests.dci.conftest import envelope, ts

URI = "https://spmis.example/registry/on-subscribe"


def subscribe(registry: DciRegistry, event: str, record: str, filt: Any, sender: str = "kemensos",
              filter_type: str | None = None) -> dict[str, Any]:
    criteria: dict[str, Any] = {"reg_event_type": event, "filter": filt, "notify_record_type": record}
    if filter_type:
        criteria["filter_type"] = filter_type
    answer, work = registry.subscribe(envelope("subscribe", {"transaction_id": "s", "subscribe_request": [
        {"reference_id": "r", "timestamp": ts(), "subscribe_criteria": criteria}]}, sender, uri=URI))
    assert answer["message"]["ack_status"] == "ACK"
    callback = work()
    assert callback.uri == URI and callback.envelope["header"]["action"] == "on-subscribe"
    item: dict[str, Any] = callback.envelope["message"]["subscribe_response"][0]
    return item


def code_of(item: dict[str, Any]) -> str:
    assert item["status"] == "succ", item
    code: str = item["subscriptions"][0]["code"]
    return code


def events(registry: DciRegistry) -> dict[str, list[tuple[str, str, str]]]:
    """subscription code -> (event, record type, DTSEN id) of every notified change."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for sub, callback in registry.notifications("R0001", "R0002"):
        assert callback.uri == "https://spmis.example/registry/notify"
        assert callback.envelope["header"]["action"] == "notify" and callback.envelope["header"]["receiver_id"] == sub.sender_id
        for e in callback.envelope["message"]["notify_event"]:
            rec = e["data"]["reg_records"]
            ids = rec.get("member_identifier") or rec.get("group_identifier")
            dtsen_id = next(i["identifier_value"] for i in ids if i["identifier_type"].startswith("DTSEN_"))
            out.setdefault(sub.code, []).append((e["data"]["reg_event_type"], e["data"]["reg_record_type"], dtsen_id))
    return out


def test_notifications_follow_each_subscription(registry: DciRegistry) -> None:
    joko = code_of(subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"}))
    regency = code_of(subscribe(registry, "UPDATE", "Group",
                                {"type": "expression", "value": {"expression": {"query": {"location": "32"}}}},
                                filter_type="expression"))
    dewi = code_of(subscribe(registry, "DELETE", "Member", {"type": "NIN", "value": "3204014202400001"}))
    household = code_of(subscribe(registry, "LINK", "Member", {"type": "HOUSEHOLD_ID", "value": "3204020202100001"}))
    old = code_of(subscribe(registry, "spdci-common:RegistryEventType:Update", "Member", [
        {"seq_num": 1, "expression1": {"attribute_name": "age", "operator": "ge", "attribute_value": 70}}],
        filter_type="predicate"))
    got = events(registry)
    assert got[joko] == [("REGISTER", "Member", "8")]
    assert got[regency] == [("UPDATE", "Group", "10")]  # family 13 changed too, but lives in 33
    assert got[dewi] == [("DELETE", "Member", "6")]  # found in R0001, where she still is
    assert got[household] == [("LINK", "Member", "3")]  # RINA joined the family of that KK
    assert got[old] == [("UPDATE", "Member", "5")]  # BUDI (75) died; RINA's update is not for the old


def test_notified_records_are_whole_and_deletions_carry_ids_only(registry: DciRegistry) -> None:
    subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"})
    subscribe(registry, "DELETE", "Group", {"type": "HOUSEHOLD_ID", "value": "3204010303100001"})
    records = [e["data"]["reg_records"] for _, c in registry.notifications("R0001", "R0002")
               for e in c.envelope["message"]["notify_event"]]
    person = next(r for r in records if r["@type"] == "Member")
    assert person["demographic_info"]["birth_date"] == "1975-12-12"
    family = next(r for r in records if r["@type"] == "Group")
    assert family == {"@type": "Group", "group_identifier": [
        {"@type": "Identifier", "identifier_type": "DTSEN_FAMILY_ID", "identifier_value": "12"}]}


def test_mark_notified_and_unsubscribe_stop_notifications(registry: DciRegistry) -> None:
    code = code_of(subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"}))
    (sub, _), = registry.notifications("R0001", "R0002")
    registry.mark_notified(sub, "R0002")
    assert registry.notifications("R0001", "R0002") == []
    second = code_of(subscribe(registry, "UPDATE", "Member", {"type": "NIN", "value": "3204020101500001"}))
    answer, work = registry.unsubscribe(envelope("unsubscribe", {"transaction_id": "u", "timestamp": ts(),
                                                                 "subscription_codes": [second]}, uri=URI))
    msg = work().envelope["message"]
    assert answer["message"]["ack_status"] == "ACK"
    assert msg["status"] == "succ" and msg["subscription_status"] == [{"code": second, "status": "unsubscribe"}]
    assert registry.notifications("R0001", "R0002") == []
    assert code != second


def test_unsubscribe_refusals(registry: DciRegistry) -> None:
    mine = code_of(subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"}))

    def end(codes: list[str], sender: str = "kemensos") -> dict[str, Any]:
        _, work = registry.unsubscribe(envelope("unsubscribe", {"transaction_id": "u", "timestamp": ts(),
                                                                "subscription_codes": codes}, sender))
        message: dict[str, Any] = work().envelope["message"]
        return message

    assert end(["sub-test-001"])["status_reason_code"] == "rjct.subscription_code.invalid"
    assert end([mine], sender="intruder")["status_reason_code"] == "rjct.requester.invalid"
    assert end([mine])["status"] == "succ"
    assert end([mine])["status_reason_code"] == "rjct.event.already_unsubscribed"


def test_subscribe_refusals(registry: DciRegistry) -> None:
    assert subscribe(registry, "EXPLODE", "Member", {"type": "NIN", "value": "3301011212750001"})[
        "status_reason_code"] == "rjct.notify_types.invalid"
    assert subscribe(registry, "REGISTER", "Member", {"type": "UIN", "value": "TEST-001"})[
        "status_reason_code"] == "rjct.notify_details.invalid"
    assert subscribe(registry, "REGISTER", "Member", {"type": "MOBILE", "value": "0812"})[
        "status_reason_code"] == "rjct.notify_details.invalid"
    bad_query = {"type": "expression", "value": {"expression": {"query": {"salary": {"$gt": 1}}}}}
    assert subscribe(registry, "UPDATE", "Group", bad_query, filter_type="expression")[
        "status_reason_code"] == "rjct.notify_details.invalid"
    code_of(subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"}))
    assert subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"})[
        "status_reason_code"] == "rjct.event.already_subscribed"


def test_a_subscriber_is_told_only_about_its_regions(registry: DciRegistry) -> None:
    registry.context.scope_of = lambda sender: Scope(regions=("32",)) if sender == "pemda" else Scope()
    code = code_of(subscribe(registry, "REGISTER", "Member", {"type": "NIN", "value": "3301011212750001"},
                             sender="pemda"))
    assert code not in events(registry)  # person 8 lives in 33
