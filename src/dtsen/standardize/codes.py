"""Coded fields translated to the canonical vocabularies of `dtsen.schema`.

`translate(raw, field, extra)` maps a source's code or label to the canonical value: the built-in
synonyms (`SYNONYMS`, one dict per field, in one place) plus every canonical value itself, with the
source mapping's `extra` codes taking precedence. Matching is on a *key*: upper case, spaces and
punctuation removed ("Laki-laki", "LAKI LAKI" and "laki_laki" are all LAKILAKI), and a whole
number written as "01", "1.0" or "1,0" is "1". A text made only of punctuation keeps it ("-").
The lookup is a map literal on the engine (no join), identical on DuckDB and Spark.

Numeric codes built in:
- relationship (SHDK, status hubungan dalam keluarga, as on the Dukcapil KK): 1 kepala keluarga,
  2 suami, 3 istri, 4 anak, 5 menantu, 6 cucu, 7 orang tua, 8 mertua, 9 famili lain,
  10 pembantu, 11 lainnya (pembantu has no canonical value of its own: LAINNYA);
- sex (and the head's sex a survey states, `reported_head_sex`): 1 laki-laki, 2 perempuan (Dukcapil and BPS);
- marital status: 1 belum kawin, 2 kawin, 3 cerai hidup, 4 cerai mati (Dukcapil and BPS).
Other numeric codes differ between sources and belong in the source mapping's `extra`. BPS and
the old welfare list write relationship as 1 head, 2 spouse (PASANGAN: husband or wife), 3 child:
a source that does gives its own list, which replaces this one (`translate(..., replace=True)`).

Booleans: `schema.BOOL_TRUE`/`BOOL_FALSE` plus YA/YES/ADA/PUNYA and TIDAK/NO/TIDAK ADA, 1/0 and
2 (BPS: 1 ya, 2 tidak). "T" is *not* built in, although `schema.BOOL_TRUE` lists it: in
Indonesian forms Y/T means Ya/Tidak (T = false), in English T/F means true. A source that uses
either must say so in its `extra` codes; without that, "T" is unknown rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from dtsen import schema
from dtsen.errors import MappingError

# canonical value -> synonyms (matched by key, so spelling variants of spacing and punctuation
# need not be listed)
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "sex": {
        "L": ("1", "LK", "LAKI-LAKI", "LAKI", "LELAKI", "PRIA", "M", "MALE"),
        "P": ("2", "PR", "PEREMPUAN", "WANITA", "F", "FEMALE", "W"),
    },
    "relationship": {
        "KEPALA_KELUARGA": ("1", "KEPALA KELUARGA", "KEPALA RUMAH TANGGA", "KK", "KRT", "KEPALA"),
        "SUAMI": ("2",),
        "ISTRI": ("3", "ISTERI"),
        "PASANGAN": ("SUAMI/ISTRI", "ISTRI/SUAMI", "SUAMI ATAU ISTRI", "SPOUSE"),
        "ANAK": ("4", "ANAK KANDUNG", "ANAK TIRI", "ANAK ANGKAT"),
        "MENANTU": ("5",),
        "CUCU": ("6",),
        "ORANG_TUA": ("7", "ORANGTUA", "AYAH", "IBU", "BAPAK", "AYAH/IBU"),
        "MERTUA": ("8",),
        "FAMILI_LAIN": ("9", "FAMILY LAIN", "SAUDARA", "FAMILI"),
        "LAINNYA": ("10", "11", "PEMBANTU", "LAIN-LAIN", "LAIN"),
    },
    "marital_status": {
        "BELUM_KAWIN": ("1", "BELUM MENIKAH", "TIDAK KAWIN", "LAJANG"),
        "KAWIN": ("2", "KAWIN TERCATAT", "KAWIN BELUM TERCATAT", "KAWIN TIDAK TERCATAT", "MENIKAH"),
        "CERAI_HIDUP": ("3",),
        "CERAI_MATI": ("4",),
    },
    "education": {
        "TIDAK_SEKOLAH": (
            "TIDAK/BELUM SEKOLAH",
            "BELUM SEKOLAH",
            "TIDAK SEKOLAH",
            "TIDAK PERNAH SEKOLAH",
            "BELUM TAMAT SD",
            "BELUM TAMAT SD/SEDERAJAT",
            "TIDAK TAMAT SD",
        ),
        "SD": ("SD/SEDERAJAT", "TAMAT SD", "TAMAT SD/SEDERAJAT", "SEKOLAH DASAR", "MI"),
        "SMP": ("SLTP", "SLTP/SEDERAJAT", "SMP/SEDERAJAT", "MTS"),
        "SMA": ("SLTA", "SLTA/SEDERAJAT", "SMA/SEDERAJAT", "SMK", "MA"),
        "DIPLOMA": (
            "DIPLOMA I",
            "DIPLOMA II",
            "DIPLOMA III",
            "DIPLOMA I/II",
            "AKADEMI/DIPLOMA III/S. MUDA",
            "AKADEMI/DIPLOMA III/SARJANA MUDA",
            "D1",
            "D2",
            "D3",
            "D I",
            "D II",
            "D III",
        ),
        "S1": ("DIPLOMA IV", "DIPLOMA IV/STRATA I", "STRATA I", "D4", "D IV", "SARJANA"),
        "S2": ("STRATA II", "MAGISTER"),
        "S3": ("STRATA III", "DOKTOR"),
    },
    "disability": {
        "TIDAK": ("TIDAK ADA", "-", "BUKAN PENYANDANG DISABILITAS", "NORMAL"),
        "FISIK": ("TUNA DAKSA", "CACAT FISIK", "DISABILITAS FISIK"),
        "SENSORIK": (
            "TUNA NETRA",
            "TUNA RUNGU",
            "TUNA WICARA",
            "TUNA RUNGU WICARA",
            "TUNA RUNGU/WICARA",
            "DISABILITAS SENSORIK",
        ),
        "INTELEKTUAL": ("TUNA GRAHITA", "DISABILITAS INTELEKTUAL"),
        "MENTAL": ("TUNA LARAS", "DISABILITAS MENTAL"),
        "GANDA": ("CACAT GANDA", "DISABILITAS GANDA", "MULTI"),
    },
}

# Fields that take another field's vocabulary take its synonyms too (the head's sex and
# education as a survey states them: `reported_head_sex` reads 1/2 as `sex` does).
CODED_LIKE: dict[str, str] = {"reported_head_sex": "sex", "reported_head_education": "education"}
SYNONYMS.update({name: SYNONYMS[like] for name, like in CODED_LIKE.items()})

AMBIGUOUS_BOOL = ("T",)
BOOL_SYNONYMS: dict[bool, tuple[str, ...]] = {
    True: (*(v for v in schema.BOOL_TRUE if v not in AMBIGUOUS_BOOL), "YES", "PUNYA", "MEMILIKI", "BENAR", "ADA"),
    False: (*(v for v in schema.BOOL_FALSE if v not in AMBIGUOUS_BOOL), "NO", "TIDAK ADA", "TIDAK PUNYA", "SALAH"),
}

VOCABULARIES: dict[str, tuple[str, ...]] = {
    spec.name: spec.vocabulary for fields in schema.FIELDS.values() for spec in fields.values() if spec.vocabulary
}


@dataclass(frozen=True)
class Translated:
    """Expressions for one translated column."""

    value: ir.Value  # canonical value (string, or boolean for `translate_bool`), or null
    missing: ir.BooleanValue  # the raw text is null or blank
    unknown: ir.BooleanValue  # the raw text is present but not translatable


_NUMBER = "^0*([0-9]+)(?:[.,]0+)?$"
_PY_NUMBER = re.compile(_NUMBER)


def code_key(text: str) -> str:
    """The matching key of a code, in Python (mirrors `_key` on the engine)."""
    upper = " ".join(text.upper().split())
    number = _PY_NUMBER.match(upper)
    if number:
        return number.group(1)
    key = "".join(c for c in upper if c.isalnum())
    return key or upper


def _trimmed(raw: ir.StringValue) -> ir.StringValue:
    return raw.upper().re_replace(r"[\s\x{00A0}]+", " ").strip()


def code_key_expr(raw: ir.StringValue) -> ir.StringValue:
    """The matching key of a raw code on the engine (`code_key` in Python): what `translate`
    and `translate_bool` look up. Blank text gives "" and null gives null.

    A caller that translates many values computes it once, as a column, and passes it as
    `key`: the engines expand a CASE on an expression into one copy of it per code."""
    text = _trimmed(raw)
    number = text.re_extract(_NUMBER, 1).nullif("")
    letters = text.re_replace(r"[^\p{L}\p{N}]+", "").nullif("")
    return ibis.coalesce(number, letters, text)


def clean_text(raw: ir.StringValue) -> ir.StringValue:
    """Free text (occupation, birth place): upper case, trimmed, spaces collapsed, blank -> null."""
    return _trimmed(raw).nullif("")


def _lookup(raw: ir.StringValue, table: Mapping[str, object], key: ir.StringValue | None) -> Translated:
    key = code_key_expr(raw) if key is None else key
    missing = raw.isnull() | (key == "")
    # A simple CASE, not a map literal: Ibis writes a map literal out four times per lookup.
    kind = "boolean" if all(isinstance(v, bool) for v in table.values()) else "string"
    value = key.cases(*table.items(), else_=ibis.null(kind))
    return Translated(value=value, missing=missing, unknown=~missing & value.isnull())


def builtin_codes(field: str) -> dict[str, str]:
    """The built-in code list of a coded field: each code's key -> the canonical value."""
    table = {code_key(v): v for v in VOCABULARIES[field]}
    for canonical, synonyms in SYNONYMS.get(field, {}).items():
        table.update({code_key(s): canonical for s in synonyms})
    return table


