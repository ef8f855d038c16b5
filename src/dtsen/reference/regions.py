"""The Kemendagri region master: provinces, regencies, districts and villages, versioned.

The master is read from a CSV file `code,name,level` with dotted codes (`PP`, `PP.KK`,
`PP.KK.CC`, `PP.KK.CC.DDDD`) and levels `province`, `regency`, `district`, `village`, the
format of the official list. Loading validates the whole file and reports every problem at
once, with row numbers (row 2 is the first data row). Without a file the project runs on
format checks only: `RegionMaster.empty()`.

Name lookups go through `name_key`: uppercase, apostrophes dropped, other punctuation turned
into spaces, spaces collapsed, and a leading regency prefix ("KAB.", "KABUPATEN", "KOTA",
"KOTA ADM.", "KOTA ADMINISTRASI", ...) removed. `name_key_expr` is the same rule as an Ibis
expression, so names can be joined on the engine against `RegionMaster.to_arrow()`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dtsen.errors import ProblemLog, ReferenceDataError

if TYPE_CHECKING:
    from dtsen.engine import Engine

LEVELS: tuple[str, ...] = ("province", "regency", "district", "village")
# Level of a well-formed dotted code, by its length.
_LEVEL_BY_LENGTH = {2: "province", 5: "regency", 8: "district", 13: "village"}
_DOTTED = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")
REQUIRED_COLUMNS: tuple[str, ...] = ("code", "name", "level")
# At most this many rows are listed per kind of problem; the rest are counted.
_LIST_LIMIT = 50

# Whitespace trimmed from raw values (the same set on every engine and in Python). It includes
# the no-break space Excel leaves behind and the characters Java's `$` treats as line ends.
WHITESPACE = " \t\r\n\u00a0\u0085\u2028\u2029"
_WS_CLASS = "[" + WHITESPACE + "]"
# A code written with optional separators (space, dot, dash) between its segments.
_CODE_SEP = "[ .-]*"
_CODE_ANY = re.compile(rf"^[0-9]{{2}}(?:{_CODE_SEP}[0-9]{{2}}(?:{_CODE_SEP}[0-9]{{2}}(?:{_CODE_SEP}[0-9]{{4}})?)?)?$")
_VILLAGE_PATTERN = f"^[0-9]{{2}}{_CODE_SEP}[0-9]{{2}}{_CODE_SEP}[0-9]{{2}}{_CODE_SEP}[0-9]{{4}}$"

# Name normalisation, shared by `name_key` and `name_key_expr`. No backslashes, no
# backreferences: the patterns must mean the same to Python, RE2 (DuckDB) and Java (Spark).
_APOSTROPHES = "['`\u2018\u2019]"
_NON_ALNUM = "[^A-Za-z0-9]+"
_KAB_PREFIXES = ("KABUPATEN ADMINISTRASI", "KABUPATEN ADM", "KAB ADMINISTRASI", "KAB ADM", "KABUPATEN", "KAB")
_KOTA_PREFIXES = ("KOTA ADMINISTRASI", "KOTA ADM", "KOTA")
# Longest first: both engines take the first alternative that matches.
_PREFIX = "^(" + "|".join(sorted((*_KAB_PREFIXES, *_KOTA_PREFIXES), key=len, reverse=True)) + ") "
_APOSTROPHES_RE = re.compile(_APOSTROPHES)
_NON_ALNUM_RE = re.compile(_NON_ALNUM)
_PREFIX_RE = re.compile(_PREFIX)
_KAB_STARTS = tuple(p + " " for p in _KAB_PREFIXES)
_KOTA_STARTS = tuple(p + " " for p in _KOTA_PREFIXES)


@dataclass(frozen=True)
class Region:
    """One region of the master: its dotted code, official name, level and parent code."""

    code: str
    name: str
    level: str
    parent: str | None


# -- pure functions ----------------------------------------------------------------------------
def strip_whitespace(s: str) -> str:
    """`s` without leading and trailing whitespace (the set in `WHITESPACE`)."""
    return s.strip(WHITESPACE)


def strip_whitespace_expr(col: ir.StringValue) -> ir.StringValue:
    """`strip_whitespace` as an Ibis expression."""
    return col.re_replace(f"^{_WS_CLASS}+|{_WS_CLASS}+$", "")


def normalize_code(s: str) -> str | None:
    """The dotted code (`PP`, `PP.KK`, `PP.KK.CC` or `PP.KK.CC.DDDD`) of a raw code.

    Accepts dotted codes and bare digits of length 2, 4, 6 or 10, with optional spaces, dots
    or dashes between the segments and whitespace around; returns None when malformed.
    """
    t = strip_whitespace(s)
    if not _CODE_ANY.match(t):
        return None
    d = re.sub("[^0-9]", "", t)
    return ".".join(d[a:b] for a, b in ((0, 2), (2, 4), (4, 6), (6, 10)) if a < len(d))


def name_key(s: str) -> str:
    """The key names are looked up by: "Kab. Bandung", "KABUPATEN  BANDUNG" -> "BANDUNG"."""
    return _PREFIX_RE.sub("", _plain(s), count=1)


def _plain(s: str) -> str:
    """Uppercase ASCII letters and digits separated by single spaces (before prefix removal)."""
    return _NON_ALNUM_RE.sub(" ", _APOSTROPHES_RE.sub("", s)).strip(" ").upper()


def name_key_expr(col: ir.StringValue) -> ir.StringValue:
    """`name_key` as an Ibis expression, identical on DuckDB and Spark."""
    t = col.re_replace(_APOSTROPHES, "").re_replace(_NON_ALNUM, " ").re_replace("^ | $", "")
    return t.upper().re_replace(_PREFIX, "")


def _prefix_kind(s: str) -> str | None:
    """'KAB' or 'KOTA' when a name starts with a regency prefix, else None."""
    t = _plain(s)
    if t.startswith(_KAB_STARTS):
        return "KAB"
    if t.startswith(_KOTA_STARTS):
        return "KOTA"
    return None


def region_code_expr(col: ir.StringValue) -> ir.StringValue:
    """A raw village code column as dotted `PP.KK.CC.DDDD`, or null when it cannot be.

    Accepts "32.04.05.2001", "3204052001", " 32.04.05.2001 ", "32 04 05 2001", "32-04-05-2001".
    For 10-digit codes this agrees with `normalize_code`.
    """
    t = strip_whitespace_expr(col)
    d = t.re_replace("[^0-9]", "")
    dotted = d.substr(0, 2) + "." + d.substr(2, 2) + "." + d.substr(4, 2) + "." + d.substr(6, 4)
    return ibis.ifelse(t.re_search(_VILLAGE_PATTERN), dotted, ibis.null("string"))


def region_format_ok(col: ir.StringValue) -> ir.BooleanValue:
    """True when a raw village code can be read as `PP.KK.CC.DDDD`; False otherwise (also when null)."""
    return region_code_expr(col).notnull()


# -- the master ------------------------------------------------------------------------------
_SCHEMA = pa.schema([(c, pa.string()) for c in ("code", "name", "level", "parent", "name_key", "kind")])


class RegionMaster:
    """The region list of one edition, indexed for code and name lookups.

    The regions are held as one Arrow table sorted by code; `Region` objects are made on
    demand, so loading the national list (91,599 rows) stays well under a second.
    """

    def __init__(self, table: pa.Table, edition: str = "", sha256: str = "", loaded: bool = True) -> None:
        self.edition = edition
        self.sha256 = sha256
        self._loaded = loaded
        self._table = table.select(_SCHEMA.names).sort_by("code")
        self._codes: list[str] = self._table.column("code").to_pylist()
        self._row: dict[str, int] = dict(zip(self._codes, range(len(self._codes)), strict=True))
        self._cols: dict[str, list[str | None]] | None = None
        self._children: dict[str, list[int]] | None = None
        self._by_key: dict[str, list[int]] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> RegionMaster:
        """No region list: codes are checked for format only."""
        return cls(_SCHEMA.empty_table(), edition="", loaded=False)

    @classmethod
    def load(cls, path: str | Path, edition: str = "") -> RegionMaster:
        """Read and validate a `code,name,level` CSV file; every problem is reported at once."""
        p = Path(path)
        if not p.is_file():
            raise ReferenceDataError(f"region master file not found: {p}")
        data = p.read_bytes()
        table = _validate(p, _read_csv(p, data))
        return cls(table, edition=edition, sha256=hashlib.sha256(data).hexdigest())

    # -- properties ---------------------------------------------------------------------------
    @property
    def is_loaded(self) -> bool:
        return self._loaded

    def __len__(self) -> int:
        return len(self._codes)

    def __iter__(self) -> Iterator[Region]:
        return (self._region(i) for i in range(len(self._codes)))

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None

    def __repr__(self) -> str:
        return f"RegionMaster(edition={self.edition!r}, regions={len(self)})"

    def counts_by_level(self) -> dict[str, int]:
        counts = dict.fromkeys(LEVELS, 0)
        for row in self._table.group_by("level").aggregate([("code", "count")]).to_pylist():
            counts[row["level"]] = row["code_count"]
        return counts

    # -- lookups ------------------------------------------------------------------------------
    def get(self, code: str) -> Region | None:
        """The region with this code, dotted or bare digits ("3204052001", "32.04.05.2001")."""
        dotted = normalize_code(code)
        i = self._row.get(dotted) if dotted else None
        return None if i is None else self._region(i)

    def parent(self, code: str) -> Region | None:
        region = self.get(code)
        return self.get(region.parent) if region and region.parent else None

    def children(self, code: str) -> list[Region]:
        """The regions directly below `code`, sorted by code."""
        region = self.get(code)
        if region is None:
            return []
        if self._children is None:
            children: dict[str, list[int]] = {}
            for i, parent in enumerate(self._columns()["parent"]):
                if parent is not None:
                    children.setdefault(parent, []).append(i)
            self._children = children
        return [self._region(i) for i in self._children.get(region.code, [])]

    def ancestors(self, code: str) -> list[Region]:
        """The regions above `code`, from the province down to the direct parent."""
        out: list[Region] = []
        region = self.parent(code)
        while region is not None:
            out.append(region)
            region = self.get(region.parent) if region.parent else None
        return out[::-1]

    def find(self, name: str, level: str | None = None, within: str | None = None) -> list[Region]:
        """Regions whose name matches `name`, tolerant of case, spacing, punctuation and prefixes.

        "kab. bandung" finds Kabupaten Bandung only, "KOTA BANDUNG" Kota Bandung only, and
        "Bandung" both. `level` restricts to one level, `within` to the descendants of a code.
        Results are sorted by code.
        """
        if level is not None and level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
        if self._by_key is None:
            index: dict[str, list[int]] = {}
            for i, key in enumerate(self._columns()["name_key"]):
                index.setdefault(key or "", []).append(i)
            self._by_key = index
        rows = self._by_key.get(name_key(name), [])
        cols = self._columns()
        if within is not None:
            root = normalize_code(within)
            if root is None:
                return []
            rows = [i for i in rows if self._codes[i].startswith(root + ".")]
        if level is not None:
            rows = [i for i in rows if cols["level"][i] == level]
        kind = _prefix_kind(name)
        if kind is not None:
            rows = [i for i in rows if cols["kind"][i] == kind]
        return [self._region(i) for i in rows]

    def _columns(self) -> dict[str, list[str | None]]:
        if self._cols is None:
            self._cols = {c: self._table.column(c).to_pylist() for c in _SCHEMA.names}
        return self._cols

    def _region(self, i: int) -> Region:
        cols = self._columns()
        return Region(self._codes[i], str(cols["name"][i]), str(cols["level"][i]), cols["parent"][i])

    # -- engine -------------------------------------------------------------------------------
    def to_arrow(self, level: str | None = None) -> pa.Table:
        """The master as an Arrow table (code, name, level, parent, name_key), sorted by code."""
        table = self._table.select(["code", "name", "level", "parent", "name_key"])
        return table if level is None else table.filter(pc.equal(table.column("level"), level))


def with_district_check(
    table: ir.Table, code_col: str, master: RegionMaster, engine: Engine, *, level: str = "district"
) -> ir.Table:
    """Add a boolean `<code_col>_known`: False only when the code is present and not in the master.

    `code_col` holds dotted codes (e.g. `NikParts.district_code`, `KkParts.district_code`, or a
    village code from `region_code_expr` with `level="village"`). The column is True when the
    code is null (its format is reported by another check) and everywhere when the master is
    not loaded (format checks only), so `~<code_col>_known` is exactly the "unknown region"
    reason. Rows are neither added nor dropped.
    """
    out = f"{code_col}_known"
    if not master.is_loaded:
        return table.mutate(**{out: ibis.literal(True)})
    codes = master.to_arrow(level).column("code")
    lookup = engine.from_arrow(pa.table({"_dtsen_known_code": codes, "_dtsen_known_hit": pa.repeat(True, len(codes))}))
    joined = table.left_join(lookup, table[code_col] == lookup._dtsen_known_code)
    known = joined[code_col].isnull() | joined._dtsen_known_hit.notnull()
    return joined.select(*[joined[c] for c in table.columns], **{out: known})


# -- reading and validation ------------------------------------------------------------------
def _read_csv(path: Path, data: bytes) -> pa.Table:
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip("\r\n")
    header = [h.strip().strip('"') for h in first.split(",")]
    if not data.strip():
        raise ReferenceDataError(f"{path}: the region master file is empty (expected a header code,name,level)")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ReferenceDataError(
            f"{path}: the header lacks column(s) {', '.join(missing)}; expected code,name,level, found {first!r}"
        )
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(REQUIRED_COLUMNS),
                column_types=dict.fromkeys(REQUIRED_COLUMNS, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ReferenceDataError(f"{path}: cannot read the region master as CSV: {exc}") from exc


def _report(log: ProblemLog, path: Path, rows: list[int], message: str, details: list[str] | None = None) -> None:
    for i, row in enumerate(rows[:_LIST_LIMIT]):
        detail = f" ({details[i]})" if details else ""
        log.add(f"{message}{detail}", where=f"{path}, row {row}")
    if len(rows) > _LIST_LIMIT:
        log.add(f"{message}: {len(rows) - _LIST_LIMIT} more rows not listed", where=str(path))


def _name_columns(names: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """`name_key` and the prefix kind of every name, computed with Arrow (RE2, like DuckDB)."""
    plain = pc.replace_substring_regex(pc.replace_substring_regex(names, _APOSTROPHES, ""), _NON_ALNUM, " ")
    plain = pc.ascii_upper(pc.utf8_trim(plain, " "))
    keys = pc.replace_substring_regex(plain, _PREFIX, "", max_replacements=1)
    is_kab = pc.match_substring_regex(plain, "^(" + "|".join(_KAB_PREFIXES) + ") ")
    is_kota = pc.match_substring_regex(plain, "^(" + "|".join(_KOTA_PREFIXES) + ") ")
    none = pa.scalar(None, pa.string())
    kinds = pc.if_else(is_kab, "KAB", pc.if_else(is_kota, "KOTA", none))
    return keys, kinds


def _validate(path: Path, table: pa.Table) -> pa.Table:
    """The valid master table (code, name, level, parent, name_key, kind); raises with every problem."""
    code = pc.utf8_trim_whitespace(table.column("code"))
    name = pc.utf8_trim_whitespace(table.column("name"))
    level = pc.utf8_lower(pc.utf8_trim_whitespace(table.column("level")))
    codes: list[str] = code.to_pylist()
    levels: list[str] = level.to_pylist()

    def rows_where(mask: pa.ChunkedArray) -> list[int]:
        return [i + 2 for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()]

    log = ProblemLog()
    fmt_ok = pc.match_substring_regex(code, _DOTTED.pattern)
    level_ok = pc.match_substring_regex(level, "^(" + "|".join(LEVELS) + ")$")
    bad = rows_where(pc.invert(fmt_ok))
    _report(log, path, bad, "malformed code", [repr(codes[r - 2]) for r in bad])
    bad = rows_where(pc.invert(level_ok))
    _report(log, path, bad, "unknown level", [f"{levels[r - 2]!r}, expected one of {', '.join(LEVELS)}" for r in bad])

    length = pc.utf8_length(code)
    expected = pc.if_else(
        pc.equal(length, 2), "province",
        pc.if_else(pc.equal(length, 5), "regency", pc.if_else(pc.equal(length, 8), "district", "village")),
    )  # fmt: skip
    bad = rows_where(pc.and_(pc.and_(fmt_ok, level_ok), pc.not_equal(expected, level)))
    _report(
        log, path, bad, "code does not fit its level",
        [f"{codes[r - 2]} is a {_LEVEL_BY_LENGTH[len(codes[r - 2])]} code, level says {levels[r - 2]}" for r in bad],
    )  # fmt: skip

    first_row: dict[str, int] = {}
    dup_rows: list[int] = []
    dup_details: list[str] = []
    for i, c in enumerate(codes):
        j = first_row.setdefault(c, i + 2)
        if j != i + 2:
            dup_rows.append(i + 2)
            dup_details.append(f"{c} already on row {j}")
    _report(log, path, dup_rows, "duplicate code", dup_details)

    none = pa.scalar(None, pa.string())
    has_parent = pc.and_(fmt_ok, pc.greater(length, 2))
    parent = pc.if_else(has_parent, pc.replace_substring_regex(code, "[.][0-9]+$", ""), none)
    bad = rows_where(pc.and_(has_parent, pc.invert(pc.is_in(parent, pc.filter(code, fmt_ok)))))
    parents = parent.to_pylist()
    _report(log, path, bad, "parent code missing", [f"no row with code {parents[r - 2]}" for r in bad])

    _report(log, path, rows_where(pc.equal(name, "")), "empty name")
    log.raise_if_any(ReferenceDataError, f"region master {path} is not valid")
    keys, kinds = _name_columns(name)
    return pa.table({"code": code, "name": name, "level": level, "parent": parent, "name_key": keys, "kind": kinds})
