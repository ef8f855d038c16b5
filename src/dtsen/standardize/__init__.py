"""Standardization: raw source text to clean, typed canonical values, as Ibis expressions.

Every function takes Ibis column expressions and returns expressions (or a frozen dataclass of
them) for the caller's `table.mutate(...)`; all give identical results on DuckDB and Spark.
"""

from dtsen.standardize.address import ABBREVIATIONS, clean_address, extract_rt_rw, normalize_rt
from dtsen.standardize.codes import (
    BOOL_SYNONYMS,
    SYNONYMS,
    VOCABULARIES,
    Translated,
    clean_text,
    code_key,
    code_key_expr,
    translate,
    translate_bool,
)
from dtsen.standardize.control import CONTROL_CHARS, had_control, strip_control
from dtsen.standardize.dates import FORMATS, ParsedDate, age_at, parse_date, prepared_date
from dtsen.standardize.names import (
    MUHAMMAD_FORMS,
    PHONETIC_FOLDS,
    TITLES,
    NameParts,
    Title,
    standardize_name,
    standardize_names,
)
from dtsen.standardize.numbers import Parsed, parse_float, parse_int, prepared_number

__all__ = [
    "ABBREVIATIONS",
    "BOOL_SYNONYMS",
    "CONTROL_CHARS",
    "FORMATS",
    "MUHAMMAD_FORMS",
    "PHONETIC_FOLDS",
    "SYNONYMS",
    "TITLES",
    "VOCABULARIES",
    "NameParts",
    "Parsed",
    "ParsedDate",
    "Title",
    "Translated",
    "age_at",
    "clean_address",
    "clean_text",
    "code_key",
    "code_key_expr",
    "extract_rt_rw",
    "had_control",
    "normalize_rt",
    "parse_date",
    "parse_float",
    "parse_int",
    "prepared_date",
    "prepared_number",
    "standardize_name",
    "standardize_names",
    "strip_control",
    "translate",
    "translate_bool",
]
