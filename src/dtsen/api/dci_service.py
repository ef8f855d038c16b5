"""The DCI Social Registry API as the service runs it: the registry's context, who may see what,
callbacks and notifications.

- **Who**: a DCI caller is a machine client (`dtsen clients add`) with a bearer token from
  `/auth/token`; the envelope's `header.sender_id` must be its client id. What it may see is the
  policy's (`dci.search`, `dci.subscribe`) for the purpose it states (`?purpose=`), or, when it
  states none, the one purpose its grants give that action (a client granted two must state one).
  The policy's scope becomes the DCI library's `Scope`: the caller's region prefixes, and each
  record trimmed to the purpose's fields (`dci_scope`).
- **Callbacks** (`on-search`, `on-subscribe`, `on-unsubscribe`, `txn-on-status`) and
  **notifications** are POSTed only to origins listed in `api.dci_callback_origins`; a request whose
  `sender_uri` lies elsewhere is refused (`err.sender_uri.invalid`), so that the registry cannot be
  made to call arbitrary addresses.
- **Notifications**: a thread looks at the served release every few seconds; when it has moved
  past a subscription's last notified release, the subscriber is told the changes one release
  step at a time (`dtsen.dci.subscriptions.due`), each notify message audited as a disclosure to
  that client, and the subscription marked notified once every message of the step was delivered
  (an undelivered one is tried again at the next look).
- **Signatures**: the registry signs every envelope it sends with its Ed25519 key
  (`<security.key_dir>/dci-signing.pem`, public half beside it for partners); incoming signatures
  are checked against `<security.key_dir>/dci-senders/<sender_id>/<key_id>.pub.pem`, and required
  when `api.dci_require_signatures` is set.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dtsen.api.dci_state import FileDciStore
from dtsen.config import Settings
from dtsen.dci import Callback, DciContext, DciRegistry, DciRequestError, SignaturePolicy, Signer, Subscription
from dtsen.dci import Scope as DciScope
from dtsen.dci.store import DciStore
from dtsen.security.accounts import grants_of
from dtsen.security.audit import AuditEvent
from dtsen.security.context import Security
from dtsen.security.keys import KeyStore, key_id
from dtsen.security.policy import Resource
from dtsen.security.policy import Scope as PolicyScope
from dtsen.security.principal import Principal
from dtsen.serve.models import Family, Person
from dtsen.serve.releases import ServingReleases
from dtsen.store.tables import clients

log = logging.getLogger("dtsen.api.dci")
SIGNING_KEY = "dci-signing.pem"
SIGNING_PUBLIC = "dci-signing.pub.pem"
SENDER_KEYS = "dci-senders"
DEFAULT_PORTS = {"http": 80, "https": 443}


# -- keys -------------------------------------------------------------------------------------------


def registry_signer(keys: KeyStore, registry_id: str) -> Signer:
    """The registry's Ed25519 signing key, created on first use (owner-only, like the others)."""
    fresh = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem = keys._file(SIGNING_KEY, fresh)  # the key store's own owner-only file handling
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    public = keys.directory / SIGNING_PUBLIC
    if not public.exists():
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    return Signer(registry_id, key_id(key.public_key()), key)


def sender_keys(keys: KeyStore) -> Callable[[str, str], Ed25519PublicKey | None]:
    """(sender_id, key_id) -> the sender's public key from `<key_dir>/dci-senders/`."""
    root = keys.directory / SENDER_KEYS

    def resolve(sender_id: str, kid: str) -> Ed25519PublicKey | None:
        if not sender_id.replace("-", "").replace("_", "").replace(".", "").isalnum() or not kid.isalnum():
            return None
        path = root / sender_id / f"{kid}.pub.pem"
        if not path.is_file():
            return None
        key = serialization.load_pem_public_key(path.read_bytes())
        return key if isinstance(key, Ed25519PublicKey) else None

    return resolve


# -- callback addresses ---------------------------------------------------------------------------------


