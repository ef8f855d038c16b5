"""`dtsen sources draft FILE`: a first `[sources.NAME]` table for a file, from its header and contents.

The file is read by the ingest readers (encoding, delimiter and header detected as ingest does)
on a sample of its first rows; each column is matched to a canonical field by its header name
(`dtsen.ingest.header_names`, the names ministry exports use) and by its contents:

- 16-digit numbers (or Excel-damaged ones, `3.20405E+15`) are a NIK or a KK: a NIK column has
  women's birth days (41-71) in its digits 7-8 and is mostly unique, a KK column neither;
- dates, and the formats they are written in (`date_formats`);
- sex codes (`L`/`P`, `LAKI-LAKI`, `1`/`2`), yes/no codes (`Y`/`T` gets a code list, since `T`
  is not built in), and programme names (`PKH`, `BPNT`: `value_flags`);
- village codes (`32.04.05.2001` or ten digits), district codes, and four split code columns
  (`NO_PROP`, `NO_KAB`, `NO_KEC`, `NO_KEL`: a `compose` template);
- region names, by the share of values that are names of the region master's provinces,
  regencies, districts or villages (prefixes such as `KAB.` and `DS.` stripped, old spellings
  folded; `dtsen.ingest.region_names`), when a region list is given;
- a column with two or three short codes such as `RUTA`/`ART` is pointed out as a probable
  record-kind column;
- title rows above the header (`DATA PENERIMA BANSOS`, `PERIODE: JUNI 2025`) give a proposed
  `header_row` (`dtsen.ingest.title_rows`), and the file is sampled below them; total lines
  (`JUMLAH`, `TOTAL`: `dtsen.ingest.summary_rows`) in the sample are counted in a note.

The draft says in comments how each guess was made and what was not guessed; columns left
unmapped are listed as comments for the user to fill in. It never shows personal values: only
counts, shapes and the values of short code columns (each value seen on several rows).
The draft parses as a source mapping (`SourceMapping`); the user edits it, then runs
`dtsen sources check`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.ingest.header_names import SPLIT_CODES, header_field, header_key
from dtsen.ingest.masking import mask_digits
from dtsen.ingest.readers import ReadOptions, detect_format, stage_file
from dtsen.ingest.title_rows import first_rows, header_row_of
from dtsen.reference.regions import RegionMaster
from dtsen.schema import FIELDS
from dtsen.standardize.codes import BOOL_SYNONYMS, VOCABULARIES, builtin_codes, code_key

__all__ = ["ColumnGuess", "SourceDraft", "draft_source"]

MIN_SHARE = 0.8  # share of a column's values that must fit a shape for a guess by content
REGION_SHARE = 0.6  # share of a column's distinct values that must be region names of one level
MAX_CODES = 12  # a column with at most this many distinct short values is a code column

_PROGRAMMES = {"PKH": "pkh", "BPNT": "bpnt", "SEMBAKO": "bpnt", "PBI": "pbi_jk", "PBIJK": "pbi_jk"}
_DECEASED = {"MATI": "true", "MENINGGAL": "true", "WAFAT": "true", "HIDUP": "false"}
_BOOLS = {code_key(s) for syn in BOOL_SYNONYMS.values() for s in syn}
_KIND_VALUES = {"RUTA", "ART", "KRT", "RT", "KELUARGA", "ANGGOTA", "KK", "H", "M", "HH", "IND"}
_DATES: dict[str, str] = {
    "DD-MM-YYYY": r"^\d{1,2}-\d{1,2}-\d{4}$",
    "DD/MM/YYYY": r"^\d{1,2}/\d{1,2}/\d{4}$",
    "YYYY-MM-DD": r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?$",
    "DD-MM-YY": r"^\d{1,2}-\d{1,2}-\d{2}$",
    "YYYYMMDD": r"^(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$",
}
_SERIAL = r"^[1-5]\d{4}(?:\.0+)?$"  # an Excel date serial (1927..2173)
_ID16 = r"^'?\d{16}$"
_ID_DAMAGED = r"^\d(?:[.,]\d+)?[eE]\+?1[45]$|^\d{16}\.0+$|^\d{15}$"
_PROVINCE = r"(?:1[1-9]|[2-9]\d)"  # province codes run from 11 (Aceh) to 9x (Papua)
_VILLAGE = rf"^{_PROVINCE}\.\d{{2}}\.\d{{2}}\.\d{{4}}$|^{_PROVINCE}\d{{8}}$"
_DISTRICT = rf"^{_PROVINCE}\.\d{{2}}\.\d{{2}}$"
_NUMBER = r"^-?\d+(?:[.,]\d+)?$"
_NAME = r"^[A-Z][A-Z '.,`-]*[A-Z.]$"
_ADDRESS = r"\b(?:JL|JLN|JALAN|DUSUN|DSN|KP|KAMPUNG|GG|GANG|BLOK|LINGK|PERUM|RT|RW|NO)\b"


@dataclass
class ColumnGuess:
    """What one column of the file seems to be."""

    column: str
    values: int  # sampled values that are not blank
    distinct: int
    field: str | None = None  # the canonical field it maps to
    how: str = ""  # "header", "content", "header and content"
    note: str = ""  # why, without personal values
    codes: dict[str, str] = _field(default_factory=dict)  # a code list proposed for the field
    unknown_codes: list[str] = _field(default_factory=list)  # values the built-in list does not know
    date_format: str | None = None
    flags: dict[str, str] = _field(default_factory=dict)  # value -> yes/no field (value_flags)
    split: str | None = None  # the region level of a split code column (NO_PROP ...)


@dataclass
class SourceDraft:
    """A proposed `[sources.NAME]` table for one file."""

    name: str
    path: Path
    file: str  # the path as the project file names it
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int  # rows sampled
    level: str
    level_note: str
    role: str | None
    role_note: str
    columns: list[ColumnGuess]
    compose: dict[str, str] = _field(default_factory=dict)
    notes: list[str] = _field(default_factory=list)
    header_row: int = 1  # the header's row, when title rows stand above it (`dtsen.ingest.title_rows`)
    header_note: str = ""

    @property
    def date_formats(self) -> list[str]:
        found = [c.date_format for c in self.columns if c.field is not None and c.date_format]
        return list(dict.fromkeys(found))

    def mapped(self) -> dict[str, str]:
        """Source column -> canonical field, for the columns mapped one to one."""
        return {c.column: c.field for c in self.columns if c.field is not None and not c.flags and not c.split}

    def toml(self) -> str:
        """The draft as project-file text, with comments on every guess."""
        return _render(self)


# -- reading ------------------------------------------------------------------------------------


def _sample(path: Path, rows: int, header_row: int = 1) -> tuple[pa.Table, str | None, str | None, list[str]]:
    with tempfile.TemporaryDirectory(prefix="dtsen-draft-") as tmp:
        options = ReadOptions(max_rows=rows, chunk_rows=min(rows, 200_000), header_row=header_row)
        staged = stage_file(path, Path(tmp), options)
        table = pq.read_table(staged.staged).slice(0, rows)
        notes = [mask_digits(n) for n in staged.notes]
        if staged.rows_rejected:
            notes.append(f"{staged.rows_rejected:,} of the sampled rows could not be read as rows "
                         "(see `dtsen ingest`'s quarantine)")
        columns = [c for c in table.column_names if not c.startswith("_")]
        return table.select(columns), staged.encoding, staged.delimiter, notes


def _clean(arr: pa.ChunkedArray) -> pa.Array:
    """The non-blank values of a column, trimmed and upper-cased."""
    values = pc.utf8_upper(pc.utf8_trim_whitespace(arr.combine_chunks()))
    return pc.filter(values, pc.and_(pc.is_valid(values), pc.not_equal(values, "")))


def _share(values: pa.Array, pattern: str) -> float:
    if len(values) == 0:
        return 0.0
    return float(pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0) / len(values)


def _counts(values: pa.Array) -> list[tuple[str, int]]:
    vc = pc.value_counts(values)
    pairs = [(str(v), int(n)) for v, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(),
                                               strict=True)]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def _is_code_column(values: pa.Array, counts: list[tuple[str, int]]) -> bool:
    """Few distinct short values, each seen on several rows: codes, not personal data."""
    return (0 < len(counts) <= MAX_CODES and all(len(v) <= 16 for v, _ in counts)
            and len(values) >= 3 * len(counts) and min(n for _, n in counts) >= 2)


@functools.cache
def _known_tokens() -> frozenset[str]:
    known = set(_BOOLS) | {"Y", "T", "N"} | _KIND_VALUES | set(_PROGRAMMES) | set(_DECEASED)
    for fld in VOCABULARIES:
        known |= set(builtin_codes(fld))
    return frozenset(known)


def _shown(counts: list[tuple[str, int]], coded: bool) -> str:
    """The values of a code column with their counts, as far as they cannot be personal data:
    all of them for a field that takes codes; else known codes and short values with digits
    (identifier-like numbers masked). Other text (a given name seen on several rows) is counted,
    not shown."""
    parts: list[str] = []
    hidden = 0
    for v, n in counts:
        if coded or code_key(v) in _known_tokens() or (re.search(r"\d", v) is not None and len(v) <= 16):
            parts.append(f"{mask_digits(v)} ×{n:,}")
        else:
            hidden += 1
    if hidden:
        parts.append(f"{hidden} other value{'s' if hidden > 1 else ''} not shown")
    return ", ".join(parts)


# -- guessing -----------------------------------------------------------------------------------


def _looks_like_names(values: pa.Array, counts: list[tuple[str, int]]) -> bool:
    """Letters only, mostly of two words or more, many distinct values that are not known codes."""
    if len(counts) < min(10, max(len(values) // 2, 1)) or _share(values, _NAME) < MIN_SHARE:
        return False
    if _share(values, r"^[A-Z'.`-]+ [A-Z]") < 0.6:
        return False
    known = _known_tokens()
    return sum(code_key(v) in known for v, _ in counts) < 0.2 * len(counts)


def _region_keys(master: RegionMaster) -> dict[str, set[str]]:
    import ibis

    from dtsen.ingest.region_names import LEVELS, master_names

    t = master_names(ibis.memtable(master.to_arrow().select(["code", "name", "level", "parent"]))).to_pyarrow()
    keys: dict[str, set[str]] = {lvl: set() for lvl in LEVELS}
    for lvl, key in zip(t.column("level").to_pylist(), t.column("key").to_pylist(), strict=True):
        if key and lvl in keys:
            keys[lvl].add(key)
    return keys


def _value_keys(distinct: list[str]) -> dict[str, list[str]]:
    import ibis

    from dtsen.ingest.region_names import LEVELS, region_key_expr

    t = ibis.memtable(pa.table({"v": pa.array(distinct, pa.string())}))
    out = t.select(**{lvl: region_key_expr(t.v, lvl) for lvl in LEVELS}).to_pyarrow()
    return {lvl: [k for k in out.column(lvl).to_pylist() if k] for lvl in LEVELS}


def _region_level(distinct: list[str], keys: dict[str, set[str]] | None) -> tuple[str | None, float]:
    """The region level whose names the values are, and the share of them that are."""
    if not keys or not distinct:
        return None, 0.0
    per_level = _value_keys(distinct)
    best: tuple[str | None, float] = (None, 0.0)
    for lvl in ("province", "regency", "district", "village"):
        found = per_level[lvl]
        share = sum(k in keys[lvl] for k in found) / len(distinct)
        if share > best[1] + 0.05:
            best = (lvl, share)
    return best


def _by_content(g: ColumnGuess, values: pa.Array, counts: list[tuple[str, int]],
                keys: dict[str, set[str]] | None) -> None:
    """Fill `g.field` (when the header did not) and its notes from the values."""
    header = g.field
    n = len(values)
    ids = _share(values, _ID16) + _share(values, _ID_DAMAGED)
    if ids >= MIN_SHARE:
        sixteen = pc.filter(values, pc.match_substring_regex(values, _ID16))
        digits = pc.replace_substring(sixteen, "'", "")
        day = pc.cast(pc.utf8_slice_codeunits(digits, 6, 8), pa.int32()) if len(digits) else pa.array([], pa.int32())
        women = float(pc.sum(pc.greater(day, 40)).as_py() or 0) / max(len(digits), 1)
        unique = g.distinct / n
        damaged = _share(values, _ID_DAMAGED)
        guess = "nik" if women >= 0.15 or (unique >= 0.98 and women > 0) else "kk"
        what = (f"16-digit identifiers ({ids:.0%}; {damaged:.0%} damaged by Excel); "
                f"{women:.0%} with a woman's birth day, {unique:.0%} distinct: a {guess.upper()}")
        _settle(g, header, guess, what, agree=header in ("nik", "kk"))
        return
    if _share(values, _VILLAGE) >= MIN_SHARE:
        _settle(g, header, "region_code", f"village codes ({_share(values, _VILLAGE):.0%})")
        return
    if _share(values, _DISTRICT) >= MIN_SHARE:
        _settle(g, header, "district_code", f"district codes ({_share(values, _DISTRICT):.0%})")
        return
    shares = {fmt: _share(values, rx) for fmt, rx in _DATES.items()}
    serial = _share(values, _SERIAL)
    dated = sum(shares.values())
    if dated + (serial if dated >= 0.2 or (header or "").endswith("date") else 0) >= MIN_SHARE:
        fmt = max(shares, key=lambda f: shares[f])
        g.date_format = fmt
        extra = f", {serial:.0%} Excel serials (EXCEL_SERIAL)" if serial else ""
        others = [f for f, s in shares.items() if s and f != fmt]
        if others:
            extra += f", also {', '.join(others)}"
        fields_ok = ("birth_date", "death_date", "observed_at")
        guess = header if header in fields_ok else "birth_date"
        _settle(g, header, guess, f"dates, {shares[fmt]:.0%} as {fmt}{extra}",
                guessed="a date; taken as the birth date, which may be wrong" if header not in fields_ok else "")
        return
    upper = {v for v, _ in counts}
    keys_of = {code_key(v) for v in upper}
    code_col = _is_code_column(values, counts)
    spec = FIELDS["family"].get(header or "") or FIELDS["person"].get(header or "")
    coded = spec is not None and (spec.name in VOCABULARIES or spec.dtype == "bool")
    shown = _shown(counts, coded) if code_col else ""
    programmes = {v: _PROGRAMMES[code_key(v)] for v in upper if code_key(v) in _PROGRAMMES}
    if code_col and programmes and len(programmes) >= len(upper) - 1:
        g.flags = programmes
        g.field = None
        g.how = "content"
        g.note = f"programme names ({shown}): each sets its programme's flag (value_flags)"
        return
    if code_col and upper <= _KIND_VALUES and 2 <= len(upper) <= 3 and header is None:
        g.note = (f"record kinds? ({shown}): a file with several kinds of rows is described with "
                  "kind_column and kinds (see the README)")
        return
    sexes = set(builtin_codes("sex"))
    head_sex = header == "reported_head_sex"  # the head's sex, as a survey states it
    if code_col and keys_of <= sexes and (header == "sex" or head_sex or not keys_of <= {"1", "2"}):
        _settle(g, header, "sex", f"sex codes ({shown})", agree=head_sex)
        return
    bools = _BOOLS | {"T", "Y", "N"}
    if code_col and keys_of <= bools and (spec is None or spec.dtype == "bool"):
        if keys_of <= {"Y", "T"} or keys_of <= {"YA", "T"}:
            g.codes = {"Y": "true", "YA": "true", "T": "false"} if "YA" in keys_of else {"Y": "true", "T": "false"}
        _settle(g, header, header or "", f"yes/no codes ({shown})",
                guessed="" if header else "yes/no codes: which field? (not guessed)")
        return
    if keys and header in (None, "village_name", "district_name", "regency_name", "province_name"):
        level, share = _region_level([v for v, _ in counts], keys)
        if level is not None and share >= REGION_SHARE:
            _settle(g, header, f"{level}_name", f"{share:.0%} of the distinct values are {level} names of the region list")
            return
    if header is None and _looks_like_names(values, counts):
        _settle(g, header, "full_name", "letters only, mostly two words or more",
                guessed="free text that looks like names; check it is the person's name")
        return
    if code_col:
        if header is not None:
            g.note = f"codes: {shown}"
        else:
            g.note = f"codes ({shown}): not guessed"
        return
    if _share(values, _NUMBER) >= MIN_SHARE:
        g.note = "numbers" + ("" if header else ": not guessed")
        return
    if header is None and _share(values, _ADDRESS) >= 0.3:
        _settle(g, header, "address", f"addresses ({_share(values, _ADDRESS):.0%} name a street, RT or hamlet)",
                guessed="free text that looks like addresses")
        return
    if header is not None:
        g.note = "free text"
    else:
        g.note = f"not guessed ({g.distinct:,} distinct values)"


def _settle(g: ColumnGuess, header: str | None, by_content: str, what: str, agree: bool = False,
            guessed: str = "") -> None:
    """Decide between the header's field and the content's."""
    if not by_content:  # content says only "yes/no"
        g.how = "header and content" if header else ""
        g.note = guessed or what
        return
    if header is None:
        g.field, g.how, g.note = by_content, "content", what + (f"; {guessed}" if guessed else "")
    elif header == by_content or agree:
        g.how, g.note = "header and content", what
    else:
        g.how = "header"
        g.note = f"the header says {header}, the values look like {by_content}: {what}"


def _codes_note(g: ColumnGuess, values: pa.Array, counts: list[tuple[str, int]]) -> None:
    """For a coded field: the source's values the built-in list does not know."""
    if g.field is None or g.codes:
        return
    spec = FIELDS["person"].get(g.field) or FIELDS["family"].get(g.field)
    keys = {code_key(v) for v, _ in counts}
    if spec is not None and spec.dtype == "bool":
        if g.field == "is_deceased" and keys and keys <= set(_DECEASED):
            g.codes = {v: _DECEASED[code_key(v)] for v, _ in counts}
            g.note += "; a code list proposed"
            return
        if _is_code_column(values, counts):
            g.unknown_codes = [v for v, _ in counts if code_key(v) not in _BOOLS]
        return
    if g.field not in VOCABULARIES:
        return
    known = builtin_codes(g.field)
    if _is_code_column(values, counts):
        g.unknown_codes = [v for v, _ in counts if code_key(v) not in known]
    if g.field == "relationship" and keys <= {str(i) for i in range(1, 12)}:
        g.note += ("; numeric relationship codes read by the Dukcapil list (2 suami, 3 istri, 4 anak); "
                   "BPS and the old welfare list use 1 head, 2 spouse, 3 child: give codes.relationship then")


