"""Summary rows: the total lines that Excel exports put below (or between) the data rows.

A ministry export made in Excel often ends with a line such as ``JUMLAH,,,,1.234`` or
``Jumlah keseluruhan: 1.234``. Such a row is not a person or a family. A row is a summary row
when, over all its cells (mapped or not):

- at least one cell is a summary label: ``JUMLAH``, ``JML``, ``TOTAL``, ``SUBTOTAL`` (``SUB
  TOTAL``), ``GRAND TOTAL``, ``JUMLAH KESELURUHAN`` / ``TOTAL`` / ``SELURUHNYA`` / ``AKHIR``,
  ``TOTAL KESELURUHAN`` / ``SELURUHNYA`` / ``AKHIR`` (any case, spaces trimmed), optionally
  followed by ``:`` and a number (``Jumlah keseluruhan: 1.234``);
- every other non-empty cell is a number (``1234``, ``1.234``, ``1.234,5``, ``Rp 50.000``,
  ``12%``) or a dash.

`validate.check_source` quarantines such a row as ``summary_row`` only when it carries no
identity: no NIK or KK that looks like one (16 digits, or damaged by Excel). A person named
``TOTAL`` with a NIK is a person.

The test is one regular expression over the row's cells joined with a separator, run only on
the rows whose joined text holds a label at all (a cheap first test), on the engine.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["LABEL", "summary_row"]

SEPARATOR = "\x1f"  # the unit separator: not in the cells of a text export
LABEL = (r"(?:GRAND +TOTAL|SUB *TOTAL|TOTAL(?: +(?:KESELURUHAN|SELURUHNYA|AKHIR))?"
         r"|JUMLAH(?: +(?:KESELURUHAN|TOTAL|SELURUHNYA|AKHIR))?|JML\.?)(?: *:? *[0-9][0-9.,]*)? *:?")
NUMBER = r"(?:[-+]?(?:RP\.? *)?[0-9][0-9.,]*%?|-+)"
_HAS_LABEL = f"(?:^|{SEPARATOR}){LABEL}(?:{SEPARATOR}|$)"
_ONLY = f"^(?:(?:{LABEL}|{NUMBER}){SEPARATOR})*(?:{LABEL}|{NUMBER})$"


def summary_row(t: ir.Table, columns: list[str]) -> ir.BooleanValue:
    """Whether each row of `t` is a summary row by its `columns` (see the module doc); a row
    with every cell empty is not."""
    if not columns:
        return ibis.literal(False)
    cells = [t[c].cast("string").strip().upper().nullif("") for c in columns]
    joined = ibis.literal(SEPARATOR).join(cells)  # empty cells are left out
    return ibis.ifelse(joined.re_search(_HAS_LABEL), joined.re_search(_ONLY), False).fill_null(False)
