"""A key provider plugin for the tests: a stand-in for a remote KMS whose key never leaves it.

It keeps its keys in a class-level dict (the "service") and hands dtsen only wrap and unwrap,
exactly what a PKCS#11 or cloud-KMS plugin would do."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dtsen.vault.errors import WrappedKeyDamagedError, WrongMasterKeyError
from dtsen.vault.master import MasterKeyRef, WrappedKey


class RemoteKms:
    keys: ClassVar[dict[int, bytes]] = {1: os.urandom(32)}
    primary = 1

    def __init__(self) -> None:
        self.name = "test-kms"
        self.calls = 0

    def active(self) -> MasterKeyRef:
        return MasterKeyRef("kms-test", self.primary)

    def versions(self) -> list[MasterKeyRef]:
        return [MasterKeyRef("kms-test", v) for v in sorted(self.keys)]

    def wrap(self, key: bytes, context: str) -> WrappedKey:
        self.calls += 1
        nonce = os.urandom(12)
        return WrappedKey("kms-test", self.primary,
                          nonce + AESGCM(self.keys[self.primary]).encrypt(nonce, key, context.encode()))

    def unwrap(self, wrapped: WrappedKey, context: str) -> bytes:
        self.calls += 1
        if wrapped.key_id != "kms-test" or wrapped.version not in self.keys:
            raise WrongMasterKeyError(f"KMS has no key {wrapped.master}")
        try:
            return AESGCM(self.keys[wrapped.version]).decrypt(wrapped.blob[:12], wrapped.blob[12:], context.encode())
        except InvalidTag:
            raise WrappedKeyDamagedError("KMS decrypt failed") from None


def provider(settings: Any) -> RemoteKms:
    return RemoteKms()


def not_a_provider(settings: Any) -> object:
    return object()
