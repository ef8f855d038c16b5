"""Quarantine: the rows that cannot be used, kept verbatim with where they came from and why.

Each quarantined row keeps the source, the file and sheet, the row number a person sees in a
spreadsheet, every reason it was rejected, the warnings it also had, and the raw row as a JSON
object of the file's own column names and untouched values. Rows the reader could not even
split into columns keep the raw text of the record instead.
"""

from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir

QUARANTINE_COLUMNS = ("source", "file", "sheet", "row", "reasons", "flags", "detail", "raw")

_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _json_string(value: ir.StringValue) -> ir.StringValue:
    for old, new in _ESCAPES:
        value = value.replace(old, new)
    return ibis.literal('"') + value + ibis.literal('"')


def raw_json(table: ir.Table, columns: list[str]) -> ir.StringValue:
    """The row's source columns as a JSON object string, built on the engine."""
    if not columns:
        return ibis.literal("{}")
    parts = []
    for c in columns:
        key = json.dumps(c, ensure_ascii=False) + ":"
        parts.append(ibis.ifelse(table[c].isnull(), ibis.literal(key + "null"), ibis.literal(key) + _json_string(table[c])))
    return ibis.literal("{") + ibis.literal(",").join(parts) + ibis.literal("}")


def checked_rejects(checked: ir.Table, staged: ir.Table, columns: list[str]) -> ir.Table:
    """Rows that failed validation, joined to their raw values in `staged` (staged files that
    share `columns`, `_file` holding each file's label)."""
    q = checked.filter(checked._reject.notnull())
    raw = staged.select(_f=staged._file, _r=staged._row, _s=staged._sheet.cast("string").fill_null(""),
                        _raw=raw_json(staged, columns))
    joined = q.inner_join(raw, [q.file == raw._f, q.row == raw._r, q.sheet.fill_null("") == raw._s])
    return joined.select(
        source=joined.source,
        file=joined.file,
        sheet=joined.sheet,
        row=joined.row,
        reasons=joined._reject,
        flags=joined.flags,
        detail=ibis.null("string"),
        raw=joined._raw,
    )


def reader_rejects(rejects: ir.Table, source: str, file_label: str) -> ir.Table:
    """Rows the reader could not split into the header's columns."""
    return rejects.select(
        source=ibis.literal(source),
        file=ibis.literal(file_label),
        sheet=rejects._sheet.cast("string"),
        row=rejects._row.cast("int64"),
        reasons=rejects._reason.cast("string"),
        flags=ibis.null("string"),
        detail=rejects._detail.cast("string"),
        raw=rejects._raw.cast("string"),
    )
