"""Indonesian addresses: RT and RW found where people write them, the rest cleaned.

An address line usually carries the street, the house number, the hamlet and the RT/RW:
"JL. MAWAR NO. 5 RT 003/RW 005 DSN. KRAJAN". `extract_rt_rw` finds RT and RW in the forms
people write ("RT 003/RW 005", "RT.3 RW.5", "Rt 03 Rw 05", "RT/RW 003/005", "RT 3 / RW 5",
"RT003RW005", "rt.01/rw.02", "RT 003/005"); `normalize_rt` cleans an RT or RW column;
`clean_address` upper-cases, unifies abbreviations (`ABBREVIATIONS`) and drops the RT/RW part,
which lives in its own columns. All three return Ibis expressions and compile identically on
DuckDB and Spark (no lookaround, no backreferences, no group references in replacements).

RT and RW are 3-digit, zero-padded strings ("003"); 0 or more than three significant digits is
not an RT (null). A label is recognised only when it is not the end of a longer word
("KARTINI 3" holds no RT): the character before RT/RW must not be a letter.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

# Address words in their canonical form -> the spellings unified to it (whole tokens, after
# punctuation has become spaces, so "JL." and "JL" are the same token).
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "JL": ("JL", "JLN", "JALAN"),
    "GG": ("GG", "GANG"),
    "DESA": ("DS", "DESA"),
    "DUSUN": ("DSN", "DUSUN"),
    "KELURAHAN": ("KEL", "KELURAHAN"),
    "KECAMATAN": ("KEC", "KECAMATAN"),
    "KABUPATEN": ("KAB", "KABUPATEN"),
    "KAMPUNG": ("KP", "KMP", "KAMP", "KAMPUNG"),
    "NO": ("NO", "NOMOR", "NOMER", "NMR"),
    "PERUMAHAN": ("PERUM", "PERUMAHAN"),
    "KOMPLEK": ("KOMP", "KOMPLEK", "KOMPLEKS"),
    "BLOK": ("BLK", "BLOK"),
    "LINGKUNGAN": ("LINGK", "LINGKUNGAN"),
}

_B = "(?:^|[^A-Z])"  # start of text or a non-letter before a label
_SEP = "[ .:]*"  # what people put between a label and its number
_PAIR = f"RT{_SEP}[/.-]?{_SEP}RW{_SEP}([0-9]+) *[/.-] *([0-9]+)"  # RT/RW 003/005
_RT_SLASH = f"RT{_SEP}([0-9]+) *[/] *([0-9]+)"  # RT 003/005
_RT = f"RT{_SEP}([0-9]+)"
_RW = f"RW{_SEP}([0-9]+)"
_RT_NUMBER = "^(?:R[TW])?[ .:]*0*([1-9][0-9]{0,2})(?:[.,]0+)?$"


def _digits(x: ir.StringValue) -> ir.StringValue:
    """1-3 significant digits, zero-padded to 3; anything else (0, '', 1234) -> null."""
    core = x.re_extract("^0*([1-9][0-9]{0,2})$", 1).nullif("")
    return core.lpad(3, "0")


def normalize_rt(col: ir.StringValue) -> ir.StringValue:
    """An RT or RW column to 3 digits: "3", "03", "003", "RT 3", "3.0" -> "003"; 0 or text -> null."""
    text = col.upper().re_replace(r"[\s\x{00A0}]+", " ").strip()
    return text.re_extract(_RT_NUMBER, 1).nullif("").lpad(3, "0")


def extract_rt_rw(address: ir.StringValue) -> tuple[ir.StringValue, ir.StringValue]:
    """(RT, RW) found in a free-text address, each 3 digits or null."""
    text = address.upper()
    rt = ibis.coalesce(
        text.re_extract(_B + _PAIR, 1).nullif(""),
        text.re_extract(_B + _RT, 1).nullif(""),
    )
    rw = ibis.coalesce(
        text.re_extract(_B + _PAIR, 2).nullif(""),
        text.re_extract(_B + _RW, 1).nullif(""),
        text.re_extract(_B + _RT_SLASH, 2).nullif(""),
    )
    return _digits(rt), _digits(rw)


def clean_address(col: ir.StringValue) -> ir.StringValue:
    """Upper case, RT/RW removed, punctuation and spaces collapsed, abbreviations unified."""
    text = col.upper()
    for pattern in (_PAIR, _RT_SLASH, _RT, _RW):
        text = text.re_replace(_B + pattern, " ")
    text = text.re_replace("['`\u2018\u2019]", "")
    text = text.re_replace(r"[^\p{L}\p{N}]+", " ").strip()
    text = " " + text.replace(" ", "  ") + " "  # every token owns a space on each side
    for canonical, spellings in ABBREVIATIONS.items():
        text = text.re_replace(" (?:" + "|".join(spellings) + ") ", f" {canonical} ")
    return text.re_replace(" +", " ").strip().nullif("")
