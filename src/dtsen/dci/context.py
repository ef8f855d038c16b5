"""What every DCI flow needs: the releases, the store, who this registry is, how it signs, and
what a caller may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dtsen.dci.envelope import DciRequestError, Request, parse_request
from dtsen.dci.signature import SignaturePolicy, Signer, sign_envelope
from dtsen.dci.store import DciStore
from dtsen.serve.models import Family, Person
from dtsen.serve.regions import within
from dtsen.serve.releases import ServingReleases


def _keep_person(p: Person) -> Person | None:
    return p


def _keep_family(f: Family) -> Family | None:
    return f


@dataclass(frozen=True)
class Scope:
    """What one caller may see: region prefixes (none: everywhere) and a trim of each record
    (None drops it). The API builds it from the policy module; the default sees everything."""

    regions: tuple[str, ...] = ()
    person: Callable[[Person], Person | None] = _keep_person
    family: Callable[[Family], Family | None] = _keep_family

    def sees(self, region_code: str | None) -> bool:
        return within(region_code, self.regions)

    def persons(self, people: list[Person]) -> list[Person]:
        kept = (self.person(p) for p in people if self.sees(p.region_code))
        return [p for p in kept if p is not None]

    def families(self, families: list[Family]) -> list[Family]:
        kept = (self.family(f) for f in families if self.sees(f.region_code))
        return [f for f in kept if f is not None]


EVERYTHING = Scope()


@dataclass(frozen=True)
class Callback:
    """A message to POST to a partner (an on-* callback or a notification): `uri` is where, from
    the request's `sender_uri` (None when the partner gave none: the message cannot be sent)."""

    uri: str | None
    envelope: dict[str, Any]


@dataclass
class DciContext:
    releases: ServingReleases
    store: DciStore
    registry_id: str = "dtsen"
    signer: Signer | None = None
    signatures: SignaturePolicy = field(default_factory=SignaturePolicy)
    receiver_id: str | None = None  # refuse requests addressed to another registry (None: accept any)
    default_page_size: int = 100
    max_page_size: int = 1000
    scope_of: Callable[[str], Scope] = lambda sender_id: EVERYTHING

    def parse(self, body: Any, action: str, model: type[Any]) -> Request:
        """Parse and check a request, its signature included; raise `DciRequestError`."""
        request = parse_request(body, action, model, receiver_id=self.receiver_id)
        self.signatures.check(request.signature, body["header"], body["message"])
        return request

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        return sign_envelope(envelope, self.signer)


def callback_uri(sender_uri: str | None, action: str) -> str | None:
    """Where the callback of `action` goes: the request's sender_uri as given (the specification:
    the URL that accepts the callback)."""
    return sender_uri or None


def notify_uri(sender_uri: str | None) -> str | None:
    """Where notifications go: the subscriber's sender_uri with a last segment `on-subscribe`
    replaced by `notify` (…/registry/on-subscribe -> …/registry/notify), else as given."""
    if not sender_uri:
        return None
    base, _, last = sender_uri.rstrip("/").rpartition("/")
    return f"{base}/notify" if last == "on-subscribe" and base else sender_uri


__all__ = ["EVERYTHING", "Callback", "DciContext", "DciRequestError", "Scope", "callback_uri", "notify_uri"]