def _level(guesses: list[ColumnGuess]) -> tuple[Literal["person", "family"], str]:
    mapped = {g.field for g in guesses if g.field}
    person_only = mapped & (set(FIELDS["person"]) - set(FIELDS["family"]))
    family_only = mapped & (set(FIELDS["family"]) - set(FIELDS["person"]))
    flags = any(g.flags for g in guesses)
    if len(family_only) + flags > len(person_only):
        return "family", f"fields of a household ({', '.join(sorted(family_only)) or 'programme flags'})"
    if person_only:
        return "person", f"fields of a person ({', '.join(sorted(person_only))})"
    return "person", "not clear from the columns; change to family if one row is a household"


def _role(guesses: list[ColumnGuess], rows: int) -> tuple[str | None, str]:
    mapped = {g.field for g in guesses if g.field}
    death = next((g for g in guesses if g.field == "death_date"), None)
    if death is not None and death.values >= MIN_SHARE * rows:
        return "deaths", "a death date on most rows"
    if "consumption_per_capita" in mapped or "survey_weight" in mapped:
        return "survey", "consumption or a sampling weight"
    dwelling = mapped & {"floor_type", "wall_type", "roof_type", "floor_area", "water_source", "sanitation"}
    if len(dwelling) >= 3:
        return "census", f"dwelling fields ({', '.join(sorted(dwelling))}); or welfare_list"
    if "electricity_kwh" in mapped or ("electricity_va" in mapped and len(mapped) <= 8):
        return "utility", "electricity power or use"
    if any(g.flags for g in guesses) or mapped & {"pkh", "bpnt", "pbi_jk"}:
        return "programme", "programme flags"
    return None, ("not guessed: one of civil_registry, deaths, health_insurance, census, welfare_list, utility, "
                  "programme, survey, field_check, other")


