"""Evidence files: the signed minutes of a village meeting, photos of a visit, a citizen's
documents. Images (JPEG, PNG) and PDF only, checked by their content, kept outside every
served directory, and only ever handed back as a download.

`inspect(name, data)` decides the type from the bytes (magic numbers and structure), never from
the name or the Content-Type the client sent, and refuses:

- anything that is not a whole JPEG (SOI ... EOI), PNG (signature, IHDR first, every chunk's CRC,
  IEND last, nothing after it) or PDF (`%PDF-1.x`/`%PDF-2.0` at the start, `%%EOF` at the end);
- a name whose extension says another type (a PDF named `.jpg`), or names a type we do not take;
- markup or script anywhere in the bytes (`<html`, `<script`, `<svg`, `<?php`, `<iframe`,
  `javascript:`): polyglots that a browser or viewer could be tricked into running;
- PDFs with active content (`/JavaScript`, `/JS`, `/Launch`, `/EmbeddedFile`, `/RichMedia`, `/XFA`,
  `/SubmitForm`, `/ImportData`, `/OpenAction`, `/AA`) in their uncompressed text. Objects inside
  compressed object streams are not decompressed: a viewer's own sandbox is the last defence.

`EvidenceStore` keeps accepted files under `workflow.evidence_dir` named by their SHA-256
(`ab/cdef....bin`, mode 0600 in 0700 folders, written aside and renamed): never executable, never
under a path a web server serves, and the name a client sent is not kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from dtsen.workflow.errors import EvidenceRefused, EvidenceTooLarge

KINDS = ("minutes", "evidence", "photo")
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}
EXTENSIONS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".pdf": "pdf"}
DOWNLOAD_EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}

_MARKUP = re.compile(rb"<\s*(html|script|svg|iframe|object|embed|body|\?php)|javascript\s*:", re.IGNORECASE)
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|SubmitForm|ImportData|OpenAction|AA)"
                         rb"(?![A-Za-z0-9])")
_PDF_HEADER = re.compile(rb"^%PDF-(1\.[0-7]|2\.0)[\r\n ]")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Inspected:
    kind: str  # jpeg, png, pdf
    media_type: str
    size: int
    sha256: str


def _refuse(why: str) -> EvidenceRefused:
    return EvidenceRefused(f"berkas ditolak / file refused: {why}; only JPEG or PNG images and PDF documents are "
                           "accepted")


def _jpeg(data: bytes) -> str | None:
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    body = data.rstrip(b"\x00")
    if not body.endswith(b"\xff\xd9"):
        raise _refuse("the JPEG image is cut short or has data after its end")
    pos = 2
    while pos < len(body):  # walk the marker segments up to the start of the scan
        if body[pos] != 0xFF:
            raise _refuse("the JPEG image is damaged (a segment does not start with a marker)")
        marker = body[pos + 1] if pos + 1 < len(body) else 0
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to EOI
            return "jpeg"
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > len(body):
            break
        (length,) = struct.unpack(">H", body[pos + 2:pos + 4])
        if length < 2:
            break
        pos += 2 + length
    raise _refuse("the JPEG image has no image data")


def _png(data: bytes) -> str | None:
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos = len(PNG_SIGNATURE)
    first = True
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            break
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(data[pos + 4:end - 4]) & 0xFFFFFFFF != crc:
            raise _refuse("the PNG image is damaged (a chunk's checksum is wrong)")
        if first and ctype != b"IHDR":
            raise _refuse("the PNG image does not start with its header")
        first = False
        if ctype == b"IEND":
            if end != len(data):
                raise _refuse("the PNG image has data after its end")
            return "png"
        pos = end
    raise _refuse("the PNG image is cut short")


def _pdf(data: bytes) -> str | None:
    if not data.startswith(b"%PDF-"):
        return None
    if not _PDF_HEADER.match(data):
        raise _refuse("the PDF header is not a PDF version")
    if b"%%EOF" not in data[-1024:]:
        raise _refuse("the PDF is cut short (no %%EOF at its end)")
    tail = data[data.rfind(b"%%EOF") + 5:]
    if tail.strip():
        raise _refuse("the PDF has data after its end")
    if _PDF_ACTIVE.search(data):
        raise _refuse("the PDF holds active content (scripts, actions, embedded files or forms)")
    return "pdf"


def inspect(name: str, data: bytes, max_bytes: int) -> Inspected:
    """The type of an uploaded file from its content; EvidenceRefused / EvidenceTooLarge when it
    is not one we keep (see the module docstring)."""
    if len(data) > max_bytes:
        raise EvidenceTooLarge(f"berkas terlalu besar / file too large: {len(data):,} bytes, at most {max_bytes:,}")
    if not data:
        raise _refuse("the file is empty")
    suffix = Path(name or "").suffix.lower()
    if suffix and suffix not in EXTENSIONS:
        raise _refuse(f"files named {suffix!r} are not accepted")
    kind = _jpeg(data) or _png(data) or _pdf(data)
    if kind is None:
        raise _refuse("its content is not a JPEG, PNG or PDF (checked by content, not by name)")
    if suffix and EXTENSIONS[suffix] != kind:
        raise _refuse(f"its content is {kind.upper()} but it is named {suffix!r}")
    if _MARKUP.search(data):
        raise _refuse("it holds markup or script (HTML, SVG, JavaScript)")
    return Inspected(kind, MEDIA_TYPES[kind], len(data), hashlib.sha256(data).hexdigest())


class EvidenceStore:
    """Accepted evidence files under one directory, named by their SHA-256."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a SHA-256")
        return self.directory / sha256[:2] / f"{sha256[2:]}.bin"

    def put(self, data: bytes, sha256: str) -> None:
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        os.chmod(path.parent, 0o700)
        tmp = path.parent / f".{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()

    def get(self, sha256: str) -> bytes:
        data = self._path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise EvidenceRefused("berkas bukti rusak / the stored evidence file does not match its checksum")
        return data
