"""How a source's files map onto the canonical schema: the `[sources.NAME]` tables of the project
file, and every check of them.

A source maps its files' columns onto canonical fields (`dtsen.schema`, `dtsen fields`):

- `columns`: a column gives a field (`NIK = "nik"`);
- `compose`: a field built from several columns with a template
  (`region_code = "{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"`, see `parse_template`);
- `constants`: a field with one value for every row (`is_deceased = true` for a deaths list);
- `value_flags`: a column whose value says which yes/no field is true
  (`PROGRAM = { PKH = "pkh", BPNT = "bpnt" }`): the fields it names are true for the family
  whose rows carry the value, and false for the other families of the file, which the source
  covers;
- `kind_column` and `kinds`: a file with several record kinds (households and their members),
  each kind with its own level and mapping; a kind may take fields from the row of another
  kind (`parent`) that has the same `key`. Each kind becomes a source of its own, named
  `<source>_<kind>` (`expand_kinds`), so that its records, quarantine and row accounting are
  kept apart like any source's.

`codes` give a source's own code list for a coded field; it replaces the built-in list of that
field (the canonical values themselves are still understood). A number field's code list
translates the codes it names (a class 1-5 to a VA), and a number passes through. Codes for a
field that takes none (free text, dates, identifiers) are a mistake.

`check_mapping` reports every mistake at once, each with its line; `mapping_warnings` lists
what is allowed but probably wrong (a code that means one thing in the source's list and
another in the built-in one).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from dtsen.errors import Problem, ProblemLog
from dtsen.roles import Role
from dtsen.schema import FIELDS, IDENTITY_FIELDS, FieldSpec

DATE_FORMATS = ("DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "DD-MM-YY", "YYYYMMDD", "EXCEL_SERIAL")
DEFAULT_DATE_FORMATS = ("DD-MM-YYYY", "DD/MM/YYYY", "YYYY-MM-DD", "EXCEL_SERIAL")

Constant = bool | int | float | dt.date | str
Where = Callable[[tuple[str, ...]], str]


# -- templates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One piece of a template: literal text, or a column's value zero-padded to `width`."""

    text: str = ""
    column: str | None = None
    width: int = 0


_PLACE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def parse_template(template: str) -> list[Part]:
    """Parse a compose template. `{COLUMN}` inserts the column's value (trimmed), `{COLUMN:0N}`
    pads it with zeros on the left to N characters (a longer value is kept whole), `{{` and
    `}}` are literal braces, anything else is literal text. Raises ValueError."""
    parts: list[Part] = []
    at = 0
    for m in _PLACE.finditer(template):
        if m.start() > at:
            parts.append(Part(text=template[at:m.start()]))
        token = m.group(0)
        if token in ("{{", "}}"):
            parts.append(Part(text=token[0]))
        elif m.group(1) is None:
            raise ValueError(f"a lone {token!r} at character {m.start() + 1}; write {token * 2} for a literal brace")
        else:
            name, _, spec = m.group(1).partition(":")
            name = name.strip()
            if not name:
                raise ValueError(f"an empty column name at character {m.start() + 1}")
            width = 0
            if spec:
                if not re.fullmatch(r"0[1-9][0-9]?", spec.strip()):
                    raise ValueError(f"{{{m.group(1)}}}: the only format is 0N, zero padding to N characters (e.g. :02)")
                width = int(spec.strip()[1:])
            parts.append(Part(column=name, width=width))
        at = m.end()
    if at < len(template):
        parts.append(Part(text=template[at:]))
    if not any(p.column for p in parts):
        raise ValueError("a template names at least one column, as {COLUMN}")
    return parts


def template_columns(template: str) -> list[str]:
    """The columns a template names, in order; none when it does not parse."""
    try:
        return [p.column for p in parse_template(template) if p.column]
    except ValueError:
        return []


