"""`KeyStore`: the service's keys, as owner-only files under the project (`security.key_dir`).

    keys/                       mode 0700
      token-signing.key         32 random bytes: HMAC-SHA-256 over access tokens
      hashing.key               32 random bytes: HMAC-SHA-256 for client secrets, login subjects and
                                the keyed references of the audit log (one key, separate domains)
      totp-sealing.key          32 random bytes: AES-256-GCM sealing of TOTP seeds in the store
      audit-signing.pem         Ed25519 private key (PKCS#8) that signs audit checkpoints
      audit-signing.pub.pem     its public key, for auditors who verify a copy of the chain
      approver-<user>.pem       Ed25519 private key of one approver (kepala daerah or delegate): signs
                                approval batches (`signing_key`); with approver-<user>.pub.pem

Each file is created on first use (written to a temporary file and linked into place, so that two
processes starting at once agree on one key), mode 0600; a key file or directory that others can
read is refused. Losing `hashing.key` invalidates every client secret (rotate them); losing
`audit-signing.pem` leaves old checkpoints verifiable only with the saved public key. A later
step moves these keys into a key provider (KMS/HSM); the interface stays this class.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dtsen.security.errors import KeyFileError

TOKEN_KEY = "token-signing.key"
HASHING_KEY = "hashing.key"
SEALING_KEY = "totp-sealing.key"
AUDIT_KEY = "audit-signing.pem"
AUDIT_PUBLIC = "audit-signing.pub.pem"


class KeyStore:
    """The key files of one project, loaded once and kept in memory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, bytes] = {}
        self._signer: Ed25519PrivateKey | None = None

    # -- files --------------------------------------------------------------------------------
    def _ensure_dir(self) -> None:
        if not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
        mode = self.directory.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"key directory {self.directory} is open to other users "
                               f"(mode {stat.S_IMODE(mode):o}); run `chmod 700 {self.directory}`")

    def _read(self, name: str) -> bytes:
        path = self.directory / name
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"key file {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                               f"run `chmod 600 {path}`")
        return path.read_bytes()

    def _file(self, name: str, make: bytes) -> bytes:
        """The content of key file `name`, creating it from `make` if it does not exist yet."""
        self._ensure_dir()
        path = self.directory / name
        if not path.exists():
            tmp = self.directory / f".{name}.{secrets.token_hex(6)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, make)
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process was first: use its key
                os.link(tmp, path)
            tmp.unlink()
        return self._read(name)

    def _secret(self, name: str) -> bytes:
        if name not in self._cache:
            key = self._file(name, secrets.token_bytes(32))
            if len(key) != 32:
                raise KeyFileError(f"key file {self.directory / name} holds {len(key)} bytes, not 32")
            self._cache[name] = key
        return self._cache[name]

    # -- uses ---------------------------------------------------------------------------------
    def token_key(self) -> bytes:
        """The HMAC-SHA-256 key of access tokens."""
        return self._secret(TOKEN_KEY)

    def keyed_hash(self, domain: str, value: str) -> str:
        """HMAC-SHA-256 of `value` in `domain` (hex): for client secrets, login subjects and the
        audit log's keyed references. Domains keep the uses apart under one key."""
        msg = domain.encode() + b"\x00" + value.encode()
        return hmac.new(self._secret(HASHING_KEY), msg, hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, context: bytes) -> str:
        """AES-256-GCM: nonce and ciphertext, base64; `context` is authenticated, not stored."""
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._secret(SEALING_KEY)).encrypt(nonce, plaintext, context)
        return base64.b64encode(nonce + sealed).decode()

    def unseal(self, token: str, context: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        raw = base64.b64decode(token)
        try:
            return AESGCM(self._secret(SEALING_KEY)).decrypt(raw[:12], raw[12:], context)
        except InvalidTag:
            raise KeyFileError(f"a sealed secret does not open with {self.directory / SEALING_KEY}: "
                               "the key file was replaced; reset the affected accounts") from None

    def audit_signer(self) -> Ed25519PrivateKey:
        """The Ed25519 key that signs audit checkpoints (created with its public half)."""
        if self._signer is None:
            fresh = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            pem = self._file(AUDIT_KEY, fresh)
            try:
                key = serialization.load_pem_private_key(pem, password=None)
            except ValueError:
                raise KeyFileError(f"{self.directory / AUDIT_KEY} is not a PEM private key") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyFileError(f"{self.directory / AUDIT_KEY} is not an Ed25519 key")
            public = self.directory / AUDIT_PUBLIC
            if not public.exists():
                public.write_bytes(key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            self._signer = key
        return self._signer

    def signing_key(self, name: str) -> Ed25519PrivateKey:
        """The Ed25519 key `name`.pem (created on first use, owner-only, with `name`.pub.pem beside
        it): one per approver of the workflow (`approver-<username>`)."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", name):
            raise KeyFileError(f"{name!r} is not a key name")
        fresh = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        pem = self._file(f"{name}.pem", fresh)
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError:
            raise KeyFileError(f"{self.directory / name}.pem is not a PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{self.directory / name}.pem is not an Ed25519 key")
        public = self.directory / f"{name}.pub.pem"
        if not public.exists():
            self._file(f"{name}.pub.pem", key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return key

    def public_key(self, name: str) -> Ed25519PublicKey | None:
        """The public key `name`.pub.pem, or None when there is no such file."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", name) or not (self.directory / f"{name}.pub.pem").exists():
            return None
        key = serialization.load_pem_public_key(self._read(f"{name}.pub.pem"))
        return key if isinstance(key, Ed25519PublicKey) else None

    def audit_public_key(self) -> Ed25519PublicKey:
        return self.audit_signer().public_key()

    def audit_key_id(self) -> str:
        return key_id(self.audit_public_key())


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of its SHA-256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
