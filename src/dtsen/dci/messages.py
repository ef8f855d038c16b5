"""The messages of the DCI Social Registry API v1.0.0 (`social_api_v1.0.0.yaml`), as pydantic models.

Request models check what the specification constrains (ISO 8601 timestamps with a time zone,
ISO 639-3 locales, `transaction_id` and subscription codes of at most 99 characters, page size and
number from 1, the enumerations) and keep fields they do not know (`extra="allow"`): the
specification lets registries extend, and a client may send more. Response models are what the
registry sends back; `dump` writes them without unset optional fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Id99 = Annotated[str, StringConstraints(max_length=99)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
Message999 = Annotated[str, StringConstraints(max_length=999)]
Status = Literal["rcvd", "pdng", "succ", "rjct"]
QueryType = Literal["idtype-value", "expression", "predicate"]
REG_TYPE = "ns:org:RegistryType:Social"

SEARCH_REASONS = (
    "rjct.reference_id.invalid", "rjct.reference_id.duplicate", "rjct.timestamp.invalid",
    "rjct.search_criteria.invalid", "rjct.filter.invalid", "rjct.sort.invalid", "rjct.pagination.invalid",
    "rjct.search.too_many_records_found",
)  # fmt: skip
SUBSCRIBE_REASONS = (
    "rjct.reference_id.invalid", "rjct.reference_id.duplicate", "rjct.timestamp.invalid",
    "rjct.notify_types.invalid", "rjct.notify_details.invalid", "rjct.person_id.invalid",
    "rjct.event.already_subscribed",
)  # fmt: skip
UNSUBSCRIBE_REASONS = (
    "rjct.reference_id.invalid", "rjct.reference_id.duplicate", "rjct.timestamp.invalid",
    "rjct.subscription_code.invalid", "rjct.requester.invalid", "rjct.event.already_unsubscribed",
)  # fmt: skip


class _In(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# -- search ---------------------------------------------------------------------------------------


class Pagination(_In):
    page_size: int = Field(ge=1)
    page_number: int = Field(1, ge=1)


class Sort(_In):
    attribute_name: str
    sort_order: Literal["asc", "desc"] = "asc"


class SearchCriteria(_In):
    version: str = "1.0.0"
    reg_type: str | None = None
    reg_record_type: str | None = None
    query_type: QueryType
    response_entity: Literal["Group", "Member"] | None = None
    query: Any
    sort: list[Sort] | None = None
    pagination: Pagination | None = None
    consent: dict[str, Any] | None = None
    authorize: dict[str, Any] | None = None


class SearchRequestItem(_In):
    reference_id: str = Field(min_length=1)
    timestamp: AwareDatetime
    search_criteria: SearchCriteria
    locale: Locale | None = None
    pagination: Pagination | None = None  # where some clients put it (the specification: in search_criteria)


class SearchRequest(_In):
    transaction_id: Id99 = Field(min_length=1)
    search_request: list[SearchRequestItem] = Field(min_length=1)


class PageInfo(_Out):
    page_size: int
    page_number: int
    total_count: int


class SearchData(_Out):
    version: str = "1.0.0"
    reg_type: str = REG_TYPE
    reg_record_type: str
    reg_records: list[dict[str, Any]]


class SearchResponseItem(_Out):
    reference_id: str
    timestamp: AwareDatetime
    status: Status
    status_reason_code: str | None = None
    status_reason_message: Message999 | None = None
    data: SearchData | None = None
    pagination: PageInfo | None = None
    locale: str | None = None


class SearchResponse(_Out):
    transaction_id: str
    correlation_id: Id99
    search_response: list[SearchResponseItem]


# -- subscriptions --------------------------------------------------------------------------------


class Frequency(_In):
    start_time: AwareDatetime
    end_time: AwareDatetime
    frequency: str


class SubscribeCriteria(_In):
    version: str = "1.0.0"
    reg_type: str | None = None
    reg_event_type: str
    frequency: Frequency | None = None
    filter_type: Literal["idtype-value", "expression", "predicate", "graphql"] | None = None
    filter: Any
    notify_record_type: str
    authorize: dict[str, Any] | None = None


class SubscribeRequestItem(_In):
    reference_id: str = Field(min_length=1)
    timestamp: AwareDatetime
    subscribe_criteria: SubscribeCriteria
    locale: Locale | None = None


class SubscribeRequest(_In):
    transaction_id: Id99 = Field(min_length=1)
    subscribe_request: list[SubscribeRequestItem] = Field(min_length=1)


class SubscriptionInfo(_Out):
    version: str = "1.0.0"
    code: Id99
    status: Literal["subscribe", "unsubscribe"]
    timestamp: AwareDatetime
    reg_type: str | None = None
    reg_event_type: str | None = None
    filter_type: str | None = None
    filter: Any = None
    notify_record_type: str | None = None
    locale: str | None = None


class SubscribeResponseItem(_Out):
    reference_id: str
    timestamp: AwareDatetime
    status: Status
    status_reason_code: str | None = None
    status_reason_message: Message999 | None = None
    subscriptions: list[SubscriptionInfo] | None = None


class SubscribeResponse(_Out):
    transaction_id: str
    correlation_id: Id99
    subscribe_response: list[SubscribeResponseItem]


class UnsubscribeRequest(_In):
    transaction_id: Id99 = Field(min_length=1)
    timestamp: AwareDatetime
    subscription_codes: list[Id99] = Field(min_length=1)


class SubscriptionStatus(_Out):
    code: str
    status: Literal["subscribe", "unsubscribe"]


class UnsubscribeResponse(_Out):
    transaction_id: str
    correlation_id: Id99
    timestamp: AwareDatetime
    status: Status
    status_reason_code: str | None = None
    status_reason_message: Message999 | None = None
    subscription_status: list[SubscriptionStatus] | None = None


# -- transaction status ---------------------------------------------------------------------------


class TxnStatusQuery(_In):
    reference_id: str = Field(min_length=1)
    txn_type: Literal["search", "subscribe", "receipt"]
    attribute_type: Literal["transaction_id", "reference_id_list", "correlation_id"]
    attribute_value: str | list[str]
    locale: Locale | None = None


class TxnStatusRequest(_In):
    transaction_id: Id99 = Field(min_length=1)
    txnstatus_request: TxnStatusQuery


class TxnStatusBody(_Out):
    txn_type: Literal["search", "subscribe", "receipt"]
    txn_status: dict[str, Any]


class TxnStatusResponse(_Out):
    transaction_id: str
    correlation_id: Id99
    txnstatus_response: TxnStatusBody


# -- notifications --------------------------------------------------------------------------------


class NotifyData(_Out):
    version: str = "1.0.0"
    reg_type: str = REG_TYPE
    reg_event_type: str
    reg_record_type: str
    reg_records: dict[str, Any]


class NotifyEvent(_Out):
    reference_id: str
    timestamp: AwareDatetime
    data: NotifyData
    locale: str | None = None


class NotifyEventRequest(_Out):
    transaction_id: Id99
    notify_event: list[NotifyEvent]