def constant_text(value: Constant) -> str:
    """A constant as the raw text a column would hold: TRUE/FALSE, digits, YYYY-MM-DD."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# -- the mapping ----------------------------------------------------------------------------------


def _codes_text(v: object) -> object:
    """Code lists as text: `MATI = true` and `"1" = 450` as the project file writes them."""
    if not isinstance(v, dict):
        return v
    return {field: {str(k): constant_text(x) if isinstance(x, bool | int | float) else x for k, x in table.items()}
            if isinstance(table, dict) else table for field, table in v.items()}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class KindMapping(_Section):
    """One record kind of a file with several (`kinds`): which rows, what level, how they map."""

    values: list[str] = Field(description="Values of the source's `kind_column` that mark a row of this kind.")
    level: Literal["person", "family"] = Field("person", description="One row of this kind is a person or a family.")
    columns: dict[str, str] = Field(default_factory=dict, description="Source column -> canonical field.")
    compose: dict[str, str] = Field(default_factory=dict, description="Canonical field -> template of columns.")
    constants: dict[str, Constant] = Field(default_factory=dict, description="Canonical field -> one value for every row.")
    value_flags: dict[str, dict[str, str | list[str]]] = Field(
        default_factory=dict, description="Column -> {value -> yes/no field(s) it sets}.")
    codes: dict[str, dict[str, str]] = Field(default_factory=dict, description="Per field: source value -> canonical value.")

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, v: object) -> object:
        return _codes_text(v)
    trust: dict[str, float] = Field(default_factory=dict, description="Per canonical field: trust 0..1.")
    required: list[str] = Field(default_factory=list, description="Canonical fields that must be mapped.")
    parent: str | None = Field(None, description="The kind whose row a row of this kind belongs to (e.g. the household).")
    key: str | None = Field(None, description="The column that holds the same value in a row and in its parent row.")
    inherit: list[str] = Field(default_factory=list, description="Fields taken from the parent row where this row has none.")


@dataclass(frozen=True)
class KindInfo:
    """What an expanded kind source knows of its file (`expand_kinds`)."""

    source: str  # the source in the project file
    kind: str
    column: str  # the column that tells the kinds apart
    values: tuple[str, ...]  # this kind's values
    first: bool  # the first kind also keeps the rows of no kind, and the reader's rejects
    all_values: tuple[str, ...]  # every kind's values (a row with none of them: kind_unknown)
    parent: str | None = None  # the parent kind's source name (`<source>_<kind>`)
    key: str | None = None
    inherit: tuple[str, ...] = ()


class SourceMapping(_Section):
    """How one source's files translate into canonical records."""

    level: Literal["person", "family"] = Field("person", description="One row is a person or a family.")
    role: Role | None = Field(
        None, description="What the source is (civil_registry, deaths, welfare_list, census, utility, programme, "
        "survey, field_check, health_insurance, other): the built-in defaults follow it (see dtsen.roles).")
    files: list[str] = Field(description="File paths or glob patterns, relative to the project file.")
    format: Literal["auto", "csv", "xlsx", "parquet"] = Field("auto", description="File format (auto: by extension).")
    delimiter: str | None = Field(None, description="CSV delimiter (default: detected among , ; | and tab).")
    encoding: str = Field("auto", description="CSV encoding (auto: UTF-8 or UTF-16/32 with a BOM, else Windows-1252).")
    encodings: dict[str, str] = Field(
        default_factory=dict,
        description="Per file (its name, or a glob pattern of its path), the encoding to read it with, over `encoding`.",
    )
    sheet: str | None = Field(None, description="XLSX sheet to read (default: every sheet).")
    header_row: int = Field(
        1, ge=1, description="CSV and XLSX: the row number (as Excel shows it) of the header; the title rows above it "
        "are skipped (default 1: the first non-empty row). Parquet has no header row.")
    as_of: dt.date = Field(description="As-of date of the data (the observed_at of every row).")
    description: str = Field("", description="What this source is.")
    columns: dict[str, str] = Field(default_factory=dict, description="Source column -> canonical field.")
    compose: dict[str, str] = Field(
        default_factory=dict,
        description="Canonical field -> a template of columns, e.g. \"{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}\".",
    )
    constants: dict[str, Constant] = Field(
        default_factory=dict, description="Canonical field -> one value for every row (e.g. is_deceased = true).")
    value_flags: dict[str, dict[str, str | list[str]]] = Field(
        default_factory=dict,
        description="Column -> {value -> yes/no field(s)}: a PROGRAM column whose PKH sets pkh and BPNT sets bpnt.",
    )
    kind_column: str | None = Field(None, description="The column that tells the record kinds of a file apart.")
    kinds: dict[str, KindMapping] = Field(
        default_factory=dict, description="Record kinds of the files (e.g. households and members), each its own mapping.")
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per canonical field: source value -> canonical value (replaces the built-in list)."
    )

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, v: object) -> object:
        return _codes_text(v)
    date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DATE_FORMATS), description="Accepted date formats.")
    trust: dict[str, float] = Field(default_factory=dict, description="Per canonical field: trust 0..1.")
    required: list[str] = Field(default_factory=list, description="Canonical fields that must be mapped and present.")

    _kind: KindInfo | None = PrivateAttr(None)
    _path: tuple[str, ...] | None = PrivateAttr(None)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str | None) -> str | None:
        if v is not None and v not in {",", ";", "|", "\t"}:
            raise ValueError("delimiter must be one of ',', ';', '|' or a tab")
        return v

    @property
    def kind(self) -> KindInfo | None:
        """For a source made from one kind of a file with several (`expand_kinds`)."""
        return self._kind

    def config_path(self, name: str) -> tuple[str, ...]:
        """Where this mapping stands in the project file, e.g. ('sources', 'regsosek', 'kinds', 'art')."""
        return self._path or ("sources", name)

    def flag_fields(self) -> dict[str, list[str]]:
        """Per `value_flags` column, the yes/no fields its values set."""
        out: dict[str, list[str]] = {}
        for column, table in self.value_flags.items():
            names: list[str] = []
            for target in table.values():
                names += [target] if isinstance(target, str) else list(target)
            out[column] = list(dict.fromkeys(names))
        return out

    def mapped_fields(self) -> set[str]:
        """Every canonical field this source gives a value to (from columns, templates,
        constants, value flags, and its parent row)."""
        fields = set(self.columns.values()) | set(self.compose) | set(self.constants)
        for names in self.flag_fields().values():
            fields |= set(names)
        if self._kind is not None:
            fields |= set(self._kind.inherit)
        return fields

    def source_columns(self) -> dict[str, tuple[str, ...]]:
        """Every column of the files this mapping reads -> where the mapping names it."""
        out: dict[str, tuple[str, ...]] = {}
        for column in self.columns:
            out.setdefault(column, ("columns", column))
        for field, template in self.compose.items():
            for column in template_columns(template):
                out.setdefault(column, ("compose", field))
        for column in self.value_flags:
            out.setdefault(column, ("value_flags", column))
        if self._kind is not None:
            out.setdefault(self._kind.column, ("kind_column",))
            if self._kind.key:
                out.setdefault(self._kind.key, ("key",))
        return out


