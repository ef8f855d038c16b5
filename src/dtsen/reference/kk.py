"""Nomor KK (Kartu Keluarga) parsing and validation, as Ibis expressions.

A nomor KK is 16 digits whose first six are the district (kecamatan) code `PP.KK.CC` where
the card was issued. It is cleaned and checked for Excel damage exactly like a NIK (the same
code: `dtsen.reference.nik.digits16_parts`); a column rounded by Excel is found with
`flag_rounded_column`, and the district is checked against the master with
`dtsen.reference.regions.with_district_check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis.expr.types as ir

from dtsen.reference.nik import check_digits16, digits16_parts
from dtsen.reference.regions import RegionMaster


@dataclass(frozen=True, eq=False)
class KkParts:
    """A nomor KK column parsed and checked; every field is an Ibis expression over the same table."""

    clean: ir.StringValue
    missing: ir.BooleanValue
    excel_damaged: ir.BooleanValue
    bad_format: ir.BooleanValue
    district_code: ir.StringValue


def kk_parts(raw: ir.StringValue, text: tuple[ir.StringValue, ir.StringValue] | None = None) -> KkParts:
    """Parse a raw nomor KK column: cleaning, Excel damage, format and district code (`text` as
    for `digits16_parts`)."""
    base = digits16_parts(raw, text)
    return KkParts(base.clean, base.missing, base.excel_damaged, base.bad_format, base.district_code)


@dataclass(frozen=True)
class KkCheck:
    """One nomor KK checked in Python: parts and reason codes."""

    raw: str | None
    clean: str | None
    missing: bool
    excel_damaged: bool
    bad_format: bool
    district_code: str | None
    reasons: list[str] = field(default_factory=list)  # codes from dtsen.ingest.reasons


def check_kk(s: str | None, master: RegionMaster | None = None) -> KkCheck:
    """`kk_parts` for one value, with its reason codes; `master` adds the district check."""
    base = check_digits16(s)
    reasons: list[str] = []
    if base.missing:
        reasons.append("kk_missing")
    if base.excel_damaged:
        reasons.append("kk_excel_damaged")
    if base.bad_format:
        reasons.append("kk_bad_format")
    if master is not None and master.is_loaded and base.district_code and master.get(base.district_code) is None:
        reasons.append("kk_bad_region")
    return KkCheck(s, base.clean, base.missing, base.excel_damaged, base.bad_format, base.district_code, reasons)