def _summary_rows(table: pa.Table, identifiers: list[str]) -> int:
    """The sampled rows that are total lines (`dtsen.ingest.summary_rows`)."""
    import ibis

    from dtsen.ingest.summary_rows import summary_row

    t = ibis.memtable(table.rename_columns([f"c{i}" for i in range(table.num_columns)]))
    names = dict(zip(table.column_names, t.columns, strict=True))
    found = summary_row(t, list(t.columns), [t[names[c]] for c in identifiers]).sum().to_pyarrow().as_py()
    return int(found or 0)


def _source_name(path: Path) -> str:
    stem = re.sub(r"[^a-z0-9]+", "_", path.stem.lower()).strip("_")
    return stem if stem and not stem[0].isdigit() else f"source_{stem or 'baru'}"


def draft_source(path: Path, *, name: str | None = None, rows: int = 1000, regions: RegionMaster | None = None,
                 relative_to: Path | None = None) -> SourceDraft:
    """Read the first `rows` data rows of `path` and propose its source mapping.

    `regions` (a loaded region master) lets columns of region names be recognised by content;
    `relative_to` is the project directory the `files` entry is written relative to.
    Raises `InputFileError` when the file cannot be read."""
    path = Path(path)
    kind = detect_format(path)
    titles = header_row_of(first_rows(path, kind))
    header_row, header_note = titles if titles is not None else (1, "")
    table, encoding, delimiter, notes = _sample(path, rows, header_row)
    keys = _region_keys(regions) if regions is not None and regions.is_loaded and len(regions) else None
    guesses: list[ColumnGuess] = []
    taken: Counter[str] = Counter()
    for column in table.column_names:
        values = _clean(table.column(column))
        counts = _counts(values)
        g = ColumnGuess(column=column, values=len(values), distinct=len(counts))
        hk = header_key(column)
        split = next((lvl for lvl, (names, _) in SPLIT_CODES.items() if hk in names), None)
        if split is not None and _share(values, r"^\d{1,4}(?:\.0+)?$") >= MIN_SHARE:
            g.split, g.how = split, "header and content"
            g.note = f"the {split} part of the village code, numbers"
            guesses.append(g)
            continue
        g.field = header_field(column)
        if g.field is not None:
            g.how = "header"
        if len(values) == 0:
            g.note = "empty in the sample"
        else:
            _by_content(g, values, counts, keys)
            _codes_note(g, values, counts)
        guesses.append(g)
    compose: dict[str, str] = {}
    splits = {g.split: g.column for g in guesses if g.split}
    if len(splits) == 4:
        compose["region_code"] = ".".join(
            "{" + splits[lvl] + f":0{SPLIT_CODES[lvl][1]}" + "}" for lvl in ("province", "regency", "district", "village"))
    else:
        for g in guesses:
            if g.split:
                g.note += "; the other parts were not found, so no village code is composed"
                g.split = None
    level, level_note = _level(guesses)
    allowed = FIELDS[level]
    for g in guesses:
        if g.flags and any(f not in allowed for f in g.flags.values()):
            g.note = f"programme flags are family fields, and one row here is a {level}; " + g.note
            g.flags = {}
        if g.field and g.field not in allowed:
            g.note = f"{g.field} is not a {level} field; " + g.note
            g.field = None
        if g.field and g.field in compose:
            g.note = f"{g.field} is composed from the split code columns; " + g.note
            g.field = None
    # a field from two columns: a column that names it in its header keeps it, else the first
    for g in sorted(guesses, key=lambda g: not g.how.startswith("header")):
        if g.field:
            taken[g.field] += 1
            if taken[g.field] > 1:
                g.note = f"{g.field} is already mapped from another column; " + g.note
                g.field = None
    role, role_note = _role(guesses, table.num_rows)
    totals = _summary_rows(table, [g.column for g in guesses if g.field in ("nik", "kk")])
    if totals:
        notes.append(f"{totals:,} sampled row(s) look like total lines (JUMLAH, TOTAL and numbers): ingest "
                     "quarantines them as summary_row")
    try:
        file = str(path.resolve().relative_to(relative_to.resolve())) if relative_to else str(path)
    except ValueError:
        file = str(path.resolve())
    return SourceDraft(name=name or _source_name(path), path=path, file=file, format=kind, encoding=encoding,
                       delimiter=delimiter, rows=table.num_rows, level=level, level_note=level_note, role=role,
                       role_note=role_note, columns=guesses, compose=compose, notes=notes, header_row=header_row,
                       header_note=header_note)


