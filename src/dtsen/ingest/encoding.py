"""The text encoding of a delimited file, its physical lines, and a UTF-8 copy of wide files.

`detect_encoding(path, declared)` returns the codec to read a file with. With ``"auto"``: a
byte-order mark decides first (UTF-32 and UTF-16 with a BOM, UTF-8 with a BOM); otherwise the
whole file is checked strictly, in 1 MiB chunks at C speed, as UTF-8 and else as Windows-1252
(``cp1252``). An explicit encoding is used as given; a byte that does not decode is reported
with its offset. A file is refused as binary when its first 64 KiB hold NUL bytes (two or more,
over 0.5 %: images, UTF-16 without a BOM), start a ZIP archive, or are mostly control characters; a stray NUL
or control character in text is not binary: the text fields it lands in are cleaned, and
flagged, when the row is checked (`dtsen.standardize.control`).

`scan(path, encoding)` counts the file's physical lines in the same pass (line ends are
``\\n``, ``\\r\\n`` or a lone ``\\r``, as the `csv` module and Arrow read them); the CSV reader
compares that count with the records it parsed to find records that run across line ends.

UTF-16 and UTF-32 files are copied to UTF-8 (`utf8_copy`) before they are read: both CSV
parsers, and the line count, work on UTF-8 bytes.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dtsen.errors import InputFileError

_CHUNK_BYTES = 1 << 20
HEAD_BYTES = 64 * 1024
_CONTROL_SHARE = 0.10
_NUL_SHARE = 0.005
# Control bytes that do not occur in text (tab, newlines, form feed and SUB are allowed).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1A), *range(0x1B, 0x20)])
WIDE_UNICODE = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Scan:
    """What one strict pass over a file found."""

    bad: tuple[int, str] | None  # offset and reason of the first byte that does not decode
    lines: int  # physical lines (a last line without a line end counts)


def scan(path: Path, encoding: str, skip: int = 0) -> Scan:
    """Decode the file strictly (from byte `skip`) and count its physical lines.

    Lines are counted on the bytes, which is right for UTF-8 and the single-byte codecs
    (a line end is the same byte in all of them); wide files are copied to UTF-8 first."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = skip
    ends = 0
    last = b""
    bad: tuple[int, str] | None = None
    with path.open("rb") as f:
        f.seek(skip)
        while True:
            chunk = f.read(_CHUNK_BYTES)
            final = not chunk
            if bad is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk, final)
                except UnicodeDecodeError as e:
                    bad = (offset - pending + e.start, e.reason)
            if final:
                break
            ends += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if last == b"\r" and chunk[:1] == b"\n":
                ends -= 1  # a CR LF split between two chunks is one line end
            last = chunk[-1:]
            offset += len(chunk)
    lines = ends + (1 if last not in (b"", b"\n", b"\r") else 0)
    return Scan(bad, lines)


def check_not_binary(path: Path, head: bytes) -> None:
    """Refuse files that are not text: many NUL bytes, or mostly control characters."""
    if not head:
        return
    nuls = head.count(b"\x00")
    if head.startswith(b"PK\x03\x04") or (nuls > 1 and nuls / len(head) > _NUL_SHARE):
        hint = ""
        if head.startswith(b"PK\x03\x04"):
            hint = "; it is a ZIP archive, perhaps an XLSX file with the wrong extension"
        elif nuls * 3 > len(head):
            hint = "; every other byte is NUL: perhaps UTF-16 without a byte-order mark (give encoding='utf-16-le')"
        first_nul = head.find(b"\x00")
        where = f"NUL byte at offset {first_nul}" if nuls else "a ZIP archive"
        raise InputFileError(f"{path}: file looks binary, not CSV text ({where}){hint}")
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if control / len(head) > _CONTROL_SHARE:
        raise InputFileError(
            f"{path}: file looks binary, not CSV text ({control} control bytes in the first {len(head)} bytes)"
        )


def check_not_empty(path: Path, encoding: str) -> None:
    with path.open("r", encoding=encoding, newline="") as f:
        while True:
            text = f.read(_CHUNK_BYTES)
            if not text:
                raise InputFileError(f"{path}: file is empty")
            if text.strip().strip("\ufeff").strip():
                return


def _bom_encoding(head: bytes) -> str | None:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def detect(path: Path, declared: str = "auto") -> tuple[str, Scan]:
    """The codec to read the file with, and the scan of the file in it; raises InputFileError
    for binary, empty or undecodable files."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if declared != "auto":
        try:
            encoding = codecs.lookup(declared).name
        except LookupError:
            raise InputFileError(f"{path}: unknown encoding {declared!r}") from None
        if encoding not in WIDE_UNICODE:
            check_not_binary(path, head)
        found = scan(path, encoding)
        if found.bad is not None:
            raise InputFileError(f"{path}: byte at offset {found.bad[0]} does not decode as {encoding} ({found.bad[1]})")
    elif (wide := _bom_encoding(head)) is not None:
        encoding = wide
        found = scan(path, encoding)
        if found.bad is not None:
            raise InputFileError(f"{path}: starts with a {encoding} byte-order mark, but the byte at offset "
                                 f"{found.bad[0]} does not decode ({found.bad[1]})")
    else:
        check_not_binary(path, head)
        if head.startswith(codecs.BOM_UTF8):
            found = scan(path, "utf-8", skip=len(codecs.BOM_UTF8))
            encoding = "utf-8-sig"
        else:
            found = scan(path, "utf-8")
            encoding = "utf-8"
        if found.bad is not None:
            other = scan(path, "cp1252")
            if other.bad is not None:
                raise InputFileError(
                    f"{path}: not UTF-8 (byte at offset {found.bad[0]}) nor Windows-1252 (byte at offset "
                    f"{other.bad[0]}); give the encoding explicitly"
                )
            encoding, found = "cp1252", other
    check_not_empty(path, encoding)
    return encoding, found


def detect_encoding(path: Path, declared: str = "auto") -> str:
    """The codec to read the file with; raises InputFileError for binary or undecodable files."""
    return detect(path, declared)[0]


@contextlib.contextmanager
def utf8_copy(path: Path, encoding: str, out_dir: Path) -> Iterator[tuple[Path, str, Scan | None]]:
    """A wide-encoded file as a temporary UTF-8 copy in `out_dir` (deleted afterwards), with
    the scan of the copy; any other file as it is (and no scan: the caller has it)."""
    if encoding not in WIDE_UNICODE:
        yield path, encoding, None
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / (path.name + ".utf8.tmp")
    try:
        with path.open("r", encoding=encoding, newline="") as src, copy.open("w", encoding="utf-8", newline="") as dst:
            while text := src.read(_CHUNK_BYTES):
                dst.write(text)  # the utf-16 and utf-32 codecs consume the byte-order mark
        yield copy, "utf-8", scan(copy, "utf-8")
    finally:
        copy.unlink(missing_ok=True)
