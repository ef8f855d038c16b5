"""Master keys: the key-provider interface, and the local AES-256-GCM key wrap behind it.

A master key never encrypts data. It only wraps (encrypts) the small keys that do: each
release's data key, the token keys, a backup repository's key. Everything wrapped records the
master key id and version it was wrapped under, so that a wrong or retired key is named in the
error, and each wrap is bound to a context ("release:R0003", "token:2", ...) so that a wrapped
key copied to another place does not open there.

**Extension points.** A provider is anything with the four methods of `KeyProvider`; dtsen ships
the file provider (the embedded default), an environment provider and a command provider (see
`providers`), which all hold the master key in memory and wrap with `LocalMasterKeys`. A
production deployment whose master key must never leave a hardware security module or a cloud
KMS implements the same four methods against it and names its factory in `vault.plugin`:

- PKCS#11 / HSM (e.g. python-pkcs11): `wrap` is `C_EncryptInit(CKM_AES_GCM)` + `C_Encrypt` with a
  non-extractable AES-256 key object found by label, the context as the GCM additional data and
  the HSM's key label and version as `MasterKeyRef`; `unwrap` is `C_Decrypt` (a failed tag check
  is `CKR_ENCRYPTED_DATA_INVALID`, to be raised as `WrappedKeyDamagedError`).
- Cloud KMS (AWS KMS, Google Cloud KMS, Azure Key Vault, HashiCorp Vault transit): `wrap` is the
  service's Encrypt with the context as encryption context / additional authenticated data, and
  the returned ciphertext blob as `WrappedKey.blob`; `unwrap` is Decrypt; `active()` names the key
  and its primary version; rotation is the service's own key-version rotation followed by
  `dtsen keys rotate`, which re-wraps every key to the active version.

Data keys are unwrapped into the process's memory for the time of a build or a request: bulk
AES-GCM and HMAC over millions of values cannot go through an HSM round trip per value.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dtsen.vault.errors import KeyProviderError, WrappedKeyDamagedError, WrongMasterKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_DOMAIN = b"dtsen-wrap/1"


def new_key() -> bytes:
    """32 random bytes from the operating system's CSPRNG: an AES-256 or HMAC-SHA-256 key."""
    return secrets.token_bytes(KEY_BYTES)


def new_key_id() -> str:
    return f"mk-{secrets.token_hex(8)}"


@dataclass(frozen=True, order=True)
class MasterKeyRef:
    """Which master key, and which version of it."""

    key_id: str
    version: int

    def __str__(self) -> str:
        return f"{self.key_id} v{self.version}"


@dataclass(frozen=True)
class WrappedKey:
    """A key encrypted under a master key: which one, and the provider's opaque blob."""

    key_id: str
    version: int
    blob: bytes

    @property
    def master(self) -> MasterKeyRef:
        return MasterKeyRef(self.key_id, self.version)

    def to_json(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "version": self.version, "blob": base64.b64encode(self.blob).decode("ascii")}

    @classmethod
    def from_json(cls, data: Any) -> WrappedKey:
        try:
            return cls(str(data["key_id"]), int(data["version"]), base64.b64decode(data["blob"], validate=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise WrappedKeyDamagedError(f"the wrapped key is malformed ({type(exc).__name__}: {exc})") from None


@runtime_checkable
class KeyProvider(Protocol):
    """What dtsen asks of a master-key provider (see the module docstring for HSM and KMS).

    `context` is bound to the wrap: `unwrap` with another context must fail. Errors are
    `WrongMasterKeyError` (the blob names a key or version the provider does not hold) and
    `WrappedKeyDamagedError` (it names one it holds, but does not open)."""

    name: str

    def active(self) -> MasterKeyRef:
        """The key and version that new wraps use."""
        ...

    def versions(self) -> list[MasterKeyRef]:
        """Every key version the provider can unwrap with, the active one included."""
        ...

    def wrap(self, key: bytes, context: str) -> WrappedKey: ...

    def unwrap(self, wrapped: WrappedKey, context: str) -> bytes: ...


def _aad(ref: MasterKeyRef, context: str) -> bytes:
    return b"\x00".join((_WRAP_DOMAIN, ref.key_id.encode(), str(ref.version).encode(), context.encode()))


class LocalMasterKeys:
    """Master key versions held in memory; wraps with AES-256-GCM (random 96-bit nonce)."""

    def __init__(self, name: str, key_id: str, keys: dict[int, bytes], active: int) -> None:
        if active not in keys:
            raise KeyProviderError(f"{name} key provider: active version {active} is not among versions {sorted(keys)}")
        for version, key in keys.items():
            if len(key) != KEY_BYTES:
                raise KeyProviderError(
                    f"{name} key provider: master key {key_id} v{version} has {len(key)} bytes, not {KEY_BYTES}"
                )
        self.name = name
        self.key_id = key_id
        self._keys = dict(keys)
        self._active = active

    def active(self) -> MasterKeyRef:
        return MasterKeyRef(self.key_id, self._active)

    def versions(self) -> list[MasterKeyRef]:
        return [MasterKeyRef(self.key_id, v) for v in sorted(self._keys)]

    def wrap(self, key: bytes, context: str) -> WrappedKey:
        ref = self.active()
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + AESGCM(self._keys[ref.version]).encrypt(nonce, key, _aad(ref, context))
        return WrappedKey(ref.key_id, ref.version, blob)

    def unwrap(self, wrapped: WrappedKey, context: str) -> bytes:
        held = ", ".join(str(v) for v in self.versions())
        if wrapped.key_id != self.key_id:
            raise WrongMasterKeyError(
                f"wrapped under master key {wrapped.master}, but the {self.name} key provider holds {held}: "
                "this is not the key these files were made with; use the right key file or environment"
            )
        if wrapped.version not in self._keys:
            raise WrongMasterKeyError(
                f"wrapped under master key {wrapped.master}, but the {self.name} key provider holds {held}: "
                "that version was retired by `dtsen keys rotate`; use the retired key file kept for old backups"
            )
        blob = wrapped.blob
        if len(blob) < NONCE_BYTES + 16:
            raise WrappedKeyDamagedError(f"the wrapped key is truncated ({len(blob)} bytes)")
        try:
            return AESGCM(self._keys[wrapped.version]).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                                               _aad(wrapped.master, context))
        except InvalidTag:
            raise WrappedKeyDamagedError(
                f"the wrapped key does not open under master key {wrapped.master} (AES-GCM tag check failed): "
                "the file was damaged or altered, copied from another place, or the master key is not the original"
            ) from None
