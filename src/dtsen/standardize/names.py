"""Indonesian personal names: titles and degrees split off, Muhammad unified, a phonetic key.

`standardize_name(raw)` returns Ibis expressions (a `NameParts`) for `table.mutate(...)`. It is
regex-only (no array lambdas, no backreferences, no lookaround) so that it compiles to the same
result on DuckDB (RE2) and Spark (Java regex).

How a name is read
------------------
1. Upper-cased; apostrophes are dropped without a space (MA'RUF -> MARUF); any other character
   that is not a letter, a digit or a dot becomes a space; a dot sticks to the token before it.
2. The text before the first comma is the *name part*; everything after it is the *degree part*
   ("AHMAD, S.PD, M.SI"; further commas are spaces).
3. Titles are recognised by position, so that a real name token is not mistaken for a title:
   - a run of PREFIX titles at the start of the name part ("PROF. DR. IR. H. AHMAD");
   - a run of DEGREE titles at the end of the name part ("AHMAD SUBARJO S.PD M.SI", "BUDI ST");
   - runs of titles of either kind at the start and at the end of the degree part; other tokens
     there are name tokens ("SUBARJO, AHMAD" -> "SUBARJO AHMAD").
   A title-like token in the middle of the name part is kept: "AHMAD H. SUBARJO" keeps H (there
   it is an initial). "ST" is the degree Sarjana Teknik only at the end or after a comma; at the
   start it is the common abbreviation of SITI and is kept ("ST. AMINAH" -> "ST AMINAH").
4. Every form of Muhammad becomes MUHAMMAD (see `MUHAMMAD_FORMS`): the spelled-out and abbreviated
   forms anywhere as whole tokens, with or without a dot; "M." (with a dot) anywhere; a lone "M"
   without a dot only as the first token of the name ("M SOLEH"), because elsewhere a bare M is
   as likely another initial.
5. Remaining punctuation becomes spaces, spaces are collapsed, and an empty result is null.
   Digits and non-ASCII letters (É) are kept as they are: a name with digits is suspicious, but
   flagging it is validation's job, not standardization's.

`phonetic` is the name with the spelling folds of `PHONETIC_FOLDS` applied, for comparison only.

The titles found are returned in order of appearance, each as the dotless form of its canonical
spelling in `TITLES` (H, HJ, DRS, KH, RA, SPD, MSI, SE, ST; HAJI -> H, RADEN -> R): a dotless key
is unambiguous (checked at import) and needs no per-title rewriting on the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

TitleKind = Literal["prefix", "degree"]


@dataclass(frozen=True)
class Title:
    """One title: its canonical spelling and the spellings that mean it.

    A spelling is written with dots between its parts ("S.PD", "K.H"). In the data each dot may
    be present or absent and may be followed by spaces ("S.Pd", "S. Pd.", "S PD"); when `joined`
    is true the parts may also be written together ("SPD", "KH"). Joining is off for short forms
    whose joined spelling is a plausible name token (M.A, M.E, M.H, M.T, B.A).
    """

    canonical: str
    kind: TitleKind
    spellings: tuple[str, ...]
    joined: bool = True


def _p(canonical: str, *spellings: str, joined: bool = True) -> Title:
    return Title(canonical, "prefix", (canonical, *spellings), joined)


def _d(canonical: str, *spellings: str, joined: bool = True) -> Title:
    return Title(canonical, "degree", (canonical, *spellings), joined)


# The one table of titles. Prefix titles stand before a name (religious, noble, professional and
# polite forms of address); degrees follow it (Indonesian academic degrees per Permendikbud
# 154/2014 and their older spellings, plus common foreign ones).
TITLES: tuple[Title, ...] = (
    # -- prefix titles ---------------------------------------------------------------------
    _p("PROF", "PROFESOR", "PROFESSOR"),
    _p("DR", "DOKTOR"),  # doctorate (Dr.) and physician (dr.) alike once upper-cased
    _p("DRG"),  # dentist
    _p("DRS"),  # doctorandus
    _p("DRA"),  # doctoranda
    _p("IR"),  # insinyur
    _p("H", "HAJI"),
    _p("HJ", "HJH", "HAJAH", "HAJJAH"),
    _p("KH", "K.H", "KIAI HAJI", "KYAI HAJI"),
    _p("NS"),  # ners (nurse)
    _p("APT"),  # apoteker
    _p("R", "RADEN"),
    _p("RA", "R.A", "RADEN AJENG", "RADEN AYU"),
    _p("RR", "R.R", "RADEN RORO"),
    _p("RM", "R.M", "RADEN MAS"),
    _p("ALM", "ALMARHUM"),
    _p("ALMH", "ALMARHUMAH"),
    _p("BPK", "BAPAK"),
    _p("IBU"),
    _p("SDR", "SAUDARA"),
    _p("SDRI", "SAUDARI"),
    # -- degrees -----------------------------------------------------------------------------
    _d("S.AG"),
    _d("S.AP"),
    _d("S.E"),
    _d("S.E.I"),
    _d("S.FARM"),
    _d("S.H"),
    _d("S.H.I"),
    _d("S.HUM"),
    _d("S.HUT"),
    _d("S.I.KOM", "S.IKOM"),
    _d("S.IP"),
    _d("S.KED"),
    _d("S.KEP"),
    _d("S.KG"),
    _d("S.KM"),
    _d("S.KOM"),
    _d("S.P"),
    _d("S.PD"),
    _d("S.PD.I"),
    _d("S.PD.SD"),
    _d("S.PI"),
    _d("S.PSI"),
    _d("S.PT"),
    _d("S.S"),
    _d("S.SI"),
    _d("S.SOS"),
    _d("S.SOS.I"),
    _d("S.ST"),
    _d("S.SY"),
    _d("S.T"),
    _d("S.TH"),
    _d("S.TH.I"),
    _d("S.TP"),
    _d("M.A", joined=False),
    _d("M.AG"),
    _d("M.AK"),
    _d("M.AP"),
    _d("M.E", joined=False),
    _d("M.ENG"),
    _d("M.H", joined=False),
    _d("M.HUM"),
    _d("M.KES"),
    _d("M.KEP"),
    _d("M.KN"),
    _d("M.KOM"),
    _d("M.M"),
    _d("M.PD"),
    _d("M.PD.I"),
    _d("M.SC"),
    _d("M.SI"),
    _d("M.T", joined=False),
    _d("M.B.A", "MBA"),
    _d("A.MA"),
    _d("A.MA.PD"),
    _d("A.MD"),
    _d("A.MD.FARM"),
    _d("A.MD.KEB"),
    _d("A.MD.KEP"),
    _d("A.MD.KES"),
    _d("A.MD.KOM"),
    _d("A.MK"),
    _d("B.A", joined=False),
    _d("B.SC"),
    _d("PH.D"),
)

# Every spelling of Muhammad that is unified to MUHAMMAD when it is a whole token (a trailing dot
# allowed). "M." and the lone first-token "M" are handled separately (see the module doc).
MUHAMMAD_FORMS: tuple[str, ...] = (
    "MUHAMMAD",
    "MUHAMAD",
    "MUHAMMED",
    "MUHAMED",
    "MUHAMMAT",
    "MUHAMAT",
    "MOHAMMAD",
    "MOHAMAD",
    "MOHAMMED",
    "MOHAMED",
    "MOHAMMAT",
    "MUCHAMMAD",
    "MUCHAMAD",
    "MOCHAMMAD",
    "MOCHAMAD",
    "MOCHAMMED",
    "MUKHAMMAD",
    "MUKHAMAD",
    "MOKHAMMAD",
    "MOKHAMAD",
    "MUH",
    "MUHD",
    "MOH",
    "MOHD",
    "MOCH",
    "MUCH",
    "MHD",
)

# The phonetic key: folds, applied in this order to the standardized name (plain substring
# replacements). Each is a documented spelling variation of Indonesian names:
PHONETIC_FOLDS: tuple[tuple[str, str, str], ...] = (
    ("OE", "U", "Van Ophuijsen spelling (before 1947): SOEHARTO = SUHARTO"),
    ("DJ", "J", "Soewandi spelling (before 1972): DJOKO = JOKO"),
    ("TJ", "C", "before 1972: TJAHJO = CAHYO"),
    ("SJ", "SY", "before 1972: SJAHRIR = SYAHRIR"),
    ("NJ", "NY", "before 1972: NJOMAN = NYOMAN; after DJ->J, so PANDJI and PANJI agree"),
    ("HJ", "HY", "old J = Y, in practice only after H: WAHJU = WAHYU, TJAHJO = CAHYO"),
    ("J", "Y", "old J = Y anywhere (JOELIARTI = YULIARTI, HIDAJAT = HIDAYAT); after the DJ fold, so "
               "J and Y are not told apart at all (JOKO = DJOKO = YOKO)"),
    ("CH", "KH", "Arabic kha written CH: ACHMAD = AKHMAD"),
    ("KH", "H", "and written H: AKHMAD = AHMAD, KHOIRUL = HOIRUL"),
    ("SY", "S", "Arabic shin written SY or S: SYAMSUL = SAMSUL"),
    ("SH", "S", "or SH: SHOLEH = SOLEH"),
    ("DZ", "Z", "Arabic dhal: DZULKIFLI = ZULKIFLI"),
    ("DH", "D", "Arabic dad: RAMADHAN = RAMADAN"),
    ("TH", "T", "Arabic tha: FATHUR = FATUR"),
    ("GH", "G", "Arabic ghain: GHOFUR = GOFUR"),
    ("PH", "F", "PH: PHILIPUS = FILIPUS"),
    ("Q", "K", "Arabic qaf: QOMARIAH = KOMARIAH"),
    ("V", "F", "V and F are not distinguished: VIVI = FIFI"),
    ("AE", "AI", "Sundanese/Javanese diphthong: ZAENAL = ZAINAL, SAEFUL = SAIFUL"),
    ("Y", "I", "Y/I: HERYANTO = HERIANTO, FITRIYANI = FITRIANI (with the doubled-letter fold)"),
)
# After the folds: every run of a doubled letter becomes one (MUHAMMAD = MUHAMAD, ALLAH = ALAH),
# then a word-final H after a vowel is dropped (FATIMAH = FATIMA, AMINAH = AMINA).

_APOSTROPHES = "['`\u2018\u2019\u02bc\u00b4]"


@dataclass(frozen=True)
class NameParts:
    """Expressions for one standardized name column."""

    name: ir.StringValue  # the name without titles, upper case, null when nothing is left
    titles: ir.StringValue  # canonical titles in order of appearance, space-separated, or null
    tokens: ir.ArrayValue  # array<string> of the name's tokens
    phonetic: ir.StringValue  # key for fuzzy comparison (see PHONETIC_FOLDS)


def _spelling_regex(spelling: str, sep: str, joined: bool) -> str:
    """Regex for one spelling, without its bounding spaces; `sep` is the token separator."""
    parts = spelling.replace(" ", ".").split(".")  # letters only: nothing to escape
    s = sep * 2  # two spaces: the boundary between two tokens
    between = f"\\.?(?:{s})?" if joined else f"(?:\\.(?:{s})?|{s})"
    return between.join(parts) + "\\.?"


def _title_regex(title: Title) -> str:
    return "|".join(_spelling_regex(sp, " ", title.joined) for sp in title.spellings)


def _ordered(titles: tuple[Title, ...]) -> list[Title]:
    """Longer, many-part titles first, so that S.PD.I is preferred to S.PD."""

    def parts(t: Title) -> int:
        return max(len(s.replace(" ", ".").split(".")) for s in t.spellings)

    return sorted(titles, key=lambda t: (-parts(t), -len(t.canonical)))


def _alternation(kinds: tuple[TitleKind, ...]) -> str:
    return "|".join(_title_regex(t) for t in _ordered(TITLES) if t.kind in kinds)


def _alias_keys() -> dict[str, str]:
    """Spellings whose dotless form is not the canonical key (HAJI -> H), checked unambiguous."""
    owner: dict[str, str] = {}
    for title in TITLES:
        for spelling in title.spellings:
            key = _key(spelling)
            if owner.setdefault(key, title.canonical) != title.canonical:  # pragma: no cover
                raise ValueError(f"title spelling {spelling!r} is ambiguous")
    return {key: _key(canonical) for key, canonical in owner.items() if key != _key(canonical)}


def _key(spelling: str) -> str:
    return spelling.replace(".", "").replace(" ", "")


@ibis.udf.scalar.builtin
def regexp_extract_all(text: str, pattern: str, group: int) -> dt.Array(dt.string):  # type: ignore[valid-type]
    """Every match of `pattern` (DuckDB and Spark share this built-in's name and arguments)."""


_PREFIX = _alternation(("prefix",))
_DEGREE = _alternation(("degree",))
_ANY = _alternation(("prefix", "degree"))
_ALIASES = _alias_keys()
_MUHAMMAD = " (?:M\\.|(?:" + "|".join(MUHAMMAD_FORMS) + ")\\.?) "


def _leading(alternation: str) -> str:
    return f"^((?: (?:{alternation}) )*)"


def _trailing(alternation: str) -> str:
    return f"((?: (?:{alternation}) )*)$"


def _spaced(x: ir.StringValue) -> ir.StringValue:
    """Normalised tokens, each owning one space on either side: " H.  M.  SOEHARTO "."""
    x = x.re_replace(_APOSTROPHES, "")
    x = x.re_replace(r"[^\p{L}\p{N}.]+", " ")
    x = x.re_replace(r" *\.[ .]*", ". ")
    x = x.re_replace(r"^[ .]+", "")
    x = x.re_replace(" +", " ").strip()
    return " " + x.replace(" ", "  ") + " "


def _split_runs(spaced: ir.StringValue, lead: str, trail: str) -> tuple[ir.StringValue, ir.StringValue]:
    """(titles in the leading and trailing runs, the tokens between them)."""
    lead_re, trail_re = _leading(lead), _trailing(trail)
    rest = spaced.re_replace(lead_re, "")
    return spaced.re_extract(lead_re, 1) + rest.re_extract(trail_re, 1), rest.re_replace(trail_re, "")


def _title_keys(run: ir.StringValue) -> ir.StringValue:
    """Each title of a run of titles as its canonical key, space-separated, in order."""
    found = regexp_extract_all(run, f" (?:{_ANY}) ", 0).join("/")
    keys = "/" + found.re_replace("[. ]", "").replace("/", "//") + "/"
    for alias, canonical in _ALIASES.items():
        keys = keys.replace(f"/{alias}/", f"/{canonical}/")
    return _collapse(keys.replace("/", " "))


def _collapse(x: ir.StringValue) -> ir.StringValue:
    return x.re_replace(" +", " ").strip().nullif("")


def _phonetic(name: ir.StringValue) -> ir.StringValue:
    key = name
    for old, new, _why in PHONETIC_FOLDS:
        key = key.replace(old, new)
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        # plain replaces (no regex): twice folds runs of up to four letters
        key = key.replace(letter * 2, letter).replace(letter * 2, letter)
    key = key + " "
    for vowel in "AIUEO":
        key = key.replace(f"{vowel}H ", f"{vowel} ")
    return _collapse(key)


# The work is done in stages; each stage reads the columns the one before wrote. Composed
# directly they give `standardize_name`; with the engine materialising between stages
# (`standardize_names`) no regex runs twice on the same text.
Stage = dict[str, ir.Value]


def _stage_spaced(raw: ir.StringValue) -> Stage:
    upper = raw.upper()
    after = ibis.ifelse(upper.contains(","), _spaced(upper.re_extract("^[^,]*,(.*)$", 1).replace(",", " ")), "  ")
    return {"main": _spaced(upper.re_extract("^([^,]*)", 1)), "after": after}


def _stage_runs(main: ir.StringValue, after: ir.StringValue) -> Stage:
    main_titles, main_core = _split_runs(main, _PREFIX, _DEGREE)
    after_titles, after_core = _split_runs(after, _ANY, _ANY)
    return {"run": main_titles + after_titles, "core": main_core + after_core}


def _stage_name(raw: ir.StringValue, run: ir.StringValue, core: ir.StringValue) -> Stage:
    name = " " + core.re_replace(" +", " ").strip().replace(" ", "  ") + " "
    name = name.re_replace("^ M ", " MUHAMMAD ").re_replace(_MUHAMMAD, " MUHAMMAD ")
    clean = _collapse(name.re_replace(r"[^\p{L}\p{N}]+", " "))
    titles = ibis.ifelse(run.re_search("[A-Z]"), _title_keys(run), ibis.null("string"))
    return {
        "name": ibis.ifelse(raw.isnull(), ibis.null("string"), clean),
        "titles": ibis.ifelse(raw.isnull(), ibis.null("string"), titles),
    }


def _stage_keys(name: ir.StringValue) -> Stage:
    return {"tokens": name.split(" "), "phonetic": _phonetic(name)}


def standardize_name(raw: ir.StringValue) -> NameParts:
    """Split a raw name into the clean name, its titles, its tokens and a phonetic key."""
    spaced = _stage_spaced(raw)
    runs = _stage_runs(spaced["main"], spaced["after"])
    named = _stage_name(raw, runs["run"], runs["core"])
    keys = _stage_keys(named["name"])
    return NameParts(named["name"], named["titles"], keys["tokens"], keys["phonetic"])


def _title_like_tokens() -> list[str]:
    """Every token that could be (part of) a title or a form of Muhammad: each run of
    consecutive parts of each spelling, written together (for a `joined` title) or alone."""
    tokens = {"M", *MUHAMMAD_FORMS}
    for title in TITLES:
        for spelling in title.spellings:
            parts = spelling.replace(" ", ".").split(".")
            for i in range(len(parts)):
                for j in range(i + 1, len(parts) + 1 if title.joined else i + 2):
                    tokens.add("".join(parts[i:j]))
    return sorted(tokens, key=lambda t: (-len(t), t))


# A plain name: letters A-Z in single-spaced tokens, none of which could be a title or a form of
# Muhammad. Every stage leaves such a name as it is (it has no titles); most names are plain.
_PLAIN = "^[A-Z]+(?: [A-Z]+)*$"
_TITLE_LIKE = "(?:^| )(?:" + "|".join(_title_like_tokens()) + ")(?: |$)"


def standardize_names(materialize: Callable[[ir.Table], ir.Table], table: ir.Table, column: str, prefix: str) -> ir.Table:
    """`standardize_name` on a table, materialising between stages (for large tables).

    Adds `{prefix}name`, `{prefix}titles`, `{prefix}tokens` and `{prefix}phonetic`; gives the
    same values as `standardize_name`. Plain names (see `_PLAIN`) skip the title stages, which
    would leave them unchanged.
    """
    p = prefix
    upper = table[column].upper()
    marked = materialize(table.mutate(**{p + "plain": (upper.re_search(_PLAIN) & ~upper.re_search(_TITLE_LIKE))
                                         .fill_null(False)}))
    plain = marked.filter(marked[p + "plain"]).drop(p + "plain")
    plain = plain.mutate(**{p + "name": plain[column].upper(), p + "titles": ibis.null("string")})
    rest = marked.filter(~marked[p + "plain"]).drop(p + "plain")
    t = materialize(rest.mutate(**{p + k: v for k, v in _stage_spaced(rest[column]).items()}))
    t = materialize(t.mutate(**{p + k: v for k, v in _stage_runs(t[p + "main"], t[p + "after"]).items()}))
    t = t.mutate(**{p + k: v for k, v in _stage_name(t[column], t[p + "run"], t[p + "core"]).items()})
    t = t.drop(p + "main", p + "after", p + "run", p + "core")
    t = materialize(ibis.union(plain, t.select(*plain.columns), distinct=False))
    return t.mutate(**{p + k: v for k, v in _stage_keys(t[p + "name"]).items()})
