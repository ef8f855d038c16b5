"""A backup destination: encrypted, content-addressed objects and one sealed manifest per backup.

    DEST/
        repository.json          repository id and its key, wrapped by the master key and, when
                                 asked, by a passphrase (scrypt); nothing else in clear
        objects/ab/<id>          one file's content, encrypted; id = HMAC(ids key, sha256 of content)
        snapshots/<id>.json.enc  one backup: every file's path, size, sha256 and object (sealed)
        .lock                    held (flock) while a backup writes

The repository key never leaves memory unwrapped; per purpose subkeys are derived from it with
HKDF (objects, object ids, snapshots). An object is a sequence of AES-256-GCM chunks of 4 MiB:

    "DTSNBK01" then per chunk: u32 length | nonce (12) | ciphertext | tag (16)
    aad = "dtsen-backup/1 chunk" | repository id | u64 chunk index | final flag (1 byte)

so a changed, dropped, reordered or appended chunk fails, and a cut-off object lacks its final
chunk. The object id binds the content to its name: a restored file must hash to the sha256 its
snapshot records, and that sha256 must give the object's name.

Incremental: an object already in DEST is never written again; a file whose path, size and
modification time equal the previous backup's is not even read.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from dtsen.backup.errors import BackupDamagedError, BackupError
from dtsen.vault.atomic import fsync_dir, write_atomic
from dtsen.vault.cipher import hkdf
from dtsen.vault.errors import VaultError
from dtsen.vault.master import KeyProvider, WrappedKey, new_key

FORMAT = "dtsen-backup/1"
REPO_FILE = "repository.json"
MAGIC = b"DTSNBK01"
CHUNK = 4 * 2**20
_LEN = struct.Struct(">I")
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _passphrase_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


@dataclass
class ObjectWrite:
    object_id: str
    sha256: str
    size: int
    written: bool  # False: the object was already in the repository


class Repository:
    """An opened backup destination (see the module docstring)."""

    def __init__(self, root: Path, repo_id: str, key: bytes) -> None:
        self.root = Path(root)
        self.repo_id = repo_id
        self._objects = AESGCM(hkdf(key, "objects", b"dtsen-backup/1"))
        self._ids = hkdf(key, "object ids", b"dtsen-backup/1")
        self._snapshots = AESGCM(hkdf(key, "snapshots", b"dtsen-backup/1"))

    # -- creating and opening ------------------------------------------------------------------
    @staticmethod
    def exists(root: Path) -> bool:
        return (Path(root) / REPO_FILE).exists()

    @classmethod
    def create(cls, root: Path, provider: KeyProvider, passphrase: str | None = None) -> Repository:
        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise BackupError(f"{root} is not empty and is not a dtsen backup; choose an empty or new directory")
        root.mkdir(parents=True, exist_ok=True)
        repo_id = secrets.token_hex(8)
        key = new_key()
        recipients: list[dict[str, Any]] = [
            {"kind": "master", "wrapped": provider.wrap(key, f"backup:{repo_id}").to_json()}]
        if passphrase:
            salt = secrets.token_bytes(16)
            nonce = secrets.token_bytes(12)
            sealed = AESGCM(_passphrase_key(passphrase, salt, **_SCRYPT)).encrypt(nonce, key, f"backup:{repo_id}".encode())
            recipients.append({"kind": "passphrase", "kdf": "scrypt", **_SCRYPT, "salt": _b64(salt),
                               "sealed": _b64(nonce + sealed)})
        data = {"format": FORMAT, "repo_id": repo_id, "created": _now(), "recipients": recipients,
                "note": "dtsen backup repository: restore with `dtsen backup restore DEST DIR`"}
        write_atomic(root / REPO_FILE, (json.dumps(data, indent=2) + "\n").encode(), mode=0o644, exclusive=True)
        for sub in ("objects", "snapshots"):
            (root / sub).mkdir(exist_ok=True)
        return cls(root, repo_id, key)

    @classmethod
    def open(cls, root: Path, provider: KeyProvider | None = None, passphrase: str | None = None) -> Repository:
        root = Path(root)
        path = root / REPO_FILE
        if not path.exists():
            raise BackupError(f"{root} is not a dtsen backup (no {REPO_FILE})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            repo_id = str(data["repo_id"])
            recipients = list(data["recipients"])
        except (OSError, ValueError, KeyError, TypeError):
            raise BackupDamagedError(f"{path} is damaged; without it the backup cannot be opened") from None
        if data.get("format") != FORMAT:
            raise BackupError(f"{path}: unknown backup format {data.get('format')!r}")
        problems = []
        for r in recipients:
            try:
                if r.get("kind") == "passphrase" and passphrase:
                    raw = base64.b64decode(r["sealed"])
                    pk = _passphrase_key(passphrase, base64.b64decode(r["salt"]), int(r["n"]), int(r["r"]), int(r["p"]))
                    return cls(root, repo_id, AESGCM(pk).decrypt(raw[:12], raw[12:], f"backup:{repo_id}".encode()))
                if r.get("kind") == "master" and provider is not None:
                    return cls(root, repo_id, provider.unwrap(WrappedKey.from_json(r["wrapped"]), f"backup:{repo_id}"))
            except InvalidTag:
                problems.append("the passphrase is wrong")
            except VaultError as exc:
                problems.append(f"master key: {exc}")
        kinds = ", ".join(sorted({str(r.get("kind")) for r in recipients}))
        detail = "; ".join(problems) or "no key given that it was made for"
        raise BackupError(f"cannot open backup {root} (it opens with: {kinds}): {detail}")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with (self.root / ".lock").open("a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(f"another backup is writing to {self.root}; wait for it to finish") from None
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- objects -------------------------------------------------------------------------------
    def object_id(self, sha256_hex: str) -> str:
        return hmac.new(self._ids, bytes.fromhex(sha256_hex), "sha256").hexdigest()

    def object_path(self, object_id: str) -> Path:
        return self.root / "objects" / object_id[:2] / object_id

    def has_object(self, object_id: str) -> bool:
        return self.object_path(object_id).exists()

    def _aad(self, index: int, final: bool) -> bytes:
        return b"dtsen-backup/1 chunk" + self.repo_id.encode() + struct.pack(">QB", index, final)

    def put_stream(self, chunks: Iterable[bytes]) -> ObjectWrite:
        """Encrypt a stream of bytes into a new object (kept only if the repository lacks it)."""
        tmp_dir = self.root / "objects" / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / secrets.token_hex(8)
        digest = hashlib.sha256()
        size = 0
        with tmp.open("wb") as out:
            out.write(MAGIC)
            index = 0
            pending: bytes | None = None
            for block in _rechunk(chunks):
                if pending is not None:
                    self._write_chunk(out, index, pending, final=False)
                    index += 1
                digest.update(block)
                size += len(block)
                pending = block
            self._write_chunk(out, index, pending or b"", final=True)
        sha = digest.hexdigest()
        object_id = self.object_id(sha)
        final = self.object_path(object_id)
        if final.exists():
            tmp.unlink()
            return ObjectWrite(object_id, sha, size, written=False)
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)  # made durable by `flush` before the snapshot names it
        return ObjectWrite(object_id, sha, size, written=True)

    def _write_chunk(self, out: BinaryIO, index: int, data: bytes, final: bool) -> None:
        nonce = os.urandom(12)
        sealed = self._objects.encrypt(nonce, data, self._aad(index, final))
        out.write(_LEN.pack(len(sealed) + 12))
        out.write(nonce)
        out.write(sealed)

    def get_stream(self, object_id: str, where: str) -> Iterator[bytes]:
        """Decrypt an object chunk by chunk; `BackupDamagedError` naming `where` on any fault."""
        path = self.object_path(object_id)
        if not path.exists():
            raise BackupDamagedError(f"{where}: its object {path} is missing")
        with path.open("rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise BackupDamagedError(f"{where}: object {path} is not a dtsen backup object")
            index = 0
            while True:
                head = fh.read(_LEN.size)
                if len(head) < _LEN.size:
                    raise BackupDamagedError(f"{where}: object {path} is cut off (no final chunk)")
                (n,) = _LEN.unpack(head)
                if n > CHUNK + 64:
                    raise BackupDamagedError(f"{where}: object {path} has a damaged chunk header")
                body = fh.read(n)
                if len(body) < n or n < 28:
                    raise BackupDamagedError(f"{where}: object {path} is cut off")
                final = None
                for flag in (False, True):
                    try:
                        plain = self._objects.decrypt(body[:12], body[12:], self._aad(index, flag))
                        final = flag
                        break
                    except InvalidTag:
                        continue
                if final is None:
                    raise BackupDamagedError(f"{where}: object {path} chunk {index} fails its AES-GCM check "
                                             "(altered or damaged)")
                yield plain
                if final:
                    if fh.read(1):
                        raise BackupDamagedError(f"{where}: object {path} has data after its final chunk")
                    return
                index += 1

    def flush(self) -> None:
        """Make every object written so far durable (one sync instead of one fsync per object)."""
        os.sync()
        fsync_dir(self.root / "objects")

    # -- snapshots -----------------------------------------------------------------------------
    def snapshot_ids(self) -> list[str]:
        d = self.root / "snapshots"
        return sorted(p.name.removesuffix(".json.enc") for p in d.glob("*.json.enc")) if d.exists() else []  # numbered

    def write_snapshot(self, snapshot: dict[str, Any]) -> Path:
        sid = snapshot["snapshot_id"]
        nonce = os.urandom(12)
        sealed = self._snapshots.encrypt(nonce, json.dumps(snapshot, sort_keys=True).encode(),
                                         f"snapshot:{self.repo_id}:{sid}".encode())
        path = self.root / "snapshots" / f"{sid}.json.enc"
        write_atomic(path, nonce + sealed, mode=0o644, exclusive=True)
        return path

    def read_snapshot(self, sid: str) -> dict[str, Any]:
        path = self.root / "snapshots" / f"{sid}.json.enc"
        if not path.exists():
            raise BackupError(f"no backup {sid} in {self.root}; known: {', '.join(self.snapshot_ids()) or 'none'}")
        raw = path.read_bytes()
        try:
            data: dict[str, Any] = json.loads(
                self._snapshots.decrypt(raw[:12], raw[12:], f"snapshot:{self.repo_id}:{sid}".encode()))
        except (InvalidTag, ValueError):
            raise BackupDamagedError(f"the manifest of backup {sid} ({path}) fails its check (damaged or altered); "
                                     "restore an older backup") from None
        return data


def _rechunk(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Blocks of exactly CHUNK bytes (the last one shorter) from blocks of any size."""
    buf = bytearray()
    for c in chunks:
        buf += c
        while len(buf) >= CHUNK:
            yield bytes(buf[:CHUNK])
            del buf[:CHUNK]
    if buf:
        yield bytes(buf)


def file_chunks(path: Path, size: int = CHUNK) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(size):
            yield block


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for block in file_chunks(path):
        digest.update(block)
    return digest.hexdigest()
