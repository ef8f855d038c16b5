"""The DCI message envelope: `signature`, `header`, `message`; the acknowledgement; the errors.

Every request is `{"signature": ..., "header": MsgHeader, "message": ...}`. `parse_request` checks
the envelope and the message against its model and raises `DciRequestError` with the
specification's error code (`err.request.bad`, `err.version.not_supported`,
`err.receiver_id.invalid`, ...) and every problem found, never the values themselves. An
asynchronous request is answered at once by an acknowledgement (`ack`: ACK, or ERR with the
error) whose `correlation_id` the callback repeats; a synchronous one by a callback-shaped
envelope (`callback_envelope`). The HTTP layer chooses between an HTTP 4xx with
`http_error_body` and an HTTP 200 with `ack(..., error=...)`; the compliance suite accepts both.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from dtsen.dci.messages import Message999, Status
from dtsen.errors import DtsenError, Problem
from dtsen.security.masking import has_identifier

VERSION = "1.0.0"
ERROR_CODES = (
    "err.request.bad", "err.request.unauthorized", "err.request.forbidden", "err.request.not_found",
    "err.request.timeout", "err.version.not_supported", "err.request.too_many_requests", "err.sender_id.invalid",
    "err.sender_uri.invalid", "err.receiver_id.invalid", "err.signature.missing", "err.signature.invalid",
    "err.encryption.invalid", "err.service.unavailable",
)  # fmt: skip
ACTIONS = ("search", "subscribe", "unsubscribe", "txn-status")
CALLBACK_ACTIONS = {"search": "on-search", "subscribe": "on-subscribe", "unsubscribe": "on-unsubscribe",
                    "txn-status": "txn-on-status"}
HTTP_STATUS = {"err.request.unauthorized": 401, "err.request.forbidden": 403, "err.request.not_found": 404,
               "err.request.too_many_requests": 429, "err.service.unavailable": 503}


class DciRequestError(DtsenError):
    """A DCI request is refused before it is processed: `code` is the specification's error code."""

    def __init__(self, code: str, message: str, problems: list[Problem] | None = None) -> None:
        assert code in ERROR_CODES, code
        self.code = code
        super().__init__(message, problems)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


class MsgHeader(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str = VERSION
    message_id: str = Field(min_length=1)
    message_ts: AwareDatetime
    action: str
    sender_id: str = Field(min_length=1)
    sender_uri: str | None = None
    receiver_id: str | None = None
    total_count: int = Field(ge=0)
    is_msg_encrypted: bool = False
    meta: dict[str, Any] | None = None


class CallbackHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = VERSION
    message_id: str
    message_ts: AwareDatetime
    action: str
    status: Status
    status_reason_code: str | None = None
    status_reason_message: Message999 | None = None
    total_count: int
    completed_count: int
    sender_id: str
    receiver_id: str | None = None
    is_msg_encrypted: bool = False


M = TypeVar("M", bound=BaseModel)


class Request(BaseModel):
    """A parsed request: its header, its typed message, the signature as sent."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    signature: str | None
    header: MsgHeader
    message: Any


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    """A fresh id (32 hex digits) that never looks like a NIK: ids are written to the audit
    chain, which refuses anything shaped like one (about one uuid in a thousand)."""
    while True:
        value = uuid.uuid4().hex
        if not has_identifier(value):
            return value


def _problems(exc: ValidationError, prefix: str) -> list[Problem]:
    out = []
    for err in exc.errors():
        where = ".".join(str(x) for x in (prefix, *err["loc"]))
        out.append(Problem(str(err["msg"]), where=where))  # messages only: never the input values
    return out


def parse_request(body: Any, action: str, message_model: type[M], receiver_id: str | None = None) -> Request:
    """Check an envelope for `action` and parse its message; raise `DciRequestError`."""
    if not isinstance(body, dict):
        raise DciRequestError("err.request.bad", "the body must be a JSON object with header and message")
    missing = [k for k in ("header", "message") if k not in body]
    if missing:
        raise DciRequestError("err.request.bad", f"the envelope lacks {' and '.join(missing)}")
    if isinstance(body.get("message"), dict) and {"ciphertext", "encrypted_key"} <= set(body["message"]):
        raise DciRequestError("err.encryption.invalid", "encrypted messages are not accepted by this registry")
    try:
        header = MsgHeader.model_validate(body["header"])
    except ValidationError as exc:
        raise DciRequestError("err.request.bad", "the header is not valid", _problems(exc, "header")) from None
    if header.version != VERSION:
        raise DciRequestError("err.version.not_supported", f"version {header.version!r} is not supported; use {VERSION}")
    if header.action != action:
        raise DciRequestError("err.request.bad", f"header.action is {header.action!r}; this endpoint takes {action!r}")
    if receiver_id is not None and header.receiver_id not in (None, receiver_id):
        raise DciRequestError("err.receiver_id.invalid", f"this registry is {receiver_id!r}")
    if header.is_msg_encrypted:
        raise DciRequestError("err.encryption.invalid", "encrypted messages are not accepted by this registry")
    try:
        message = message_model.model_validate(body["message"])
    except ValidationError as exc:
        raise DciRequestError("err.request.bad", "the message is not valid", _problems(exc, "message")) from None
    signature = body.get("signature")
    return Request(signature=signature if isinstance(signature, str) else None, header=header, message=message)


def ack(correlation_id: str, error: DciRequestError | None = None) -> dict[str, Any]:
    """The acknowledgement of an asynchronous request: ACK, or ERR with the error."""
    message: dict[str, Any] = {
        "ack_status": "ERR" if error else "ACK",
        "timestamp": now().isoformat(),
        "correlation_id": correlation_id,
    }
    if error is not None:
        message["error"] = {"code": error.code, "message": str(error.args[0])[:999]}
    return {"message": message}


def http_error_body(error: DciRequestError) -> dict[str, Any]:
    """The body of an HTTP 4xx: the specification's HttpErrorResponse (`errors`), and the same
    error once more as `error`, which is what the compliance suite's check of error bodies looks
    for (it does not recognise `errors` alone)."""
    detail = {"code": error.code, "message": str(error.args[0])[:999]}
    return {"errors": [detail], "error": detail}


def callback_envelope(
    action: str,
    message: dict[str, Any],
    *,
    sender_id: str,
    receiver_id: str | None,
    status: Status = "succ",
    total_count: int = 1,
    completed_count: int | None = None,
    reason: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A callback-shaped envelope (on-search, on-subscribe, on-unsubscribe, txn-on-status, notify),
    also the body of a synchronous response. Sign it with `dtsen.dci.signature.sign_envelope`."""
    header = CallbackHeader(
        message_id=new_id(), message_ts=now(), action=action, status=status, total_count=total_count,
        completed_count=total_count if completed_count is None else completed_count, sender_id=sender_id,
        receiver_id=receiver_id, status_reason_code=reason[0] if reason else None,
        status_reason_message=reason[1][:999] if reason else None,
    )
    return {"header": header.model_dump(mode="json", exclude_none=True), "message": message}


AckStatus = Literal["ACK", "NACK", "ERR"]
