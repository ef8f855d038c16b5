"""Turn one source's mapped raw strings into typed canonical records, with every reason found.

The input is the union of a source's staged files with the mapped columns renamed to their
canonical field names (all strings). The output has the canonical, typed columns of its
level, plus `_reject` and `flags`: the reason codes (`;`-joined) that send a row to
quarantine or merely flag it. Every check runs on the engine as Ibis expressions; the
reasons a row has are all collected, not only the first.

Field results (a source that maps `family_ref`: ODK / KoboToolbox exports of the ground-check
form, see `dtsen.verify.field_results`) are also checked against the current release
(`FieldCheckTables`): the family must be one of its families (`family_unknown`, or
`family_ref_missing` when blank), the officer must be assigned to the family's village when an
officer list is given (`officer_not_assigned`), and the visit may not be dated after the
source's as-of date (`visit_in_future`). The record's `kk` and `region_code` are filled from
the release family when the export lacks them, so that the linkage attaches the record to that
family by its KK. For such a source `family_ref` stands in for the identity check
(`identity_missing` is not applied: the family id is the identity). For other sources a
row is `identity_missing` only when, its damaged or impossible fields withheld, nothing that
identifies someone is left (`_identified`). A total line below the data (`summary_row`, see
`dtsen.ingest.summary_rows`) is quarantined as such, and not also as `identity_missing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from dtsen.config import SourceMapping
from dtsen.engine import Engine
from dtsen.ingest.check_tables import FieldCheckTables, RegionTables, field_check_join, known
from dtsen.ingest.layout import note_tokens, repeat_columns
from dtsen.ingest.reasons import Severity, reason_code
from dtsen.ingest.region_names import resolve as resolve_region_names
from dtsen.ingest.value_lookups import address_lookup, name_lookup
from dtsen.reference.kk import kk_parts
from dtsen.reference.nik import (
    digits16_text,
    flag_rounded_columns,
    nik_birth_date_mismatch,
    nik_parts,
    nik_sex_mismatch,
)
from dtsen.reference.regions import region_code_expr
from dtsen.schema import FIELDS, HELPER_FIELDS, FieldSpec, Level
from dtsen.standardize import (
    age_at,
    clean_text,
    code_key_expr,
    had_control,
    normalize_rt,
    parse_date,
    parse_float,
    parse_int,
    prepared_date,
    prepared_number,
    strip_control,
    translate,
    translate_bool,
)

NULL_STR = ibis.null("string")

# Fields whose value is derived or resolved rather than parsed one to one.
_SPECIAL = {"nik", "kk", "full_name", "region_code", "address", *HELPER_FIELDS}
_RT = ("rt", "rw")  # read by `_rt_parser`
# Helper fields used to resolve others; never in the output.
_HELPERS = HELPER_FIELDS

# Reasons shared by several fields: written `code:field` so that the field is named.
_PER_FIELD = {"value_invalid", "code_unknown"}

Range = tuple[float | None, float | None]

_IBIS_TYPES: dict[str, str] = {"string": "string", "date": "date", "int": "int64", "float": "float64", "bool": "boolean"}


@dataclass
class Checks:
    """Reason code -> boolean expression, gathered while the columns are built."""

    items: list[tuple[str, ir.BooleanValue]] = field(default_factory=list)

    def add(self, code: str, condition: ir.BooleanValue, field: str | None = None) -> None:
        """A reason; with `field` it is written `code:field` (the severity stays the code's)."""
        self.items.append((f"{code}:{field}" if field else code, condition.fill_null(False)))

    def joined(self, severity: dict[str, Severity], level: Severity) -> ir.StringValue:
        parts = [ibis.ifelse(cond, token, NULL_STR) for token, cond in self.items
                 if severity[reason_code(token)] == level]
        if not parts:
            return NULL_STR
        return ibis.literal(";").join(parts).nullif("")


def output_columns(level: Level) -> list[str]:
    """The canonical columns of a level's records, in output order."""
    cols = ["source", "file", "sheet", "row"]
    for spec in FIELDS[level].values():
        if spec.name in _HELPERS:
            continue
        cols.append(spec.name)
        if spec.name == "full_name":
            cols += ["name", "name_titles", "name_tokens", "name_phonetic"]
        if spec.name == "nik" and level == "person":
            cols += ["nik_birth_date", "nik_sex"]
    return [*cols, "flags"]


def _typed_null(spec: FieldSpec) -> ir.Value:
    return ibis.null(_IBIS_TYPES[spec.dtype])


def _field_parser(spec: FieldSpec, src: SourceMapping, as_of: dt.date) -> Parser:
    """How one raw column becomes one typed value, and the reason it can fail with."""
    extra = src.codes.get(spec.name)

    def prepare(raw: ir.StringValue) -> ir.StringValue:
        if spec.dtype in ("int", "float"):
            if extra:  # a code list for a number (Regsosek's VA classes 1-5 -> 450..3500)
                key = raw.strip()
                raw = key.cases(*extra.items(), else_=raw)
            return prepared_number(raw)
        if spec.dtype == "bool" or spec.vocabulary:
            return code_key_expr(raw)
        if spec.dtype == "date":
            return prepared_date(raw)
        return raw

    def parse(raw: ir.StringValue, prepared: ir.StringValue) -> tuple[ir.Value, ir.BooleanValue]:
        if spec.dtype == "date":
            parsed = parse_date(raw, src.date_formats, as_of, text=prepared)
            return parsed.value, parsed.invalid
        if spec.dtype in ("int", "float"):
            number = parse_int(raw, prepared) if spec.dtype == "int" else parse_float(raw, text=prepared)
            return number.value, number.invalid
        if spec.dtype == "bool":  # a source's own code list replaces the built-in one
            flag = translate_bool(raw, extra, key=prepared, replace=True)
            return flag.value, flag.unknown
        if spec.vocabulary:
            code = translate(raw, spec.name, extra, key=prepared, replace=True)
            return code.value, code.unknown
        return clean_text(raw), ibis.literal(False)

    if spec.dtype == "date":
        reason = "birth_date_invalid" if spec.name == "birth_date" else "value_invalid"
    elif spec.dtype in ("int", "float"):
        reason = "value_invalid"
    else:
        reason = "sex_invalid" if spec.name == "sex" else "code_unknown"
    return Parser(reason, prepare, parse)


@dataclass(frozen=True)
class Parser:
    """How a field's raw text is read: `prepare` gives the text the parse reads (computed once,
    as a column), `parse(raw, prepared)` the typed value and whether it is bad; `limits(raw,
    prepared)`, when given, whether the value is out of its range (else a number's range is
    checked on the value)."""

    reason: str
    prepare: Callable[[ir.StringValue], ir.StringValue]
    parse: Callable[[ir.StringValue, ir.StringValue], tuple[ir.Value, ir.BooleanValue]]
    limits: Callable[[ir.StringValue, ir.StringValue], ir.BooleanValue] | None = None


def _rt_parser(bounds: Range | None) -> Parser:
    """An RT or RW column read as 3 digits (`_rt_checked`)."""
    return Parser(
        "value_invalid",
        prepare=lambda raw: raw,
        parse=lambda raw, _: (_rt_checked(raw, bounds)[0], _rt_checked(raw, bounds)[2]),
        limits=lambda raw, _: _rt_checked(raw, bounds)[1],
    )


def default_ranges() -> dict[str, Range]:
    """The plausible range of every number field of the schema (`FieldSpec.low`, `.high`)."""
    return {spec.name: (spec.low, spec.high) for fields in FIELDS.values() for spec in fields.values()
            if spec.has_range}


def out_of_range(value: ir.NumericValue, bounds: Range | None) -> ir.BooleanValue:
    """True where a number lies outside `bounds` (inclusive); a float that is not finite is
    always out of range."""
    low, high = bounds or (None, None)
    conds: list[ir.BooleanValue] = []
    if low is not None:
        conds.append(value < low)
    if high is not None:
        conds.append(value > high)
    if value.type().is_floating():
        conds += [value.isinf(), value.isnan()]
    return ibis.or_(*conds).fill_null(False) if conds else ibis.literal(False)


def parsed_lookups(
    engine: Engine, raw: ir.Table, fields: dict[str, tuple[FieldSpec, Parser]],
    ranges: dict[str, Range] | None = None,
) -> list[tuple[str, ir.Table]]:
    """Parse each distinct raw value of each field once, in one lookup table.

    Raw values repeat (a source has a handful of sex codes, some thousands of birth dates):
    parsing each distinct value once and joining is far cheaper than parsing every row. The
    lookup has one row per (field, value) and one value column per type, and is computed in a
    single pass. Control characters are removed from each value before it is read. Returns,
    per field, the raw column and its slice of the lookup, keyed by `_k_<field>` with
    `_<field>_value`, `_<field>_bad`, `_<field>_oor` (a number outside its range in `ranges`,
    withheld: the value is null) and `_<field>_ctl` (control characters were removed) (for
    `join_lookups`).
    """
    bounds = default_ranges() if ranges is None else ranges
    def union(pieces: list[ir.Table]) -> ir.Table:
        return pieces[0] if len(pieces) == 1 else ibis.union(*pieces, distinct=False)

    # Two passes, so that the prepared text is a column and not repeated in every branch of
    # the parse (which would make the SQL, and the time to compile it, several times larger).
    prepared = []
    for fname, (_, parser) in fields.items():
        values = raw.select(_v=raw[fname]).distinct()
        values = values.filter(values._v.notnull())
        clean = strip_control(values._v)  # control characters out, per distinct value
        prepared.append(values.select(_f=ibis.literal(fname), _v=values._v, _c=clean, _ctl=had_control(values._v, clean),
                                      _p=parser.prepare(clean)))
    texts = engine.materialize(union(prepared))
    pieces = []
    for fname, (spec, parser) in fields.items():
        values = texts.filter(texts._f == fname)
        value, bad = parser.parse(values._c, values._p)
        oor: ir.BooleanValue = ibis.literal(False)
        if parser.limits is not None:
            oor = parser.limits(values._c, values._p)
        elif spec.dtype in ("int", "float"):
            oor = out_of_range(value, bounds.get(fname))
            value = ibis.ifelse(oor, ibis.null(_IBIS_TYPES[spec.dtype]), value)
        typed = {f"_t_{d}": (value if d == spec.dtype else ibis.null(_IBIS_TYPES[d])) for d in _IBIS_TYPES}
        pieces.append(values.select(_f=values._f, _v=values._v, _bad=bad, _oor=oor, _ctl=values._ctl, **typed))
    lookup = engine.materialize(union(pieces))
    out = []
    for fname, (spec, _) in fields.items():
        part = lookup.filter(lookup._f == fname)
        out.append((fname, part.select(**{f"_k_{fname}": part._v, f"_{fname}_value": part[f"_t_{spec.dtype}"],
                                          f"_{fname}_bad": part._bad, f"_{fname}_oor": part._oor,
                                          f"_{fname}_ctl": part._ctl})))
    return out


def join_lookups(table: ir.Table, lookups: list[tuple[str, ir.Table]]) -> ir.Table:
    """Left-join each lookup on its raw column (lookup key `_k_<column>`), as one join chain.

    Joining them all before any other column is derived keeps the expression (and so the time
    Ibis takes to build and compile it) small; the keys are dropped at the end, once.
    """
    keys = []
    for column, lookup in lookups:
        key = f"_k_{column}"
        table = table.left_join(lookup, table[column] == lookup[key])
        keys.append(key)
    return table.drop(*keys) if keys else table


def check_source(
    engine: Engine,
    raw: ir.Table,
    name: str,
    src: SourceMapping,
    regions: RegionTables,
    *,
    severity: dict[str, Severity],
    max_age: int,
    excel_zero_share: float,
    names: ir.Table | None = None,
    field_check: FieldCheckTables | None = None,
    ranges: dict[str, Range] | None = None,
) -> ir.Table:
    """Typed canonical columns plus `flags` (warnings) and `_reject` (reasons to quarantine).

    `field_check` is what a source mapping `family_ref` is checked against (see the module
    docstring); without it such a source's family ids are all unknown. `ranges` are the
    plausible ranges of number fields (default: the schema's); a value outside is withheld.
    A raw table with a `_notes` column (`;`-framed reason tokens found while its fields were
    built, see `dtsen.ingest.layout`) adds those reasons."""
    ranges = default_ranges() if ranges is None else ranges
    level: Level = src.level
    specs = FIELDS[level]
    mapped = src.mapped_fields()
    as_of = src.as_of

    repeats = repeat_columns(src)
    t = _mark_repeats(raw, repeats if all(c in raw.columns for c in repeats) else sorted(mapped))
    # The identifiers' cleaned texts, once, as columns: every NIK and KK check reads them.
    ids = [f for f in ("nik", "kk") if f in mapped]
    texts = {f: digits16_text(t[f]) for f in ids}
    t = t.mutate(**{f"_{f}_{part}": texts[f][i] for f in ids for i, part in enumerate(("t", "d"))})

    # Every field but the identifiers and the region is parsed once per distinct raw value;
    # these lookups (and names' and addresses') are joined first, in one chain.
    parsers = {
        spec.name: _rt_parser(ranges.get(spec.name)) if spec.name in _RT else _field_parser(spec, src, as_of)
        for spec in specs.values()
        if spec.name in mapped and spec.name not in _SPECIAL and spec.name not in _HELPERS
    }
    lookups = parsed_lookups(engine, raw, {f: (specs[f], p) for f, p in parsers.items()}, ranges) if parsers else []
    if "full_name" in mapped:
        named = names if names is not None else name_lookup(engine, raw)
        lookups.append(("full_name", named.rename(_k_full_name="_v")))
    if "address" in mapped:
        lookups.append(("address", address_lookup(engine, raw)))
    if "region_code" in mapped:
        codes = raw.select(_k_region_code=raw.region_code).distinct()
        codes = codes.filter(codes._k_region_code.notnull())
        lookups.append(("region_code", engine.materialize(codes.mutate(_region=region_code_expr(codes._k_region_code)))))
    t = join_lookups(t, lookups)

    def col(f: str) -> ir.StringValue:
        return t[f] if f in mapped else NULL_STR

    # Identifiers first: the Excel-rounding check needs the cleaned values of the whole file.
    def text(f: str) -> tuple[ir.StringValue, ir.StringValue] | None:
        return (t[f"_{f}_t"], t[f"_{f}_d"]) if f in mapped else None

    nik = nik_parts(col("nik"), as_of, text("nik"))
    kk = kk_parts(col("kk"), text("kk"))
    t = t.mutate(
        _nik=nik.clean, _nik_missing=nik.missing, _nik_damaged=nik.excel_damaged, _nik_bad_format=nik.bad_format,
        _nik_bad_date=nik.bad_date, _nik_bad_serial=nik.bad_serial, _nik_district=nik.district_code,
        _nik_birth=nik.birth_date, _nik_sex=nik.sex,
        _kk=kk.clean, _kk_missing=kk.missing, _kk_damaged=kk.excel_damaged, _kk_bad_format=kk.bad_format,
        _kk_district=kk.district_code, _kk_bad_serial=kk.bad_serial,
        _region=t._region if "region_code" in mapped else NULL_STR,
        _region_given=col("region_code").strip().length() > 0,
    )
    t = flag_rounded_columns(t, ["_nik", "_kk"], by=["_file"], share=excel_zero_share)

    # Region: the village code as given, or resolved from the names of the village and the
    # regions above it, top down (`dtsen.ingest.region_names`).
    named = "village_name" in mapped and regions.names is not None
    if named:
        t = resolve_region_names(t, regions.names, mapped & set(HELPER_FIELDS), engine.materialize,
                                 needed=t._region.isnull())
        t = t.mutate(_region=t._region.fill_null(t._name_region))
    if regions.loaded:
        t = known(t, "_nik_district", regions.districts, "_nik_district_ok")
        t = known(t, "_kk_district", regions.districts, "_kk_district_ok")
        t = known(t, "_region", regions.villages, "_region_ok")
    else:
        t = t.mutate(_nik_district_ok=ibis.literal(True), _kk_district_ok=ibis.literal(True), _region_ok=ibis.literal(True))

    field_result = "family_ref" in mapped
    if field_result:
        t = field_check_join(t, field_check or FieldCheckTables.empty(engine))

    checks = Checks()
    out: dict[str, ir.Value] = {"source": ibis.literal(name), "file": t._file, "sheet": t._sheet, "row": t._row}
    nik_damaged = t._nik_damaged | t._nik_rounded.fill_null(False)
    kk_damaged = t._kk_damaged | t._kk_rounded.fill_null(False)
    # a KK serial 0000 is what Excel's rounding leaves of serials 0001-0009: withheld, as for a NIK
    kk_bad_serial = t._kk_bad_serial & ~kk_damaged
    checks.add("duplicate_row", t._dup)
    checks.add("nik_excel_damaged", nik_damaged)
    checks.add("kk_excel_damaged", kk_damaged)
    if "nik" in mapped:
        checks.add("nik_missing", t._nik_missing)
        checks.add("nik_bad_format", t._nik_bad_format & ~nik_damaged)
        checks.add("nik_bad_date", t._nik_bad_date & ~nik_damaged)
        checks.add("nik_bad_serial", t._nik_bad_serial & ~nik_damaged)
        checks.add("nik_bad_region", t._nik.notnull() & ~t._nik_district_ok & ~nik_damaged)
    if "kk" in mapped:
        checks.add("kk_missing", t._kk_missing & (t._ref_kk.isnull() if field_result else ibis.literal(True)))
        checks.add("kk_bad_format", t._kk_bad_format & ~kk_damaged)
        checks.add("kk_bad_region", t._kk.notnull() & ~t._kk_district_ok & ~kk_damaged)
        checks.add("kk_bad_serial", kk_bad_serial)
    nik_ok = ~nik_damaged & ~t._nik_bad_date.fill_null(False) & ~t._nik_bad_serial.fill_null(False)
    out["nik"] = ibis.ifelse(nik_ok, t._nik, NULL_STR)
    if field_result:  # the head's NIK: a second way to the family when its KK is unknown
        out["nik"] = out["nik"].fill_null(t._ref_nik)
    out["kk"] = ibis.ifelse(~kk_damaged & ~kk_bad_serial, t._kk, NULL_STR)
    # A total line (`JUMLAH`, `TOTAL` and numbers; `dtsen.ingest.summary_rows`) with no
    # identifier that looks like one: not a person or a family. It is said once, as itself.
    identifier = t._nik.notnull() | t._nik_damaged | t._kk.notnull() | t._kk_damaged
    summary = (t._summary & ~identifier).fill_null(False) if "_summary" in t.columns else ibis.literal(False)
    checks.add("summary_row", summary)
    if field_result:  # the export names the family by id: its KK is the release family's
        out["kk"] = out["kk"].fill_null(t._ref_kk)

    for spec in specs.values():
        if spec.name in parsers:
            out[spec.name] = t[f"_{spec.name}_value"]
            reason = parsers[spec.name].reason
            checks.add(reason, t[f"_{spec.name}_bad"], field=spec.name if reason in _PER_FIELD else None)
            checks.add("control_chars_removed", t[f"_{spec.name}_ctl"], field=spec.name)
            if spec.dtype in ("int", "float") or spec.name in _RT:
                checks.add("value_out_of_range", t[f"_{spec.name}_oor"], field=spec.name)
        elif spec.name not in _SPECIAL and spec.name not in _HELPERS:
            out[spec.name] = _typed_null(spec)
    out["observed_at"] = out["observed_at"].fill_null(ibis.literal(as_of))  # a row's own date, else the source's

    # Names
    if "full_name" in mapped:
        out.update(full_name=t._full_name_clean, name=t._name, name_titles=t._name_titles,
                   name_tokens=t._name_tokens, name_phonetic=t._name_phonetic)
        checks.add("name_missing", t._name.isnull())
        checks.add("control_chars_removed", t._name_ctl, field="full_name")
    else:
        out.update(full_name=NULL_STR, name=NULL_STR, name_titles=NULL_STR,
                   name_tokens=ibis.null("array<string>"), name_phonetic=NULL_STR)
    if field_result:
        ref_missing = t.family_ref.isnull() | (t.family_ref.strip() == "")
        checks.add("family_ref_missing", ref_missing)
        checks.add("family_unknown", ~ref_missing & ~t._ref_hit)
        checks.add("officer_not_assigned", t._ref_hit & ~t._off_hit)
        checks.add("visit_in_future", out["observed_at"] > ibis.literal(as_of))

    # Person checks that tie fields together
    if level == "person":
        out["nik_birth_date"] = ibis.ifelse(nik_ok, t._nik_birth, ibis.null("date"))
        out["nik_sex"] = ibis.ifelse(nik_ok, t._nik_sex, NULL_STR)
        birth = out["birth_date"]
        if "birth_date" in mapped:
            checks.add("birth_date_missing", t.birth_date.isnull() | (t.birth_date.strip() == ""))
            future, too_old = birth > ibis.literal(as_of), age_at(birth, as_of) > max_age
            checks.add("birth_date_future", future)
            checks.add("age_implausible", too_old)
            # an impossible birth date is withheld; the row still describes a person
            birth = ibis.ifelse((future | too_old).fill_null(False), ibis.null("date"), birth)
            out["birth_date"] = birth
        if "nik" in mapped:
            shown = _NikView(t._nik_birth, t._nik_sex)
            checks.add("nik_birth_date_mismatch", nik_ok & nik_birth_date_mismatch(shown, birth))
            checks.add("nik_sex_mismatch", nik_ok & nik_sex_mismatch(shown, out["sex"]))

    # Address, RT/RW: an RT/RW column wins over what the address text says.
    rt_found = t._addr_rt if "address" in mapped else NULL_STR
    rw_found = t._addr_rw if "address" in mapped else NULL_STR
    out["address"] = t._addr_clean if "address" in mapped else NULL_STR
    if "address" in mapped:
        checks.add("control_chars_removed", t._addr_ctl, field="address")
    found = {"rt": rt_found, "rw": rw_found}
    for f in _RT:
        out[f] = out[f].fill_null(found[f]) if f in mapped else found[f]

    if named:  # the first level whose name did not resolve, where no code came of it
        for lvl in ("province", "regency", "district", "village"):
            checks.add("region_name_unresolved", (t._name_unresolved == lvl) & t._region.isnull(), field=lvl)
    # Region checks (only for sources that say where people live)
    if mapped & {"region_code", "village_name"}:
        region_given = t._region_given.fill_null(False)
        checks.add("region_bad_format", region_given & t._region.isnull())
        checks.add("region_unknown", t._region.notnull() & ~t._region_ok)
        resolved = t._ref_region.isnull() if field_result else ibis.literal(True)
        checks.add("region_missing", ~region_given & t._region.isnull() & resolved)
    out["region_code"] = ibis.ifelse(t._region_ok, t._region, NULL_STR)
    if field_result:
        out["region_code"] = out["region_code"].fill_null(t._ref_region)
    else:
        checks.add("identity_missing", ~_identified(level, out) & ~summary)

    # A person row needs a NIK or a name: a KK alone is a household's row (a file of several
    # record kinds read as persons). A death date alone marks a death.
    if level == "person" and not field_result:
        checks.add("person_without_name_or_nik", t._nik_missing & out["name"].isnull() & ~t._kk_missing & ~summary)
        if "death_date" in mapped:
            died, deceased = out["death_date"].notnull(), out["is_deceased"]
            checks.add("deceased_conflict", died & (deceased == ibis.literal(False)))
            out["is_deceased"] = ibis.ifelse(died & deceased.isnull(), ibis.literal(True), deceased)

    if "_notes" in t.columns:  # found while the raw fields were built (`dtsen.ingest.layout`)
        for code, named in note_tokens(src):
            checks.add(code, t._notes.contains(f";{code}:{named};" if named else f";{code};"), field=named)

    out["flags"] = checks.joined(severity, "warn")
    out["_reject"] = checks.joined(severity, "reject")
    return t.select(**{c: out[c] for c in [*output_columns(level), "_reject"]})


def _identified(level: Level, out: dict[str, ir.Value]) -> ir.BooleanValue:
    """What is left of a row, once damaged identifiers and impossible values are withheld,
    still identifies someone: for a person, a usable NIK, or a name with a birth date, a KK or a
    village; for a family, a usable KK or NIK, or a name."""
    nik, kk, name = out["nik"].notnull(), out["kk"].notnull(), out["name"].notnull()
    if level == "person":
        placed = out["birth_date"].notnull() | kk | out["region_code"].notnull()
        return (nik | (name & placed)).fill_null(False)
    return (nik | kk | name).fill_null(False)
def _rt_checked(raw: ir.StringValue, bounds: Range | None) -> tuple[ir.StringValue, ir.BooleanValue, ir.BooleanValue]:
    """An RT or RW value: its 3-digit value (null when bad), whether a number outside the
    range was given ("-5", "0", "1234": out of range) and whether the text is no RT at all
    ("NaN", "inf", "abc": invalid). A blank or a dash is missing, not bad."""
    text = raw.strip()
    present = text.notnull() & (text != "") & ~text.re_search("^-+$")
    value = normalize_rt(raw)
    low, high = bounds or (None, None)
    conds = []  # a project's range narrower than the 1..999 an RT can be written in
    if low is not None and low > 1:
        conds.append(value.cast("int64") < low)
    if high is not None and high < 999:
        conds.append(value.cast("int64") > high)
    narrower = ibis.or_(*conds).fill_null(False) if conds else ibis.literal(False)
    numeric = text.re_search("^[+-]?[0-9]+(?:[.,]0+)?$")
    bad = present & value.isnull()
    return (ibis.ifelse(narrower, NULL_STR, value), (bad & numeric) | narrower, bad & ~numeric)


def _mark_repeats(raw: ir.Table, columns: list[str]) -> ir.Table:
    """Add `_dup`: the row repeats an earlier row of the source (same raw values in every one
    of `columns`; "earlier" by file, sheet and row).

    Ranking every row within its group of identical values would sort the whole source; instead
    a hash of the values finds the few rows that may repeat one another, and only those are
    ranked on the values themselves (so a hash collision never marks a row).
    """
    if not columns:
        return raw.mutate(_dup=ibis.literal(False))
    hashed = raw.mutate(_h=ibis.struct({c: raw[c] for c in columns}).hash())
    repeated = hashed.group_by("_h").aggregate(_n=hashed.count())
    repeated = repeated.filter(repeated._n > 1).select(_rh="_h")
    maybe = hashed.inner_join(repeated, hashed._h == repeated._rh)
    rank = ibis.row_number().over(group_by=[maybe[c] for c in columns], order_by=[maybe._file, maybe._sheet, maybe._row])
    maybe = maybe.mutate(_rank=rank)
    repeats = maybe.filter(maybe._rank > 0).select(
        _df=maybe._file, _ds=maybe._sheet.fill_null(""), _dr=maybe._row, _dup=ibis.literal(True)
    )
    t = raw.left_join(repeats, [raw._file == repeats._df, raw._sheet.fill_null("") == repeats._ds,
                                raw._row == repeats._dr])
    return t.mutate(_dup=t._dup.fill_null(False)).drop("_df", "_ds", "_dr")


@dataclass(frozen=True)
class _NikView:
    """The parts of a parsed NIK the mismatch checks read, from materialised columns."""

    birth_date: ir.DateValue
    sex: ir.StringValue

