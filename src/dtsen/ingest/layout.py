"""The raw text of every canonical field of a source, built on the engine from its staged files.

A source's mapping (`dtsen.mapping.SourceMapping`) says where each field comes from; this module
turns that into one Ibis table with a string column per mapped field, which `validate` then
parses and checks like any column:

- `columns`: the column's cell;
- `compose`: the template's columns, trimmed, zero-padded where it says `{COLUMN:0N}`, joined
  with its literal text; a blank column makes the whole value blank (so that a village code
  with a part missing is missing, not malformed);
- `constants`: the constant's text (TRUE/FALSE, digits, YYYY-MM-DD) on every row;
- record kinds: only the rows whose `kind_column` holds one of the kind's values (the first
  kind also keeps the rows of no kind, flagged `kind_unknown`); a kind with a `parent` takes its
  `inherit` fields from the one row of the parent kind with the same `key` where it has none of
  its own (`parent_row_missing` when there is no such row, or several);
- `value_flags`: each yes/no field a column's values name is TRUE on a row whose value names
  it, FALSE on a row whose (known) value does not, and the same for every row of one family
  (same KK, else same NIK) in the source: a family listed once for PKH and once for BPNT has
  both. A value the list does not name is `code_unknown:<COLUMN>`.

- summary rows: `_summary` is true on a row whose cells (mapped or not) are a total line
  (`JUMLAH`, `TOTAL` and numbers; `dtsen.ingest.summary_rows`); `validate` quarantines it as
  `summary_row` when it carries no identifier.

Warnings found here travel to `validate.check_source` in one `_notes` column (`;`-framed
tokens such as `;kind_unknown;`), which `note_tokens` lists; a source without such layouts has
none. Control characters are removed later, per distinct value, where each field is read
(`validate.parsed_lookups`, the name and address lookups).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.ingest.staging import RESERVED_COLUMNS
from dtsen.ingest.summary_rows import summary_row
from dtsen.mapping import KindInfo, SourceMapping, constant_text, parse_template
from dtsen.standardize import code_key_expr
from dtsen.standardize.codes import code_key

NULL_STR = ibis.null("string")
_BASE = ("_source", "_file", "_sheet", "_row")


def compose(t: ir.Table, template: str) -> ir.StringValue:
    """A compose template as one string expression over the columns of `t`."""
    pieces: list[ir.StringValue] = []
    blanks: list[ir.BooleanValue] = []
    for part in parse_template(template):
        if part.column is None:
            pieces.append(ibis.literal(part.text))
            continue
        value = t[part.column].cast("string").strip()
        blanks.append(value.isnull() | (value == ""))
        if part.width:
            value = ibis.ifelse(value.length() < part.width, value.lpad(part.width, "0"), value)
        pieces.append(value)
    joined = pieces[0].concat(*pieces[1:]) if len(pieces) > 1 else pieces[0]
    return ibis.ifelse(ibis.or_(*blanks), NULL_STR, joined)


def field_values(t: ir.Table, src: SourceMapping, only: set[str] | None = None) -> dict[str, ir.StringValue]:
    """The raw text of the fields a mapping gives from columns, templates and constants."""
    out: dict[str, ir.StringValue] = {}
    for column, field in src.columns.items():
        if only is None or field in only:
            out[field] = t[column].cast("string")
    for field, template in src.compose.items():
        if only is None or field in only:
            out[field] = compose(t, template)
    for field, value in src.constants.items():
        if only is None or field in only:
            out[field] = ibis.literal(constant_text(value))
    return out


def note_tokens(src: SourceMapping) -> list[tuple[str, str | None]]:
    """Every (reason code, field) the `_notes` column of `raw_table` can carry for `src` (none:
    the table has no `_notes`)."""
    tokens: list[tuple[str, str | None]] = [("code_unknown", column) for column in src.value_flags]
    if src.kind is not None:
        if src.kind.first:
            tokens.append(("kind_unknown", None))
        if src.kind.parent is not None:
            tokens.append(("parent_row_missing", None))
    return tokens


def _token(code: str, field: str | None) -> str:
    return f"{code}:{field}" if field else code


def _notes(parts: list[tuple[ir.BooleanValue, str]]) -> ir.StringValue:
    """`;`-framed tokens of the conditions that hold, or null."""
    if not parts:
        return NULL_STR
    joined = ibis.literal(";").join([ibis.ifelse(cond, token, NULL_STR) for cond, token in parts]).nullif("")
    return ibis.literal(";") + joined + ibis.literal(";")


def _kind_key(t: ir.Table, kind: KindInfo) -> ir.StringValue:
    return code_key_expr(t[kind.column].cast("string"))


def raw_table(groups: list[ir.Table], name: str, src: SourceMapping, parent: SourceMapping | None) -> ir.Table:
    """The source's rows with `_source`, `_file`, `_sheet`, `_row`, one string column per mapped
    field, and `_notes`; `groups` are the staged tables of its files (one per column layout),
    `parent` the mapping of its parent kind, if any."""
    kind = src.kind
    fields = sorted(src.mapped_fields())
    own = set(field_values(groups[0], src)) if groups else set()
    pieces = []
    for t in groups:
        values = field_values(t, src)
        extra: dict[str, ir.Value] = {}
        if kind is not None:
            extra["_kind_key"] = _kind_key(t, kind)
            if kind.key:
                extra["_key"] = t[kind.key].cast("string").strip()
        for i, column in enumerate(src.value_flags):
            extra[f"_vf{i}"] = code_key_expr(t[column].cast("string"))
        cells = [c for c in t.columns if c not in RESERVED_COLUMNS]
        pieces.append(t.select(
            _source=ibis.literal(name), _file=t._file, _sheet=t._sheet.cast("string"), _row=t._row.cast("int64"),
            _summary=summary_row(t, cells, [values[f] for f in ("nik", "kk") if f in values]), **values, **extra,
        ))
    u = pieces[0] if len(pieces) == 1 else ibis.union(*pieces, distinct=False)
    notes: list[tuple[str, str]] = []  # (boolean column, token)
    if kind is not None:
        mine = u._kind_key.isin([code_key(v) for v in kind.values]).fill_null(False)
        if kind.first:
            unknown = ~u._kind_key.isin([code_key(v) for v in kind.all_values]).fill_null(False)
            u = u.mutate(_n_kind=unknown & ~u._summary).filter(mine | unknown)  # a total line is no kind
            notes.append(("_n_kind", "kind_unknown"))
        else:
            u = u.filter(mine)
        if parent is not None and kind.key:
            u = _inherit(u, groups, kind, parent, own)
            notes.append(("_n_parent", "parent_row_missing"))
    if src.value_flags:
        u = _value_flags(u, src)
        notes += [(f"_n_vf{i}", _token("code_unknown", column)) for i, column in enumerate(src.value_flags)]
    flag_keys = [u[f"_vf{i}"] for i in range(len(src.value_flags))]  # what the rows say, for repeats
    extra = {"_notes": _notes([(u[c], token) for c, token in notes])} if notes else {}
    return u.select(*[u[c] for c in _BASE], u._summary, *flag_keys, **extra, **{f: u[f] for f in fields})


def repeat_columns(src: SourceMapping) -> list[str]:
    """The columns of `raw_table` whose values make a row a copy of another: its fields, but
    for a value flag the column's own value (two rows of one family, PKH and BPNT, are two rows
    with the same family-wide flags)."""
    flagged = {f for names in src.flag_fields().values() for f in names}
    return [*sorted(src.mapped_fields() - flagged), *(f"_vf{i}" for i in range(len(src.value_flags)))]


def _inherit(u: ir.Table, groups: list[ir.Table], kind: KindInfo, parent: SourceMapping, own: set[str]) -> ir.Table:
    """Fill the kind's `inherit` fields from its parent row (the one row of the parent kind with
    the same key); `_n_parent`: that row is missing or not single."""
    parent_kind = parent.kind
    assert parent_kind is not None and kind.key is not None
    wanted = set(kind.inherit)
    rows = []
    for t in groups:
        values = field_values(t, parent, only=wanted)
        t = t.filter(_kind_key(t, parent_kind).isin([code_key(v) for v in parent_kind.values]).fill_null(False))
        rows.append(t.select(_pkey=t[kind.key].cast("string").strip(),
                             **{f"_p_{f}": field_values(t, parent, only=wanted)[f] for f in values}))
    p = rows[0] if len(rows) == 1 else ibis.union(*rows, distinct=False)
    p = p.filter(p._pkey.notnull() & (p._pkey != ""))
    inherited_cols = [c for c in p.columns if c.startswith("_p_")]
    agg = p.group_by("_pkey").aggregate(_pn=p.count(), **{c: p[c].max() for c in inherited_cols})
    j = u.left_join(agg, u._key == agg._pkey)
    j = j.mutate(_n_parent=~(j._pn == 1).fill_null(False))
    filled = {}
    for f in kind.inherit:
        inherited = ibis.ifelse(j._n_parent, NULL_STR, j[f"_p_{f}"])
        filled[f] = j[f].fill_null(inherited) if f in own else inherited
    return j.mutate(**filled).drop("_pkey", "_pn", *inherited_cols)


def _value_flags(u: ir.Table, src: SourceMapping) -> ir.Table:
    """The yes/no fields of `value_flags`, per family of the source (see the module doc);
    `_n_vf<i>`: the i-th column's value is one its list does not name."""
    keys = [u[f].strip().nullif("") for f in ("kk", "nik") if f in u.columns]
    u = u.mutate(_fam=ibis.coalesce(*keys) if len(keys) > 1 else keys[0] if keys else NULL_STR)
    flags: dict[str, ir.Value] = {}
    unknowns: dict[str, ir.Value] = {}
    for i, (column, table) in enumerate(src.value_flags.items()):
        key = u[f"_vf{i}"]
        codes = {code_key(v): [t] if isinstance(t, str) else list(t) for v, t in table.items()}
        blank = key.isnull() | (key == "")
        unknown = ~blank & ~key.isin(list(codes))
        unknowns[f"_n_vf{i}"] = unknown
        for field in src.flag_fields()[column]:
            named = [c for c, targets in codes.items() if field in targets]
            flags[f"_flag_{field}"] = ibis.ifelse(blank | unknown, ibis.null("int8"), key.isin(named).cast("int8"))
    u = u.mutate(**flags, **unknowns)
    out = {}
    for name in flags:
        per_family = u[name].max().over(ibis.window(group_by=u._fam))
        value = ibis.ifelse(u._fam.isnull(), u[name], per_family)
        out[name.removeprefix("_flag_")] = ibis.cases((value == 1, "TRUE"), (value == 0, "FALSE"), else_=NULL_STR)
    return u.mutate(**out).drop("_fam", *flags)
