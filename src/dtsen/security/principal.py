"""Who is asking: a `Principal` (a person, a machine client or a citizen) and its `Grant`s.

A grant is one role assignment from the store: the role, the region code prefix it is limited to
("" = national), and for machine clients the purposes and programmes it is limited to. The policy
decides from grants, never from anything else about the principal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["user", "client", "citizen"]

# A region prefix is a whole region code: PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD ("" = national).
REGION_PREFIX = re.compile(r"^(\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)?$")
PREFIX_LEVELS = {0: "national", 2: "province", 5: "regency", 8: "district", 13: "village"}


def prefix_level(prefix: str) -> str:
    """'national', 'province', 'regency', 'district' or 'village'; ValueError if not a code."""
    if not REGION_PREFIX.match(prefix):
        raise ValueError(f"{prefix!r} is not a region code prefix (PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD)")
    return PREFIX_LEVELS[len(prefix)]


def within(region_code: str | None, prefix: str) -> bool:
    """Whether `region_code` (a record's village, or an area) lies inside the region `prefix`.
    Matching is by whole code parts: '32.04' holds '32.04.05.2001' but not '32.040'. A record
    without a region lies only inside the national prefix ''."""
    if prefix == "":
        return True
    if not region_code:
        return False
    return region_code == prefix or region_code.startswith(prefix + ".")


@dataclass(frozen=True)
class Grant:
    """One role, limited to a region prefix, and (for clients) to purposes and programmes."""

    role: str
    region_prefix: str = ""
    purposes: frozenset[str] | None = None  # None: every purpose the rules give the role
    programmes: frozenset[str] | None = None  # None: every programme

    def label(self) -> str:
        return f"{self.role}@{self.region_prefix}" if self.region_prefix else self.role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `name` is the username, the client id, or 'citizen'."""

    kind: PrincipalKind
    id: int | None
    name: str
    grants: tuple[Grant, ...] = ()
    family_id: int | None = None  # citizens: the one family they proved they belong to
    token_id: str | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        """How the audit log names this principal: 'user:alice', 'client:kemensos-pkh',
        'citizen:family:45'."""
        if self.kind == "citizen":
            return f"citizen:family:{self.family_id}"
        return f"{self.kind}:{self.name}"

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.role for g in self.grants))

    def roles_label(self) -> str:
        return ",".join(g.label() for g in self.grants)