def translate(
    raw: ir.StringValue, field: str, extra: Mapping[str, str] | None = None, key: ir.StringValue | None = None,
    *, replace: bool = False,
) -> Translated:
    """Translate a coded column to `field`'s canonical vocabulary; `extra` codes win over built-ins.

    An `extra` target may be a canonical value or anything the built-ins translate ("LAKI-LAKI").
    With `replace`, a non-empty `extra` replaces the built-in list: only its codes and the
    canonical values themselves are understood (a source's own code list, `sources.NAME.codes`).
    `key` is `code_key_expr(raw)`, when the caller has it as a column.
    """
    if field not in VOCABULARIES:
        raise MappingError(
            f"field {field!r} has no code vocabulary to translate to; "
            f"fields with one: {', '.join(sorted(VOCABULARIES))} (free text uses clean_text)"
        )
    builtin = builtin_codes(field)
    table = {code_key(v): v for v in VOCABULARIES[field]} if replace and extra else dict(builtin)
    bad = []
    for code, target in (extra or {}).items():
        canonical = builtin.get(code_key(str(target)))
        if canonical is None:
            bad.append(f"{code!r} -> {target!r}")
        else:
            table[code_key(str(code))] = canonical
    if bad:
        raise MappingError(
            f"codes for {field!r} map to values outside its vocabulary ({', '.join(VOCABULARIES[field])}): "
            + ", ".join(bad)
        )
    return _lookup(raw, table, key)


def translate_bool(
    raw: ir.StringValue, extra: Mapping[str, bool | str] | None = None, key: ir.StringValue | None = None,
    *, replace: bool = False,
) -> Translated:
    """Translate a yes/no column to a boolean; `extra` codes win over built-ins.

    An `extra` value is a bool, or text naming one ("TRUE", "YA", "FALSE", "TIDAK"), as the
    project file writes it. With `replace`, a non-empty `extra` replaces the built-in list (only
    its codes, and TRUE and FALSE, are understood). `key` is `code_key_expr(raw)`, when the
    caller has it as a column.
    """
    builtin = {code_key(s): flag for flag, synonyms in BOOL_SYNONYMS.items() for s in synonyms}
    table = {"TRUE": True, "FALSE": False} if replace and extra else dict(builtin)
    for code, value in (extra or {}).items():
        flag = value if isinstance(value, bool) else builtin.get(code_key(str(value)))
        if flag is None:
            raise MappingError(f"boolean code {code!r} must map to true or false, not {value!r}")
        table[code_key(str(code))] = flag
    return _lookup(raw, table, key)