def expand_kinds(sources: dict[str, SourceMapping]) -> tuple[dict[str, SourceMapping], list[tuple[tuple[str, ...], str]]]:
    """Every source with `kinds` replaced by one source per kind, named `<source>_<kind>`, in
    place (the order of the project file kept); and the problems found (path, message)."""
    out: dict[str, SourceMapping] = {}
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, src in sources.items():
        if not src.kinds:
            out[name] = src
            continue
        base = ("sources", name)
        if src.kind_column is None:
            problems.append(((*base, "kinds"), "kinds need a kind_column: the column whose value tells them apart"))
        for part in ("columns", "compose", "constants", "value_flags", "codes", "trust", "required"):
            if getattr(src, part):
                problems.append(((*base, part), f"a source with kinds maps per kind: move {part} into each kind"))
        every = tuple(v for k in src.kinds.values() for v in k.values)
        for i, (kind, k) in enumerate(src.kinds.items()):
            expanded = f"{name}_{kind}"
            if expanded in sources:
                problems.append(((*base, "kinds", kind), f"kind {kind!r} would be source {expanded!r}, which the "
                                 "project already has; rename one"))
                continue
            mapping = SourceMapping(
                level=k.level, role=src.role, files=src.files, format=src.format, delimiter=src.delimiter, encoding=src.encoding,
                encodings=src.encodings, sheet=src.sheet, header_row=src.header_row, as_of=src.as_of,
                description=f"{src.description} ({kind})" if src.description else kind,
                columns=k.columns, compose=k.compose, constants=k.constants, value_flags=k.value_flags,
                codes=k.codes, date_formats=src.date_formats, trust=k.trust, required=k.required,
            )
            mapping._kind = KindInfo(
                source=name, kind=kind, column=src.kind_column or "", values=tuple(k.values), first=i == 0,
                all_values=every, parent=f"{name}_{k.parent}" if k.parent else None, key=k.key,
                inherit=tuple(k.inherit),
            )
            mapping._path = (*base, "kinds", kind)
            out[expanded] = mapping
    return out, problems


