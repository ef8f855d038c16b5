"""Nomor KK (Kartu Keluarga) parsing and validation, as Ibis expressions.

A nomor KK is 16 digits whose first six are the district (kecamatan) code `PP.KK.CC` where
the card was issued, and whose last four are a serial that is never 0000. It is cleaned and
checked for Excel damage exactly like a NIK (the same code: `dtsen.reference.nik.digits16_parts`);
a serial 0000 is what Excel's rounding to 15 significant digits leaves of serials 0001-0009,
flagged `kk_bad_serial` as a NIK's is; a column rounded by Excel is found with
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
    bad_serial: ir.BooleanValue  # 16 digits ending in 0000


def kk_parts(raw: ir.StringValue, text: tuple[ir.StringValue, ir.StringValue] | None = None) -> KkParts:
    """Parse a raw nomor KK column: cleaning, Excel damage, format and district code (`text` as
    for `digits16_parts`)."""
    base = digits16_parts(raw, text)
    bad_serial = (base.clean.right(4) == "0000").fill_null(False)
    return KkParts(base.clean, base.missing, base.excel_damaged, base.bad_format, base.district_code, bad_serial)


@dataclass(frozen=True)
class KkCheck:
    """One nomor KK checked in Python: parts and reason codes."""

    raw: str | None
    clean: str | None
    missing: bool
    excel_damaged: bool
    bad_format: bool
    district_code: str | None
    bad_serial: bool = False
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
    bad_serial = base.clean is not None and base.clean.endswith("0000")
    if bad_serial:
        reasons.append("kk_bad_serial")
    if master is not None and master.is_loaded and base.district_code and master.get(base.district_code) is None:
        reasons.append("kk_bad_region")
    return KkCheck(
        s, base.clean, base.missing, base.excel_damaged, base.bad_format, base.district_code, bad_serial, reasons
    )
