"""Region code prefixes as filters: `32`, `32.04`, `32.04.05`, `32.04.05.2001` (or "" for all).

Codes are fixed-width per level (`PP.KK.CC.DDDD`), so the rows of a region are exactly the rows
whose code lies in the half-open range [prefix, prefix + "~"): "~" sorts after every digit and
the dot. A range on an indexed column is a B-tree range scan in SQLite, never a table scan.
"""

from __future__ import annotations

import re

from dtsen.errors import DtsenError

PREFIX = re.compile(r"^(\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)?$")
LEVELS = {0: "national", 2: "province", 5: "regency", 8: "district", 13: "village"}
_END = "~"


class RegionPrefixError(DtsenError):
    """A region prefix is not a Kemendagri code (or a dotted prefix of one)."""


def check_prefix(prefix: str | None) -> str:
    """The prefix, stripped; "" (or None) means the whole country. Raises RegionPrefixError."""
    p = (prefix or "").strip()
    if not PREFIX.match(p):
        raise RegionPrefixError(
            f"kode wilayah {p!r} tidak dikenal / region {p!r} is not a region code such as "
            "'32', '32.04', '32.04.05' or '32.04.05.2001'"
        )
    return p


def prefix_range(prefix: str | None) -> tuple[str, str]:
    """(low, high) such that a code is in the region iff low <= code < high."""
    p = check_prefix(prefix)
    return p, p + _END


def level_of(prefix: str | None) -> str:
    """'national', 'province', 'regency', 'district' or 'village'."""
    return LEVELS[len(check_prefix(prefix))]


def within(code: str | None, prefixes: list[str] | tuple[str, ...]) -> bool:
    """True when `code` lies in one of `prefixes` (an empty list: everywhere)."""
    if not prefixes:
        return True
    return code is not None and any(code.startswith(check_prefix(p)) for p in prefixes)