# -- checks ----------------------------------------------------------------------------------------


def _builtin_codes(field: str) -> dict[str, str]:
    from dtsen.standardize.codes import builtin_codes

    return builtin_codes(field)


def check_mapping(name: str, src: SourceMapping, sources: dict[str, SourceMapping], where: Where,
                  log: ProblemLog) -> None:
    """Every mistake of one (expanded) source mapping, each with where it stands."""
    from dtsen.standardize.codes import code_key

    base = src.config_path(name)

    def at(*rest: str) -> str:
        return where((*base, *rest))

    fields = FIELDS[src.level]
    seen: dict[str, str] = {}  # field -> what gives it
    for column, field in src.columns.items():
        if field not in fields:
            log.add(f"column {column!r} maps to unknown {src.level} field {field!r}",
                    where=at("columns", column), hint=f"known fields: {', '.join(fields)}")
        elif field in seen:
            log.add(f"columns {seen[field]!r} and {column!r} both map to {field!r}", where=at("columns", column))
        else:
            seen[field] = column
    for field, template in src.compose.items():
        if field not in fields:
            log.add(f"compose names unknown {src.level} field {field!r}", where=at("compose", field),
                    hint=f"known fields: {', '.join(fields)}")
        elif field in seen:
            log.add(f"{field!r} is composed, but {seen[field]!r} maps to it too", where=at("compose", field))
        else:
            seen[field] = f"compose {template!r}"
        try:
            parse_template(template)
        except ValueError as e:
            log.add(f"template {template!r}: {e}", where=at("compose", field))
    for field, value in src.constants.items():
        spec = fields.get(field)
        if spec is None:
            log.add(f"constant for unknown {src.level} field {field!r}", where=at("constants", field),
                    hint=f"known fields: {', '.join(fields)}")
            continue
        if field in seen:
            log.add(f"{field!r} is a constant, but {seen[field]!r} maps to it too", where=at("constants", field))
        seen[field] = "a constant"
        problem = _constant_problem(field, value, src)
        if problem:
            log.add(problem, where=at("constants", field))
    for column, names in src.flag_fields().items():
        if column in src.columns:
            log.add(f"column {column!r} is both mapped and a value_flags column", where=at("value_flags", column))
        for field in names:
            spec = fields.get(field)
            if spec is None or spec.dtype != "bool":
                yes_no = [f for f, s in fields.items() if s.dtype == "bool"]
                log.add(f"value_flags of {column!r} names {field!r}, which is not a yes/no {src.level} field",
                        where=at("value_flags", column), hint=f"yes/no fields: {', '.join(yes_no)}")
            elif field in seen:
                log.add(f"{field!r} is set by value_flags of {column!r}, but {seen[field]!r} maps to it too",
                        where=at("value_flags", column))
            else:
                seen[field] = f"value_flags {column!r}"
        for value in src.value_flags[column]:
            if not code_key(value):
                log.add(f"value_flags of {column!r}: the value {value!r} is blank", where=at("value_flags", column))
    if src.kind is not None:
        _check_kind(name, src, sources, fields, seen, at, log)
    mapped = src.mapped_fields()
    for field, table in src.codes.items():
        _check_codes(src, field, table, mapped, at, log)
    for fmt in src.date_formats:
        if fmt not in DATE_FORMATS:
            log.add(f"unknown date format {fmt!r}", where=at("date_formats"), hint=f"use {', '.join(DATE_FORMATS)}")
    for field, trust in src.trust.items():
        if field not in fields:
            log.add(f"trust given for unknown {src.level} field {field!r}", where=at("trust", field))
        if not 0.0 <= trust <= 1.0:
            log.add(f"trust {trust} for {field!r} is outside 0..1", where=at("trust", field))
    names = sorted(mapped & {"province_name", "regency_name", "district_name", "district_code"})
    if names and "village_name" not in mapped:
        log.add(f"{', '.join(names)} resolve a village code only with village_name; map the village's name too",
                where=at("columns"))
    for field in src.required:
        if field not in mapped:
            log.add(f"required field {field!r} is not mapped from any column", where=at("required"))
    if not mapped:
        log.add("no column is mapped: give columns (or compose, constants, value_flags)", where=at("columns"))
    elif not mapped & set(IDENTITY_FIELDS[src.level]):
        log.add(f"no identity field is mapped; map at least one of {', '.join(IDENTITY_FIELDS[src.level])}",
                where=at("columns"))
    if not src.files:
        log.add("no files listed", where=at("files"))
    parquet = (".parquet", ".pq")
    if src.header_row != 1 and (src.format == "parquet" or (
            src.format == "auto" and src.files and all(f.lower().endswith(parquet) for f in src.files))):
        log.add(f"header_row = {src.header_row} is set, but the source's files are Parquet, which has no header "
                "row", where=at("header_row"), hint="remove header_row; it is for CSV and XLSX files")


