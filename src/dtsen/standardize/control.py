"""Control characters removed from text before it is stored.

A value from a ministry file may hold characters that are not text: C0 controls (``\\x00`` NUL to
``\\x1f``, except tab, line feed and carriage return), DEL, the C1 controls (``\\x80`` to ``\\x9f``)
and the non-characters U+FFFE and U+FFFF. No writer of a spreadsheet or XML file accepts
them (openpyxl raises, and the name that carries one would stop a whole release), so they are
removed from every mapped value before it is parsed, wherever they stand in the file. Tab and
line breaks are whitespace: the cleaning of each field collapses them to a space.

The pattern is written with escapes both RE2 (DuckDB) and Java (Spark) read alike.
"""

from __future__ import annotations

import ibis.expr.types as ir

CONTROL_CHARS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\x{fffe}\\x{ffff}]"


def strip_control(raw: ir.StringValue) -> ir.StringValue:
    """`raw` without control characters (null stays null)."""
    return raw.re_replace(CONTROL_CHARS, "")


def had_control(raw: ir.StringValue, cleaned: ir.StringValue) -> ir.BooleanValue:
    """Whether cleaning removed something (`cleaned` is `strip_control(raw)`): a length
    comparison, so that the pattern is not searched twice."""
    return (raw.length() != cleaned.length()).fill_null(False)
