"""Regions named instead of coded, resolved to codes against the region master, top down.

The old welfare list and the electricity file name the province, regency, district and village
(`KABUPATEN CIANJUR`, `KAB. CIANJUR`, `CIANJUR`; `DS. SUKAMAJU`) without codes. A source maps
such columns to the helper fields `province_name`, `regency_name`, `district_name` and
`village_name` (and `district_code` where the district is coded); the village code is found
top down: the province among the provinces, the regency within it, the district within the
regency (or the province), the village within the district (or, by an exact name, within the
regency or the province). A level above that is not given, or whose name is not found
(`JABAR`), is skipped over: the level below is looked for among all regions of its level. A
name not found within a parent that was found is not looked for elsewhere. A row whose names
give no village code is flagged `region_name_unresolved:<level>` with the first level whose name
did not resolve, so the report says what did not resolve.

Names are compared on a key (`region_key_expr`): upper case, apostrophes dropped, other
punctuation and spaces removed, the level's prefixes stripped (`PROV.`, `KAB.`/`KABUPATEN`/
`KOTA`, `KEC.`/`KECAMATAN`, `DS.`/`DESA`/`KEL.`/`KELURAHAN`), old spellings folded (DJ→J, TJ→C,
OE→U, SJ→SY). A name resolves to the one candidate of its scope whose key is nearest, when that
is within a small edit distance (Levenshtein: 0 for keys of up to 4 characters, 1 up to 8, else
2) and no other candidate is as near; `KAB.` or `KOTA` in a regency name restricts to that kind.
A village whose district is unknown resolves only by an exact key that is unique within its
regency (or province, or the country). Everything runs on the engine, on the distinct name
combinations of a source (a few thousand), joined back to its rows.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from dtsen.reference.regions import region_code_expr

LEVELS = ("province", "regency", "district", "village")
NAME_FIELDS = {"province": "province_name", "regency": "regency_name", "district": "district_name",
               "village": "village_name"}
PREFIXES: dict[str, tuple[str, ...]] = {
    "province": ("PROVINSI", "PROPINSI", "PROV", "PROP"),
    "regency": ("KABUPATEN ADMINISTRASI", "KABUPATEN ADM", "KAB ADMINISTRASI", "KAB ADM", "KABUPATEN", "KAB",
                "KOTA ADMINISTRASI", "KOTA ADM", "KOTA"),
    "district": ("KECAMATAN", "KEC"),
    "village": ("KELURAHAN", "DESA", "KEL", "DS"),
}
FOLDS = (("DJ", "J"), ("TJ", "C"), ("OE", "U"), ("SJ", "SY"))
NULL_STR = ibis.null("string")


def _plain(col: ir.StringValue) -> ir.StringValue:
    return col.upper().re_replace("['`\u2018\u2019]", "").re_replace("[^A-Z0-9]+", " ").strip()


def region_key_expr(col: ir.StringValue, level: str) -> ir.StringValue:
    """The key a name of `level` is compared on (see the module doc); null when blank."""
    prefixes = sorted(PREFIXES[level], key=len, reverse=True)
    t = _plain(col).re_replace("^(?:" + "|".join(prefixes) + ") ", "")
    for old, new in FOLDS:
        t = t.replace(old, new)
    return t.replace(" ", "").nullif("")


def regency_kind_expr(col: ir.StringValue) -> ir.StringValue:
    """KAB or KOTA when a regency name says which, else null."""
    t = _plain(col)
    return ibis.cases((t.re_search("^(?:KABUPATEN|KAB) "), "KAB"), (t.re_search("^KOTA "), "KOTA"), else_=NULL_STR)


def master_names(regions: ir.Table) -> ir.Table:
    """The region master (code, name, level, parent) with the keys names are matched on:
    `key`, `kind` (KAB or KOTA for regencies), `prov` and `regency` (the code's first parts)."""
    key = ibis.cases(*((regions.level == lvl, region_key_expr(regions.name, lvl)) for lvl in LEVELS), else_=NULL_STR)
    return regions.select(
        code=regions.code, level=regions.level, parent=regions.parent, key=key,
        kind=ibis.ifelse(regions.level == "regency", regency_kind_expr(regions.name), NULL_STR),
        prov=regions.code.left(2), regency=regions.code.left(5),
    )


def _allowed(key: ir.StringValue) -> ir.IntegerValue:
    n = key.length()
    return ibis.cases((n <= 4, 0), (n <= 8, 1), else_=2)


def _best(pairs: ir.Table) -> ir.Table:
    """Per query (`_q`), the one candidate `code` nearest within the allowed distance, if unique."""
    near = pairs.filter(pairs._d <= pairs._max)
    best = near.group_by("_q").aggregate(_dmin=near._d.min()).rename(_bq="_q")
    j = near.inner_join(best, [near._q == best._bq, near._d == best._dmin])
    counted = j.group_by(j._q).aggregate(_n=j.code.nunique(), _code=j.code.min())
    return counted.filter(counted._n == 1).select("_q", _code="_code")


def _match(queries: ir.Table, names: ir.Table, level: str, scope: str | None) -> ir.Table:
    """Resolve `queries` (`_q` id, `_k` key, `_kind`, and `_scope` code or null) among the
    master's regions of `level`; `scope` names the candidate column the scope code equals
    ("parent", "regency" or "prov"), None for no scope (all candidates)."""
    c = names.filter(names.level == level).select("code", "key", "kind", "parent", "regency", "prov")
    q = queries.filter(queries._k.notnull())
    if scope is not None:
        q = q.filter(q._scope.notnull())
        j = q.inner_join(c, q._scope == c[scope])
    else:
        j = q.cross_join(c)
    j = j.filter(j._kind.isnull() | (j._kind == j.kind))
    pairs = j.select("_q", "code", _d=j._k.levenshtein(j.key), _max=_allowed(j._k))
    return _best(pairs)


def _exact(queries: ir.Table, names: ir.Table, level: str, scope: str | None) -> ir.Table:
    """Resolve by an exact key that is unique within the scope (or everywhere)."""
    c = names.filter(names.level == level).select("code", "key", "parent", "regency", "prov")
    q = queries.filter(queries._k.notnull())
    on = [q._k == c.key]
    if scope is not None:
        q = q.filter(q._scope.notnull())
        on = [q._k == c.key, q._scope == c[scope]]
    j = q.inner_join(c, on)
    counted = j.group_by(j._q).aggregate(_n=j.code.nunique(), _code=j.code.min())
    return counted.filter(counted._n == 1).select("_q", _code="_code")


# Per level, the scopes a name is looked for in, nearest first: (resolved level, candidate column
# that equals its code). Without any, provinces and regencies are matched among all of theirs
# (few), districts and villages by an exact key unique in the country.
_SCOPES: dict[str, list[tuple[str, str]]] = {
    "province": [],
    "regency": [("province", "parent")],
    "district": [("regency", "parent"), ("province", "prov")],
    "village": [("district", "parent"), ("regency", "regency"), ("province", "prov")],
}


def resolve(t: ir.Table, names: ir.Table, given: set[str],
            materialize: Callable[[ir.Table], ir.Table] = lambda x: x,
            needed: ir.BooleanValue | None = None) -> ir.Table:
    """`t` with `_name_region` (the village code its names resolve to, or null) and
    `_name_unresolved` (the first level given whose name did not resolve, or null); `names`
    is `master_names` of the region master, `given` the helper fields the source maps, and
    `needed` the rows whose names are to be resolved (default: all; a row with a village code
    needs none). `materialize` (the engine's) keeps the plan small: the name combinations are
    computed once per level (Spark's analyzer grows with every self-join otherwise)."""
    fields = [f for f in (*NAME_FIELDS.values(), "district_code") if f in given]
    combos = (t if needed is None else t.filter(needed)).select(*fields).distinct()
    combos = combos.mutate(_q=ibis.row_number().over(order_by=[combos[f] for f in fields]))
    keys: dict[str, ir.Value] = {}
    for level, f in NAME_FIELDS.items():
        if f in given and not (level == "district" and "district_code" in given):
            keys[f"_k_{level}"] = region_key_expr(combos[f], level)
    if "regency_name" in given:
        keys["_k_kind"] = regency_kind_expr(combos.regency_name)
    if "district_code" in given:  # a coded district is taken as it is
        keys["_c_district"] = region_code_expr(combos.district_code + ".0000").left(8).nullif("")
    combos = materialize(combos.mutate(**keys))
    code: dict[str, str] = {"district": "_c_district"} if "district_code" in given else {}
    for level in LEVELS:
        key = f"_k_{level}"
        if key not in combos.columns:
            continue
        scopes = [(p, candidate) for p, candidate in _SCOPES[level] if p in code]
        queries = combos.select(
            _q=combos._q, _k=combos[key], _kind=combos._k_kind if level == "regency" and "_k_kind" in combos.columns
            else NULL_STR, **{f"_s_{p}": combos[code[p]] for p, _ in scopes})
        pieces = []
        for p, candidate in scopes:
            fuzzy = level != "village" or candidate == "parent"  # a village is looked for near its district
            q = queries.mutate(_scope=queries[f"_s_{p}"])
            pieces.append((_match if fuzzy else _exact)(q, names, level, candidate))
        # where no level above resolved (none given, or none found): among all regions of the level
        nowhere = ibis.and_(*(queries[f"_s_{p}"].isnull() for p, _ in scopes)) if scopes else ibis.literal(True)
        q = queries.filter(nowhere).mutate(_scope=NULL_STR)
        pieces.append((_match if level in ("province", "regency") else _exact)(q, names, level, None))
        picked = _first(pieces).rename(_pq="_q", **{f"_c_{level}": "_code"})
        combos = materialize(combos.left_join(picked, combos._q == picked._pq).drop("_pq"))
        code[level] = f"_c_{level}"
    unresolved = [(combos[f"_k_{lvl}"].notnull() & combos[code[lvl]].isnull(), lvl)
                  for lvl in LEVELS if f"_k_{lvl}" in combos.columns]
    out = combos.select(
        **{f"_n_{f}": combos[f] for f in fields},
        _name_region=combos[code["village"]] if "village" in code else NULL_STR,
        _name_unresolved=ibis.cases(*unresolved, else_=NULL_STR) if unresolved else NULL_STR,
    )
    j = t.left_join(out, [t[f].fill_null("\x00") == out[f"_n_{f}"].fill_null("\x00") for f in fields])
    return j.drop(*[f"_n_{f}" for f in fields])


def _first(pieces: list[ir.Table]) -> ir.Table:
    """The code each query resolved to in the first piece (nearest scope) that resolved it."""
    ranked = [p.mutate(_rank=ibis.literal(i)) for i, p in enumerate(pieces)]
    u = ranked[0] if len(ranked) == 1 else ibis.union(*ranked, distinct=False)
    best = u.group_by("_q").aggregate(_r=u._rank.min()).rename(_bq="_q")
    j = u.inner_join(best, [u._q == best._bq, u._rank == best._r])
    return j.select("_q", "_code")
