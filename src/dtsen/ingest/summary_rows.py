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

The test is a regular expression over the row's cells joined with a separator, on the engine.
It is costly, so it runs only where cheap tests leave it open (the engine evaluates a CASE
branch only on the rows it selects): rows whose identifier cell (the mapped NIK or KK) starts
with 11 digits are not looked at (validate would find an identifier on them anyway), nor rows
whose cells, joined, hold none of the words `JUMLAH`, `JML`, `TOTAL`. Measured on this shared
2-core machine (indicative, others using it): the test alone over 1,000,000 rows of 12 columns
takes 0.5 to 0.8 s with a NIK mapped, about 2.1 s without one (a whole ingest runs at about
18 µs a row).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["LABEL", "NUMBER", "summary_row"]

SEPARATOR = "\x1f"  # the unit separator: not in the cells of a text export
LABEL = (r"(?:GRAND +TOTAL|SUB *TOTAL|TOTAL(?: +(?:KESELURUHAN|SELURUHNYA|AKHIR))?"
         r"|JUMLAH(?: +(?:KESELURUHAN|TOTAL|SELURUHNYA|AKHIR))?|JML\.?)(?: *:? *[0-9][0-9.,]*)? *:?")
NUMBER = r"(?:[-+]?(?:RP\.? *)?[0-9][0-9.,]*%?|-+)"
_SPACE = r"[ \t\r\n]*"  # around a cell's text; never the separator
_LABEL_CELL = f"{_SPACE}{LABEL}{_SPACE}"
_OTHER_CELL = f"{_SPACE}(?:{LABEL}|{NUMBER})?{_SPACE}"  # a label, a number, or empty
_NUMBER_CELL = f"{_SPACE}(?:{NUMBER})?{_SPACE}"
# any case; numbers or empty cells, then a label, then labels, numbers or empty cells
_SUMMARY = f"(?i)^(?:{_NUMBER_CELL}{SEPARATOR})*{_LABEL_CELL}(?:{SEPARATOR}{_OTHER_CELL})*$"


def _no_identifier(cell: ir.StringValue) -> ir.BooleanValue:
    """Cheap: the cell does not start with 11 digits (after spaces and an apostrophe)."""
    return ~cell.re_search(r"^\s*'?[0-9]{11}").fill_null(False)


def summary_row(t: ir.Table, columns: list[str], identifiers: list[ir.StringValue] | None = None) -> ir.BooleanValue:
    """Whether each row of `t` is a summary row by its `columns` (see the module doc); a row
    with every cell empty is not. `identifiers` are the row's raw NIK and KK, where mapped: a
    row where one looks like an identifier is not tested."""
    if not columns:
        return ibis.literal(False)
    # One join of the raw cells, and the patterns allow for case, spaces and empty cells: an
    # expression per cell (trim, upper case, empty to null) made the query plan so large
    # that Spark's optimizer ran out of memory on a file of 37 columns.
    raw = ibis.literal(SEPARATOR).join([t[c].cast("string") for c in columns])  # null cells left out
    worded = raw.re_search("(?i)JUMLAH|JML|TOTAL")
    test = ibis.ifelse(worded.fill_null(False), raw.re_search(_SUMMARY), False)
    if identifiers:
        test = ibis.ifelse(ibis.and_(*map(_no_identifier, identifiers)), test, False)
    return test.fill_null(False)
