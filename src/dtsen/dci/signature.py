"""The envelope's `signature`: Ed25519 over a digest of `header` and `message`.

The specification (`MsgSignature`) gives the form, the HTTP-signature style of Beckn and its
descendants:

    Signature: namespace="spdci", kidId="{sender_id}|{key_id}|ed25519", algorithm="ed25519",
    created="1606970629", expires="1607030629", headers="(created) (expires) digest",
    signature="<base64>"

and leaves the byte form of what is signed to the implementation. Here it is:

    (created): {created}
    (expires): {expires}
    digest: BLAKE-512={base64(BLAKE2b-512(canonical JSON of {"header": ..., "message": ...}))}

where the canonical JSON has sorted keys, no whitespace and UTF-8 text (the JSON the receiver
parsed, so re-serialising on either side gives the same bytes). Both parties must agree on this;
it is written here so that a partner can implement it.

`SignaturePolicy` decides what an unsigned request gets: refused (`err.signature.missing`) when
signatures are required, accepted otherwise (the compliance suite sends `unsigned-stub` by
default). A signature that is present but wrong, expired, from an unknown key or not parseable is
always refused (`err.signature.invalid`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dtsen.dci.envelope import DciRequestError

PLACEHOLDERS = frozenset({"", "unsigned", "unsigned-stub"})
_PARAM = re.compile(r'(\w+)="([^"]*)"')
KeyResolver = Callable[[str, str], Ed25519PublicKey | None]  # (sender_id, key_id) -> public key


def canonical(header: dict[str, Any], message: Any) -> bytes:
    return json.dumps({"header": header, "message": message}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def digest(header: dict[str, Any], message: Any) -> str:
    return base64.b64encode(hashlib.blake2b(canonical(header, message), digest_size=64).digest()).decode()


def signing_string(created: int, expires: int, header: dict[str, Any], message: Any) -> bytes:
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest(header, message)}".encode()


@dataclass(frozen=True)
class Signer:
    """Signs this registry's envelopes."""

    sender_id: str
    key_id: str
    private_key: Ed25519PrivateKey
    ttl: int = 3600

    def sign(self, header: dict[str, Any], message: Any, now: float | None = None) -> str:
        created = int(now if now is not None else time.time())
        expires = created + self.ttl
        raw = self.private_key.sign(signing_string(created, expires, header, message))
        return (
            f'Signature: namespace="spdci", kidId="{self.sender_id}|{self.key_id}|ed25519", algorithm="ed25519", '
            f'created="{created}", expires="{expires}", headers="(created) (expires) digest", '
            f'signature="{base64.b64encode(raw).decode()}"'
        )


def sign_envelope(envelope: dict[str, Any], signer: Signer | None, now: float | None = None) -> dict[str, Any]:
    """The envelope with its `signature` (unchanged without a signer)."""
    if signer is None:
        return envelope
    return {"signature": signer.sign(envelope["header"], envelope["message"], now), **envelope}


@dataclass(frozen=True)
class Verified:
    sender_id: str
    key_id: str
    created: int
    expires: int


@dataclass(frozen=True)
class SignaturePolicy:
    """required: refuse unsigned requests; keys: the public key of each (sender, key id)."""

    required: bool = False
    keys: KeyResolver | None = None
    leeway: int = 60  # seconds of clock difference allowed

    def check(self, signature: str | None, header: dict[str, Any], message: Any,
              now: float | None = None) -> Verified | None:
        """None for an accepted unsigned request; `Verified` for a good signature; raises
        `DciRequestError` otherwise."""
        if signature is None or signature.strip() in PLACEHOLDERS:
            if self.required:
                raise DciRequestError("err.signature.missing", "this registry requires signed messages")
            return None
        return verify(signature, header, message, self.keys, now=now, leeway=self.leeway)


def verify(signature: str, header: dict[str, Any], message: Any, keys: KeyResolver | None,
           now: float | None = None, leeway: int = 60) -> Verified:
    """Check a signature of the form above; raise `DciRequestError` (err.signature.invalid)."""

    def bad(why: str) -> DciRequestError:
        return DciRequestError("err.signature.invalid", f"the signature is not valid: {why}")

    params = dict(_PARAM.findall(signature))
    kid = params.get("kidId") or params.get("keyId")
    if not signature.strip().startswith("Signature") or not kid or "signature" not in params:
        raise bad("it is not of the form Signature: kidId=..., created=..., expires=..., signature=...")
    parts = kid.split("|")
    if len(parts) != 3 or parts[2] != "ed25519" or params.get("algorithm", "ed25519") != "ed25519":
        raise bad("only ed25519 keys named sender|key|ed25519 are accepted")
    try:
        created, expires = int(params["created"]), int(params["expires"])
        raw = base64.b64decode(params["signature"], validate=True)
    except (KeyError, ValueError):
        raise bad("created, expires or the signature itself cannot be read") from None
    sender_id, key_id = parts[0], parts[1]
    if sender_id != header.get("sender_id"):
        raise bad("it names another sender than the header")
    t = now if now is not None else time.time()
    if created > t + leeway or expires < t - leeway:
        raise bad("it is expired or from the future")
    key = keys(sender_id, key_id) if keys is not None else None
    if key is None:
        raise bad("its key is not known to this registry")
    try:
        key.verify(raw, signing_string(created, expires, header, message))
    except InvalidSignature:
        raise bad("it does not match the message") from None
    return Verified(sender_id, key_id, created, expires)