def origin_of(url: str) -> str | None:
    """scheme://host:port of a URL (None when it is not an http(s) URL with a host)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def allowed_uri(url: str | None, origins: Sequence[str]) -> bool:
    wanted = {origin_of(o) for o in origins} - {None}
    got = origin_of(url) if url else None
    return got is not None and got in wanted


# -- who may see what ---------------------------------------------------------------------------------


def dci_scope(scope: PolicyScope) -> DciScope:
    """The DCI library's scope for a policy scope: its regions, each record trimmed."""

    def person(p: Person) -> Person | None:
        d = scope.decide(Resource(p.region_code, p.family_id))
        if not d.allowed or "person_id" not in d.fields:
            return None
        return Person.model_validate(d.project(p.model_dump()))

    def family(f: Family) -> Family | None:
        d = scope.decide(Resource(f.region_code, f.family_id))
        if not d.allowed or "family_id" not in d.fields:
            return None
        return Family.model_validate(d.project(f.model_dump()))

    prefixes = scope.region_prefixes
    return DciScope(regions=() if prefixes is None else prefixes, person=person, family=family)


def default_purpose(security: Security, principal: Principal, action: str) -> str | None:
    """The one purpose `principal`'s grants give `action` (None: none, or several)."""
    table = security.policy.table
    found = {p for g in principal.grants for (role, a, p) in table.rules
             if role == g.role and a == action and p is not None and (g.purposes is None or p in g.purposes)}
    return found.pop() if len(found) == 1 else None


def client_principal(security: Security, client_id: str) -> Principal | None:
    """A client as a principal with its live grants now (None: unknown, revoked or disabled)."""
    with security.store.reading() as conn:
        row = conn.execute(sa.select(clients.c.id, clients.c.status).where(clients.c.client_id == client_id)).first()
        if row is None or row.status != "active":
            return None
        return Principal("client", row.id, client_id, grants_of(conn, client_id=row.id))


def records_of(envelope: dict[str, Any]) -> list[str]:
    """The registry records an envelope carries, as audit references (person:7, family:45)."""
    found: dict[str, None] = {}

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if x.get("identifier_type") in ("DTSEN_PERSON_ID", "DTSEN_FAMILY_ID"):
                kind = "person" if x["identifier_type"] == "DTSEN_PERSON_ID" else "family"
                found[f"{kind}:{x.get('identifier_value')}"] = None
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(envelope.get("message"))
    return list(found)


# -- the service ----------------------------------------------------------------------------------------


