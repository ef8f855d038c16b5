"""Numbers written as text the way Indonesian sources write them, parsed without raising.

`parse_int(raw)` and `parse_float(raw)` return a `Parsed` of Ibis expressions. Before matching,
spaces (also non-breaking ones) are removed, an "Rp"/"Rp." prefix and a trailing ",-" or ".-"
("Rp 1.300,-") are dropped. A blank text, or one made only of dashes ("-" is how forms say
"none"), is `missing`; anything else that is not a number of the accepted shapes is `invalid`.

Integers accept "1300", "-5", thousands with dots "1.300" / "1.300.000" (Indonesian) or commas
"1,300" (English spreadsheets), and a zero fraction "36.0", "36,0", "1.300,00" (what the XLSX
reader writes for whole numbers). A thousands group needs a non-zero leading digit ("0.500" is
not an integer). At most 18 digits.

Floats, `decimal="auto"` (the default), read in this order:
1. "1300", "-5";
2. both separators: "1.300,50" (Indonesian) and "1,300.50" (English) - the last one is decimal;
3. dots only in groups of three after 1-3 digits ("1.300", "12.500.000"): thousands;
4. a single comma: decimal comma ("36,5"; so "1,300" is 1.3, as Indonesian writing means);
5. several commas in groups of three ("1,300,000"): thousands;
6. any other single dot: decimal point ("36.5", "36.0", "0.500", "1234.567").
The ambiguity is "1.300": Indonesian writing means 1300, machine text means 1.3. Rule 3 reads it
as 1300; a column known to hold machine text (a typed XLSX number) should use `decimal="dot"`,
which reads only "-1234.5"-like text (and English thousands commas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

_S = "^-?"
_GROUPS_DOT = "[1-9][0-9]{0,2}(?:\\.[0-9]{3})+"
_GROUPS_COMMA = "[1-9][0-9]{0,2}(?:,[0-9]{3})+"


@dataclass(frozen=True)
class Parsed:
    """Expressions for one parsed number column."""

    value: ir.NumericValue  # the number, or null
    missing: ir.BooleanValue  # the text is null, blank or only dashes
    invalid: ir.BooleanValue  # the text is present but not a number of an accepted shape


def prepared_number(raw: ir.StringValue) -> ir.StringValue:
    """The text a number is read from: upper case, no spaces, no "Rp" prefix, no ",-" suffix.

    `parse_int` and `parse_float` compute it themselves; a caller that has it as a column
    already passes it as `text`, so that its regexes are not repeated in every branch."""
    text = raw.upper().re_replace(r"[\s\x{00A0}]+", "")
    text = text.re_replace(r"^RP\.?", "")
    return text.re_replace("[.,]-$", "")


def _parsed(raw: ir.StringValue, text: ir.StringValue, number: ir.StringValue, dtype: str) -> Parsed:
    missing = raw.isnull() | text.re_search("^-*$")
    value = ibis.ifelse(missing, ibis.null("string"), number).cast(dtype)
    return Parsed(value=value, missing=missing, invalid=~missing & value.isnull())


def parse_int(raw: ir.StringValue, text: ir.StringValue | None = None) -> Parsed:
    """An integer (int64) from Indonesian or spreadsheet text; see the module doc for the shapes.
    `text` is `prepared_number(raw)`, when the caller has it."""
    text = prepared_number(raw) if text is None else text
    digits = ibis.cases(
        (text.re_search(f"{_S}[0-9]+$"), text),
        (text.re_search(f"{_S}{_GROUPS_DOT}(?:,0+)?$"), text.re_replace(",0+$", "").replace(".", "")),
        (text.re_search(f"{_S}{_GROUPS_COMMA}(?:\\.0+)?$"), text.re_replace("\\.0+$", "").replace(",", "")),
        (text.re_search(f"{_S}[0-9]+[.,]0+$"), text.re_replace("[.,]0+$", "")),
        else_=ibis.null("string"),
    )
    digits = ibis.ifelse(digits.re_search("^-?0*[0-9]{1,18}$"), digits, ibis.null("string"))
    return _parsed(raw, text, digits, "int64")


def parse_float(
    raw: ir.StringValue, decimal: Literal["auto", "dot"] = "auto", text: ir.StringValue | None = None
) -> Parsed:
    """A float64 from Indonesian or machine text; `decimal` says how to read a lone dot; `text`
    is `prepared_number(raw)`, when the caller has it."""
    text = prepared_number(raw) if text is None else text
    if decimal == "dot":
        number = ibis.cases(
            (text.re_search(f"{_S}[0-9]+(?:\\.[0-9]+)?$"), text),
            (text.re_search(f"{_S}{_GROUPS_COMMA}(?:\\.[0-9]+)?$"), text.replace(",", "")),
            else_=ibis.null("string"),
        )
    else:
        number = ibis.cases(
            (text.re_search(f"{_S}[0-9]+$"), text),
            (text.re_search(f"{_S}{_GROUPS_DOT},[0-9]+$"), text.replace(".", "").replace(",", ".")),
            (text.re_search(f"{_S}{_GROUPS_COMMA}\\.[0-9]+$"), text.replace(",", "")),
            (text.re_search(f"{_S}{_GROUPS_DOT}$"), text.replace(".", "")),
            (text.re_search(f"{_S}[0-9]+,[0-9]+$"), text.replace(",", ".")),
            (text.re_search(f"{_S}{_GROUPS_COMMA}$"), text.replace(",", "")),
            (text.re_search(f"{_S}[0-9]+\\.[0-9]+$"), text),
            else_=ibis.null("string"),
        )
    return _parsed(raw, text, number, "float64")