# -- rendering ----------------------------------------------------------------------------------


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) and not text.isdigit() else _s(text)


def _render(d: SourceDraft) -> str:
    read = f"{d.format.upper()}"
    if d.encoding:
        read += f", encoding {d.encoding}"
    if d.delimiter:
        read += f", delimiter {d.delimiter!r}"
    lines = [
        f"# Draft by `dtsen sources draft` from {d.path.name}: {d.rows:,} rows sampled, read as {read}.",
        "# Check every guess (comments say how each was made), fill in what was not guessed, then run",
        "# `dtsen sources check`. No personal values are shown.",
        *(f"# Note: {n}" for n in d.notes),
        f"[sources.{_key(d.name)}]",
        f"level = {_s(d.level)}  # {d.level_note}",
    ]
    if d.role:
        lines.append(f"role = {_s(d.role)}  # {d.role_note}")
    else:
        lines.append(f"# role = ?  # {d.role_note}")
    lines.append(f"files = [{_s(d.file)}]")
    lines.append(f"format = {_s(d.format)}")
    if d.delimiter:
        lines.append(f"delimiter = {_s(d.delimiter)}")
    if d.encoding:
        lines.append(f"encoding = {_s(d.encoding)}")
    if d.header_row > 1:
        lines.append(f"header_row = {d.header_row}  # {d.header_note}: the rows above the header are skipped")
    lines.append(f"as_of = {dt.date.today().isoformat()}  # TODO: the date the data describes, not today")
    if d.date_formats:
        lines.append("date_formats = [" + ", ".join(_s(f) for f in d.date_formats) + ', "EXCEL_SERIAL"]')
    lines += ["", f"[sources.{_key(d.name)}.columns]", "# source column = canonical field  # how it was guessed"]
    for g in d.columns:
        if g.field and not g.flags and not g.split:
            lines.append(f"{_key(g.column)} = {_s(g.field)}  # {g.how}: {g.note}")
    unmapped = [g for g in d.columns if not g.field and not g.flags and not g.split]
    if unmapped:
        lines.append("# Not mapped (map one with COLUMN = \"field\"; `dtsen fields` lists the fields):")
        lines += [f"# {_key(g.column)} = ?  # {g.note}" for g in unmapped]
    if d.compose:
        lines += ["", f"[sources.{_key(d.name)}.compose]"]
        parts = ", ".join(f"{g.column} ({g.split})" for g in d.columns if g.split)
        lines.append(f"# the village code from {parts}, zero-padded")
        lines += [f"{fld} = {_s(t)}" for fld, t in d.compose.items()]
    flagged = [g for g in d.columns if g.flags]
    if flagged:
        lines += ["", f"[sources.{_key(d.name)}.value_flags]"]
        for g in flagged:
            table = ", ".join(f"{_key(v)} = {_s(f)}" for v, f in sorted(g.flags.items()))
            lines.append(f"{_key(g.column)} = {{ {table} }}  # {g.note}")
    for g in d.columns:
        if g.field and (g.codes or g.unknown_codes):
            lines += ["", f"[sources.{_key(d.name)}.codes.{g.field}]"]
            if g.codes:
                lines.append("# proposed from the values seen; check")
                lines += [f"{_s(k)} = {v}" for k, v in g.codes.items()]
            if g.unknown_codes:
                lines.append("# values the built-in list does not know; give each its canonical value "
                             "(`dtsen fields` lists them), or map it:")
                lines += [f"# {_s(mask_digits(v))} = ?" for v in g.unknown_codes]
    return "\n".join(lines) + "\n"
