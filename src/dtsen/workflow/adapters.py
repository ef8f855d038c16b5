"""Notification adapters: how a message of the outbox leaves dtsen. Each channel (`email`, `sms`,
`whatsapp`, or `file`) has at most one adapter, a class with a `channel` and a `send`:

    class Adapter(Protocol):
        channel: str
        def send(self, message: OutboundMessage) -> None: ...

`send` returns when the message was handed over; it raises `TemporaryFailure` to be tried again
later (with backoff) or `PermanentFailure` when it never can be delivered (a malformed address).
Every message carries an `idempotency_key` that stays the same over retries: an adapter passes
it on (a gateway's `Idempotency-Key` header, an e-mail's Message-ID, the file adapter's file
name), so that a message sent just before a crash is not delivered twice when it is retried.

Built in:
    FileAdapter      one JSON file per message in a directory (tests, and sites whose own
                     gateway picks the files up); a second send of the same key changes nothing.
                     Its channel is "*": it takes every channel no other adapter takes
    SmtpAdapter      e-mail over SMTP with STARTTLS (`workflow.smtp_*`)
    GatewayAdapter   SMS or WhatsApp through an HTTPS gateway: a JSON POST
                     {"to", "subject", "body", "idempotency_key"} with `Authorization: Bearer` from
                     `workflow.gateway_token_env` and the `Idempotency-Key` header; 2xx is
                     delivered, 4xx (but 408/429) permanent, anything else temporary

A site adds its own gateway by writing a class with `channel` and `send` and passing it to
`deliver` (`dtsen.workflow.outbox.deliver(store, keys, adapters=[...])`).
"""

from __future__ import annotations

import json
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import httpx

from dtsen.workflow.errors import WorkflowError
from dtsen.workflow.settings import WorkflowSettings

CHANNELS = ("email", "sms", "whatsapp")
ANY_CHANNEL = "*"


@dataclass(frozen=True)
class OutboundMessage:
    id: int
    idempotency_key: str
    channel: str
    address: str
    subject: str
    body: str


class TemporaryFailure(WorkflowError):
    """Not delivered now; try again later."""


class PermanentFailure(WorkflowError):
    """Can never be delivered (the address is malformed, the gateway refuses the message)."""


class Adapter(Protocol):
    channel: str

    def send(self, message: OutboundMessage) -> None: ...


class FileAdapter:
    """Writes each message as `<idempotency_key>.json` (0600) into a directory."""

    def __init__(self, directory: Path, channel: str = "*") -> None:
        self.directory = Path(directory)
        self.channel = channel

    def send(self, message: OutboundMessage) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{message.idempotency_key}.json"
        if path.exists():
            return  # already handed over: a retry after a crash
        tmp = self.directory / f".{secrets.token_hex(8)}.tmp"
        body = json.dumps({"id": message.id, "idempotency_key": message.idempotency_key, "channel": message.channel,
                           "to": message.address, "subject": message.subject, "body": message.body},
                          ensure_ascii=False, indent=1)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()


class SmtpAdapter:
    channel = "email"

    def __init__(self, host: str, port: int, sender: str, credentials: tuple[str, str] | None = None) -> None:
        self.host, self.port, self.sender, self.credentials = host, port, sender, credentials

    def send(self, message: OutboundMessage) -> None:
        if "@" not in message.address or "\n" in message.address:
            raise PermanentFailure("not an e-mail address")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Message-ID"] = f"<{message.idempotency_key}@dtsen>"
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                smtp.starttls(context=ssl.create_default_context())
                if self.credentials:
                    smtp.login(*self.credentials)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise PermanentFailure("the mail server refuses the recipient") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"SMTP: {type(exc).__name__}") from None


class GatewayAdapter:
    """SMS or WhatsApp through an HTTPS gateway (see the module docstring for the request)."""

    def __init__(self, channel: str, url: str, token: str | None = None, client: httpx.Client | None = None) -> None:
        self.channel, self.url, self.token = channel, url, token
        self.client = client or httpx.Client(timeout=30)

    def send(self, message: OutboundMessage) -> None:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.client.post(self.url, headers=headers, json={
                "to": message.address, "subject": message.subject, "body": message.body,
                "idempotency_key": message.idempotency_key})
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"gateway: {type(exc).__name__}") from None
        if response.is_success:
            return
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise PermanentFailure(f"gateway answered {response.status_code}")
        raise TemporaryFailure(f"gateway answered {response.status_code}")


def configured_adapters(settings: WorkflowSettings, root: Path) -> list[Adapter]:
    """The adapters `[workflow]` configures (none: every message waits in the outbox)."""
    out: list[Adapter] = []
    if settings.notify_dir is not None:
        directory = settings.notify_dir if settings.notify_dir.is_absolute() else root / settings.notify_dir
        out.append(FileAdapter(directory))
    if settings.smtp_host:
        credentials = None
        if settings.smtp_user_env:
            user, _, password = os.environ.get(settings.smtp_user_env, "").partition(":")
            credentials = (user, password) if user else None
        out.append(SmtpAdapter(settings.smtp_host, settings.smtp_port, settings.smtp_sender, credentials))
    token = os.environ.get(settings.gateway_token_env) if settings.gateway_token_env else None
    if settings.sms_gateway_url:
        out.append(GatewayAdapter("sms", settings.sms_gateway_url, token))
    if settings.whatsapp_gateway_url:
        out.append(GatewayAdapter("whatsapp", settings.whatsapp_gateway_url, token))
    return out
