"""Known answers for code translation, on every engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtsen import schema
from dtsen.engine import Engine
from dtsen.errors import MappingError
from dtsen.standardize.codes import (
    SYNONYMS,
    VOCABULARIES,
    clean_text,
    code_key,
    code_key_expr,  # the engine side of code_key
    translate,
    translate_bool,
)


def _run(engine: Engine, values: Sequence[str | None], build: Callable[[ir.StringValue], dict[str, Any]]) -> list[dict]:
    """Rows of `build(raw)` in input order; nulls travel as a flag (Spark's from_arrow loses them)."""
    table = engine.from_arrow(
        pa.table({"i": list(range(len(values))), "raw": [v or "" for v in values], "null": [v is None for v in values]})
    )
    raw = ibis.ifelse(table.null, ibis.null("string"), table.raw)
    return table.select("i", **build(raw)).order_by("i").to_pyarrow().drop(["i"]).to_pylist()


# (field, raw, canonical or None); None with a present raw means unknown
CODES: list[tuple[str, str | None, str | None]] = [
    ("sex", "1", "L"),
    ("sex", "2.0", "P"),
    ("sex", "l", "L"),
    ("sex", "Laki-Laki", "L"),
    ("sex", "LAKI  LAKI", "L"),
    ("sex", "pria", "L"),
    ("sex", "Perempuan", "P"),
    ("sex", " wanita ", "P"),
    ("sex", "F", "P"),
    ("sex", "3", None),
    ("sex", "", None),
    ("sex", None, None),
    ("relationship", "Kepala Keluarga", "KEPALA_KELUARGA"),
    ("relationship", "KEPALA_KELUARGA", "KEPALA_KELUARGA"),
    ("relationship", "01", "KEPALA_KELUARGA"),
    ("relationship", "krt", "KEPALA_KELUARGA"),
    ("relationship", "Isteri", "ISTRI"),
    ("relationship", "3", "ISTRI"),
    ("relationship", "Anak Angkat", "ANAK"),
    ("relationship", "orang tua", "ORANG_TUA"),
    ("relationship", "Famili Lain", "FAMILI_LAIN"),
    ("relationship", "10", "LAINNYA"),
    ("relationship", "Pembantu", "LAINNYA"),
    ("relationship", "12", None),
    ("marital_status", "Belum Kawin", "BELUM_KAWIN"),
    ("marital_status", "KAWIN BELUM TERCATAT", "KAWIN"),
    ("marital_status", "Cerai Mati", "CERAI_MATI"),
    ("marital_status", "4", "CERAI_MATI"),
    ("education", "TIDAK/BELUM SEKOLAH", "TIDAK_SEKOLAH"),
    ("education", "SLTP/SEDERAJAT", "SMP"),
    ("education", "SMK", "SMA"),
    ("education", "D-3", "DIPLOMA"),
    ("education", "Diploma IV/Strata I", "S1"),
    ("education", "S-2", "S2"),
    ("education", "Strata III", "S3"),
    ("disability", "-", "TIDAK"),
    ("disability", "Tidak Ada", "TIDAK"),
    ("disability", "Tuna Netra", "SENSORIK"),
    ("disability", "tuna daksa", "FISIK"),
    ("disability", "Ganda", "GANDA"),
    ("floor_type", "keramik", "KERAMIK"),
    ("ownership", "Milik Sendiri", "MILIK_SENDIRI"),
]


def test_known_codes(engine: Engine) -> None:
    fields = sorted({f for f, _, _ in CODES})

    def build(raw: ir.StringValue) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in fields:
            t = translate(raw, field)
            out[field] = t.value
            out[field + "_unknown"] = t.unknown
            out[field + "_missing"] = t.missing
        return out

    rows = _run(engine, [raw for _, raw, _ in CODES], build)
    got = [(f, raw, row[f]) for (f, raw, _), row in zip(CODES, rows, strict=True)]
    assert got == CODES
    for (f, raw, value), row in zip(CODES, rows, strict=True):
        blank = raw is None or raw.strip() == ""
        assert row[f + "_missing"] is blank
        assert row[f + "_unknown"] is (not blank and value is None)


def test_extra_codes_win_and_are_normalised(engine: Engine) -> None:
    extra = {"1": "P", "2": "laki-laki", "x ": "L"}
    bools = {"T": False, "y": True}

    def build(raw: ir.StringValue) -> dict[str, Any]:
        b = translate_bool(raw, bools)
        return {
            "sex": translate(raw, "sex", extra).value,
            "bool": b.value,
            "unknown": b.unknown,
            "text": clean_text(raw),
        }

    # raw -> (sex with extra, bool with extra, bool unknown)
    cases: list[tuple[str | None, str | None, bool | None, bool]] = [
        ("1", "P", True, False),
        ("02", "L", False, False),
        ("X", "L", None, True),
        ("L", "L", None, True),
        ("T", None, False, False),
        ("Y", None, True, False),
        ("ya", None, True, False),
        ("Tidak", None, False, False),
        ("tidak ada", None, False, False),
        ("0", None, False, False),
        ("2.0", "L", False, False),
        ("b", None, True, False),
        ("maybe", None, None, True),
        (None, None, None, False),
        ("  dagang   sayur ", None, None, True),
    ]
    rows = _run(engine, [raw for raw, *_ in cases], build)
    assert [(raw, r["sex"], r["bool"], r["unknown"]) for (raw, *_), r in zip(cases, rows, strict=True)] == cases
    assert rows[-1]["text"] == "DAGANG SAYUR"
    assert rows[-2]["text"] is None


def test_bool_codes_written_as_text_in_the_project_file(duck: Engine) -> None:
    extra = {"HIDUP": "FALSE", "MATI": "YA"}  # as dtsen.toml writes them
    rows = _run(duck, ["hidup", "MATI", "entah"], lambda r: {"v": translate_bool(r, extra).value})
    assert [r["v"] for r in rows[:3]] == [False, True, None]


def test_t_is_ambiguous_without_extra(duck: Engine) -> None:
    rows = _run(duck, ["T", "TRUE", "F"], lambda r: {"v": translate_bool(r).value, "u": translate_bool(r).unknown})
    assert rows == [{"v": None, "u": True}, {"v": True, "u": False}, {"v": False, "u": False}]


def test_mapping_errors() -> None:
    table = ibis.table({"raw": "string"}, name="t")
    with pytest.raises(MappingError, match="occupation"):
        translate(table.raw, "occupation")
    with pytest.raises(MappingError, match="'9' -> 'X'"):
        translate(table.raw, "sex", {"1": "L", "9": "X"})
    with pytest.raises(MappingError, match="true or false"):
        translate_bool(table.raw, {"1": "mungkin"})


def test_every_synonym_targets_the_vocabulary() -> None:
    for field, table in SYNONYMS.items():
        assert set(table) <= set(VOCABULARIES[field]), field
    assert set(VOCABULARIES) >= {"sex", "relationship", "marital_status", "education", "disability"}
    assert VOCABULARIES["sex"] == schema.SEX


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.sampled_from("aB1 0.,-_/'É\u00a0"), max_size=8), min_size=1, max_size=20))
def test_python_key_matches_engine_key(duck: Engine, texts: list[str]) -> None:
    # the lookup table is keyed in Python; the engine must compute the same key from the data
    rows = _run(duck, texts, lambda r: {"key": code_key_expr(r)})
    expected = [code_key(t) if t.strip() else None for t in texts]
    assert [r["key"] or None for r in rows] == expected