def _constant_problem(field: str, value: Constant, src: SourceMapping) -> str | None:
    """Why a constant cannot be the field's value, or None."""
    from dtsen.standardize.codes import BOOL_SYNONYMS, code_key

    spec = FIELDS[src.level][field]
    text = constant_text(value)
    if spec.dtype == "bool":
        known = {code_key(s) for group in BOOL_SYNONYMS.values() for s in group} | set(map(code_key, src.codes.get(field, {})))
        if code_key(text) not in known:
            return f"constant {value!r} for {field!r} is not yes or no; write true or false"
    elif spec.vocabulary:
        known = set(_builtin_codes(field)) if field not in src.codes else {code_key(v) for v in spec.vocabulary}
        known |= set(map(code_key, src.codes.get(field, {})))
        if code_key(text) not in known:
            return f"constant {value!r} for {field!r} is not in its vocabulary ({', '.join(spec.vocabulary)})"
    elif spec.dtype == "date" and not isinstance(value, dt.date):
        return f"constant {value!r} for {field!r} must be a date, written 2025-06-30 (without quotes)"
    elif spec.dtype in ("int", "float") and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"constant {value!r} for {field!r} must be a number"
    return None


def _check_codes(src: SourceMapping, field: str, table: dict[str, str], mapped: set[str], at: Callable[..., str],
                 log: ProblemLog) -> None:
    from dtsen.standardize.codes import BOOL_SYNONYMS, code_key

    spec = FIELDS[src.level].get(field)
    if spec is None:
        log.add(f"codes given for unknown {src.level} field {field!r}", where=at("codes", field))
        return
    if field not in mapped:
        log.add(f"codes given for {field!r}, but no column maps to it", where=at("codes", field))
    if spec.vocabulary:
        for raw, value in table.items():
            if value not in spec.vocabulary:
                log.add(f"code {raw!r} -> {value!r} is not in the {field} vocabulary",
                        where=at("codes", field, raw), hint=f"use one of {', '.join(spec.vocabulary)}")
    elif spec.dtype == "bool":
        known = {code_key(s) for group in BOOL_SYNONYMS.values() for s in group}
        for raw, value in table.items():
            if code_key(str(value)) not in known:
                log.add(f"code {raw!r} -> {value!r} is not yes or no", where=at("codes", field, raw),
                        hint="use TRUE or FALSE")
    elif spec.dtype not in ("int", "float"):
        takes = [f for f, s in FIELDS[src.level].items() if s.vocabulary or s.dtype in ("bool", "int", "float")]
        log.add(f"codes given for {field!r}, which takes no codes ({spec.dtype}"
                f"{', free text' if spec.dtype == 'string' else ''}): its values are kept as they are",
                where=at("codes", field), hint=f"fields that take codes: {', '.join(takes)}")