class DciService:
    """The DCI registry of one running service (see the module docstring)."""

    def __init__(self, settings: Settings, security: Security, releases: ServingReleases, store: FileDciStore,
                 post: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        api = settings.api
        self.settings = settings
        self.security = security
        self.releases = releases
        self.origins = tuple(api.dci_callback_origins)
        self.context = DciContext(
            releases=releases, store=store, registry_id=api.dci_registry_id,
            signer=registry_signer(security.keys, api.dci_registry_id),
            signatures=SignaturePolicy(required=api.dci_require_signatures, keys=sender_keys(security.keys)),
            receiver_id=api.dci_registry_id, max_page_size=settings.serving.max_page_size,
            scope_of=self._client_scope)
        self.post = post or self._http_post
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- per request -----------------------------------------------------------------------------------
    def registry_for(self, scope: PolicyScope) -> DciRegistry:
        """The registry as one caller sees it (its subscriptions stamped with its purpose)."""
        fixed = dci_scope(scope)
        store = PurposeStampedStore(self.context.store, scope.purpose or "")
        return DciRegistry(dataclasses.replace(self.context, store=store, scope_of=lambda _sender: fixed))

    def check_sender_uri(self, body: Any) -> None:
        """Refuse a callback address outside `api.dci_callback_origins` (before anything is done)."""
        header = body.get("header") if isinstance(body, dict) else None
        uri = header.get("sender_uri") if isinstance(header, dict) else None
        if uri is None:
            return
        if not isinstance(uri, str) or not allowed_uri(uri, self.origins):
            raise DciRequestError("err.sender_uri.invalid", "callbacks are not sent to this sender_uri; the registry "
                                  "sends them only to the origins agreed with it (api.dci_callback_origins)")

    def deliver(self, callback: Callback) -> bool:
        """POST a callback or notification; False when it could not be delivered."""
        if callback.uri is None or not allowed_uri(callback.uri, self.origins):
            return False
        try:
            self.post(callback.uri, callback.envelope)
        except (httpx.HTTPError, OSError) as exc:
            log.warning("DCI callback to %s not delivered (%s)", origin_of(callback.uri), type(exc).__name__)
            return False
        return True

    @staticmethod
    def _http_post(uri: str, envelope: dict[str, Any]) -> None:
        response = httpx.post(uri, json=envelope, timeout=10.0, follow_redirects=False)
        response.raise_for_status()

    # -- notifications -------------------------------------------------------------------------------
    def _client_scope(self, sender_id: str) -> DciScope:
        """What a subscriber may be told now (its grants today): used for notifications."""
        scope = self._subscriber_scope(sender_id, None)
        return dci_scope(scope) if scope is not None else DciScope(person=lambda p: None, family=lambda f: None)

    def _subscriber_scope(self, sender_id: str, purpose: str | None) -> PolicyScope | None:
        principal = client_principal(self.security, sender_id)
        if principal is None:
            return None
        purpose = purpose or default_purpose(self.security, principal, "dci.subscribe")
        scope = self.security.policy.scope(principal, "dci.subscribe", purpose)
        return scope if scope.allowed and scope.region_prefixes != () else None

    def notify_once(self) -> int:
        """Tell every subscriber the release steps it has not been told yet; the messages sent."""
        with self._lock:
            self.releases.refresh()
            served = self.releases.current_id
            if served is None:
                return 0
            ids = [r.release_id for r in self.releases.store.releases() if r.release_id <= served]
            sent = 0
            for sub in self.context.store.subscriptions():
                start = sub.notified_release or sub.from_release
                if start is None:
                    self.context.store.put_subscription(dataclasses.replace(sub, notified_release=served))
                    continue
                while start < served:
                    later = [r for r in ids if r > start]
                    if not later:
                        break
                    step = later[0]
                    ok, n = self._notify_step(sub, start, step)
                    sent += n
                    if not ok:
                        break
                    sub = dataclasses.replace(sub, notified_release=step)
                    start = step
            return sent

    def _notify_step(self, sub: Subscription, a: str, b: str) -> tuple[bool, int]:
        purpose = str(sub.extra.get("purpose") or "") or None
        scope = self._subscriber_scope(sub.sender_id, purpose)
        registry = DciRegistry(self.context)
        if scope is None:  # the client was revoked or lost the grant: it is told nothing more
            registry.mark_notified(sub, b)
            return True, 0
        fixed = dci_scope(scope)
        scoped = DciRegistry(dataclasses.replace(self.context, scope_of=lambda _s: fixed))
        messages = [cb for s, cb in scoped.notifications(a, b, subs=[sub]) if s.code == sub.code]
        for cb in messages:
            if not self.deliver(cb):
                return False, 0
            self.security.writer.record(AuditEvent(
                actor=f"client:{sub.sender_id}", action="dci.subscribe", purpose=scope.purpose or "",
                role=",".join(dict.fromkeys(p.grant.label() for p in scope.parts)), records=tuple(records_of(cb.envelope)),
                source="dci-notify", detail={"subscription": sub.code[:40], "from": a, "to": b}))
        registry.mark_notified(sub, b)
        return True, len(messages)

    def start(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.notify_once()
                except Exception as exc:  # the notifier never stops the service; it tries again
                    log.error("DCI notifications failed (%s)", type(exc).__name__)

        self._thread = threading.Thread(target=loop, name="dci-notify", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class PurposeStampedStore:
    """A view of the DCI store that stamps new subscriptions with the purpose they were made for
    (`extra.purpose`), so that their notifications are decided for that purpose."""

    def __init__(self, store: DciStore, purpose: str) -> None:
        self._store = store
        self._purpose = purpose

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_subscription(self, sub: Subscription) -> None:
        if "purpose" not in sub.extra:
            sub = dataclasses.replace(sub, extra={**sub.extra, "purpose": self._purpose})
        self._store.put_subscription(sub)
