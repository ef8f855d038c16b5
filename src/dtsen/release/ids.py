"""Release ids and paths in the release store, checked before they are used.

A release id is `R` and at least four digits, written without extra leading zeros: R0001,
R0002, ..., R9999, R10000. Anything else (`../../elsewhere`, `/tmp/x`, `R1`, `r0001`) is
refused with `ReleaseIdError` wherever an id is accepted: CLI arguments and options, `CURRENT`,
a manifest's `release_id` and `previous`, the history.

A path named by a manifest is relative, in forward slashes, without `.` or `..` parts, and
still inside the release once symbolic links are resolved (`inside`); otherwise
`ReleasePathError`.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from dtsen.release.errors import ReleaseIdError, ReleasePathError

RELEASE_ID = re.compile(r"R\d{4,}")
# the id of a linkage run (`link/manifest.json` of a release), or a release id
LINK_RUN_ID_PATTERN = r"^(L[0-9a-f]{6,64}|R\d{4,})$"


def is_release_id(value: object) -> bool:
    return (isinstance(value, str) and RELEASE_ID.fullmatch(value) is not None
            and value == format_release_id(int(value[1:])))


def check_release_id(value: object, what: str = "release id") -> str:
    """`value` if it is a release id, else `ReleaseIdError` saying what was given where."""
    if not is_release_id(value):
        shown = repr(value)[:60]
        raise ReleaseIdError(f"{what} {shown} is not a release id: ids are R and digits, e.g. R0001")
    return str(value)


def release_number(release_id: str) -> int:
    return int(check_release_id(release_id)[1:])


def format_release_id(number: int) -> str:
    return f"R{number:04d}"


def safe_component(value: object, what: str) -> str:
    """A single file or folder name (no separators, not `.` or `..`, not empty, no NUL)."""
    text = str(value) if isinstance(value, str) else ""
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise ReleasePathError(f"{what} {str(value)[:60]!r} is not a plain file or folder name")
    return text


def relative_path(value: object, what: str) -> PurePosixPath:
    """A manifest's relative path, refused when absolute, empty or with `.`/`..` parts."""
    if not isinstance(value, str) or not value or "\\" in value or "\0" in value:
        raise ReleasePathError(f"{what} {str(value)[:80]!r} is not a relative path")
    path = PurePosixPath(value)
    if path.is_absolute() or any(part in (".", "..") for part in value.split("/")) or "" in value.split("/"):
        raise ReleasePathError(f"{what} {value[:80]!r} leaves its folder (absolute, or with '.', '..' or '//')")
    return path


def inside(root: Path, relative: object, what: str) -> Path:
    """`root / relative`, checked: a relative path that stays inside `root` once every symbolic
    link on the way is resolved."""
    rel = relative_path(relative, what)
    path = root.joinpath(*rel.parts)
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise ReleasePathError(f"{what} {str(relative)[:80]!r} leads outside {root} (through a symbolic link)")
    return path