def _check_kind(name: str, src: SourceMapping, sources: dict[str, SourceMapping], fields: dict[str, FieldSpec],
                seen: dict[str, str], at: Callable[..., str], log: ProblemLog) -> None:
    from dtsen.standardize.codes import code_key

    kind = src.kind
    assert kind is not None
    if not kind.values:
        log.add(f"kind {kind.kind!r} lists no values of {kind.column!r}", where=at("values"))
    mine = {code_key(v) for v in kind.values}
    for other_name, other in sources.items():
        if other_name == name:
            break  # each pair once: against the kinds declared before this one
        if other.kind is None or other.kind.source != kind.source:
            continue
        shared = mine & {code_key(v) for v in other.kind.values}
        if shared:
            log.add(f"kinds {other.kind.kind!r} and {kind.kind!r} share the value(s) {', '.join(sorted(shared))}",
                    where=at("values"))
    if kind.parent is None:
        if kind.key or kind.inherit:
            log.add("key and inherit need a parent kind", where=at("parent"))
        return
    parent = sources.get(kind.parent)
    if parent is None or parent.kind is None or parent.kind.source != kind.source:
        known = [s.kind.kind for s in sources.values() if s.kind is not None and s.kind.source == kind.source]
        log.add(f"parent {kind.parent.removeprefix(kind.source + '_')!r} is not a kind of source {kind.source!r}",
                where=at("parent"), hint=f"its kinds: {', '.join(known)}")
        return
    if parent.kind.parent is not None:
        log.add("the parent kind has a parent of its own: one level of parents only", where=at("parent"))
    if not kind.key:
        log.add("a parent needs a key: the column that holds the same value in a row and its parent row",
                where=at("key"))
    parent_fields = parent.mapped_fields() - set(parent.kind.inherit)
    for field in kind.inherit:
        if field not in fields:
            log.add(f"inherit names unknown {src.level} field {field!r}", where=at("inherit"))
        elif field not in parent_fields:
            log.add(f"inherit names {field!r}, which the parent kind {parent.kind.kind!r} does not map",
                    where=at("inherit"))


def mapping_warnings(name: str, src: SourceMapping, where: Where) -> list[Problem]:
    """What a mapping allows but probably did not mean: a code of the source's list that means
    another value in the built-in list (BPS writes 2 for a spouse, Dukcapil for a husband)."""
    from dtsen.standardize.codes import VOCABULARIES, code_key

    out: list[Problem] = []
    for field, table in src.codes.items():
        if field not in VOCABULARIES:
            continue
        builtin = _builtin_codes(field)
        differ = [f"{raw} (here {value}, built-in {builtin[code_key(raw)]})" for raw, value in table.items()
                  if code_key(raw) in builtin and builtin[code_key(raw)] != value]
        if differ:
            out.append(Problem(
                f"source {name!r}: codes for {field!r} mean other values in the built-in list: {'; '.join(differ)}",
                where=where((*src.config_path(name), "codes", field)),
                hint="the source's list replaces the built-in one for this field; check that it is the source's",
            ))
    return out
