"""The candidate draw (capacity, random share, determinism, engines) and the village exports."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from pyxform.xls2xform import convert

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.release.settings import VerifySettings
from dtsen.verify.campaign import (
    CANDIDATE_COLUMNS,
    FORM_XLSX,
    LIST_CSV,
    LIST_SHEET,
    LIST_XLSX,
    draw_candidates,
    random_visits,
    signal_words,
    write_village_exports,
)
from dtsen.verify.risk import risk_signals
from dtsen.verify.xlsform import WELFARE_FIELDS, form_id, xlsform

from .test_risk import make_tables

# village A: 8 families with varied scores (one tie, two without any signal); village B: 2
SCORES = {
    "32.01.01.2001": {1: 3.0, 2: 0.0, 3: 4.5, 4: 1.0, 5: 3.0, 6: 2.0, 7: 0.0, 8: 1.5},
    "32.01.01.2002": {11: 0.0, 12: 2.5},
}


def _signals() -> pa.Table:
    rows = [
        {
            "family_id": fid,
            "region_code": village,
            "kk": f"32010101{fid:08d}",
            "decile": 3,
            "persons": 4,
            "score": score,
            "signals": "conflict" if score else "",
        }
        for village, scores in SCORES.items()
        for fid, score in scores.items()
    ]
    schema = pa.schema(
        [
            ("family_id", pa.int64()),
            ("region_code", pa.string()),
            ("kk", pa.string()),
            ("decile", pa.int64()),
            ("persons", pa.int64()),
            ("score", pa.float64()),
            ("signals", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema)


def _expected(capacity: int, share: float, seed: int) -> dict[int, tuple[str, int]]:
    """An independent oracle: the MD5 order in Python, then the scores."""
    n_random = random_visits(capacity, share)
    out: dict[int, tuple[str, int]] = {}
    for scores in SCORES.values():
        by_hash = sorted(scores, key=lambda f: (hashlib.md5(f"{seed}:{f}".encode()).hexdigest(), f))
        drawn = {f: "random" for f in by_hash[:n_random]}
        rest = sorted((f for f in scores if f not in drawn and scores[f] > 0), key=lambda f: (-scores[f], f))
        drawn |= {f: "risk" for f in rest[: capacity - n_random]}
        ordered = sorted(drawn, key=lambda f: (-scores[f], f))
        out |= {f: (drawn[f], i + 1) for i, f in enumerate(ordered)}
    return out


def _draw(engine: Engine, settings: VerifySettings) -> dict[int, tuple[str, int]]:
    table = engine.con.to_pyarrow(draw_candidates(engine, engine.from_arrow(_signals()), settings))
    assert tuple(table.column_names) == CANDIDATE_COLUMNS
    return {r["family_id"]: (r["selection"], r["priority"]) for r in table.to_pylist()}


def test_random_share_rounds_half_up() -> None:
    assert [random_visits(5, s) for s in (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)] == [0, 1, 1, 2, 3, 5]
    assert random_visits(4, 0.125) == 1  # 0.5 rounds up, not to the even 0


def test_draw_is_exact_and_the_same_on_every_engine(engine: Engine) -> None:
    settings = VerifySettings(visits_per_village=4, random_share=0.25, seed=7)
    got = _draw(engine, settings)
    assert got == _expected(4, 0.25, 7)
    village_a = {f: v for f, v in got.items() if f < 10}
    assert len(village_a) == 4 and sum(1 for s, _ in village_a.values() if s == "random") == 1
    assert sorted(p for _, p in village_a.values()) == [1, 2, 3, 4]
    # village B: 2 families, capacity 4: its one random draw and, when not drawn, 12 (score 2.5)
    village_b = {f: v for f, v in got.items() if f > 10}
    assert 12 in village_b and len(village_b) == (1 if 11 not in village_b else 2)
    # the risk visits of village A are the best scores left after the random draw
    random_a = next(f for f, (s, _) in village_a.items() if s == "random")
    best = sorted((f for f in SCORES["32.01.01.2001"] if f != random_a), key=lambda f: -SCORES["32.01.01.2001"][f])
    assert {f for f, (s, _) in village_a.items() if s == "risk"} == set(best[:3])


def test_draw_depends_on_the_seed_and_nothing_else(duck: Engine) -> None:
    a = _draw(duck, VerifySettings(visits_per_village=3, random_share=1.0, seed=1))
    assert a == _draw(duck, VerifySettings(visits_per_village=3, random_share=1.0, seed=1))
    assert all(s == "random" for s, _ in a.values())
    seeds = {
        tuple(sorted(_draw(duck, VerifySettings(visits_per_village=3, random_share=1.0, seed=s)))) for s in range(6)
    }
    assert len(seeds) > 1
    risk_only = _draw(duck, VerifySettings(visits_per_village=10, random_share=0.0, seed=1))
    # no random share: every family with a signal and no other
    assert set(risk_only) == {f for sc in SCORES.values() for f, v in sc.items() if v > 0}
    assert _draw(duck, VerifySettings(visits_per_village=0, random_share=0.5)) == {}


def test_signal_words_are_indonesian_and_ordered() -> None:
    assert signal_words("stale;conflict") == "data antarsumber berbeda; data sudah lama tidak diperbarui"
    assert signal_words("") == ""


@pytest.fixture
def exported(duck: Engine, tmp_path: Path) -> tuple[list[Path], Path]:
    tables = make_tables(duck)
    settings = Settings()
    signals = risk_signals(duck, tables, settings)
    candidates = draw_candidates(duck, signals, VerifySettings(visits_per_village=3, random_share=0.34, seed=3))
    out = tmp_path / "kunjungan"
    return write_village_exports(duck, candidates, tables, out, settings), out


def test_exports_are_laid_out_per_village_with_indonesian_headers(exported: tuple[list[Path], Path]) -> None:
    files, out = exported
    villages = ("32.04.05.2001", "32.04.05.2002")
    expected = [out / "32.04" / "32.04.05" / v / name for v in villages for name in (LIST_CSV, LIST_XLSX, FORM_XLSX)]
    assert files == expected and all(f.is_file() for f in files)

    raw = files[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    header = rows[0]
    assert header[:5] == ["Prioritas", "Dasar Pemilihan", "ID Keluarga", "Nomor KK", "Nama Kepala Keluarga"]
    assert "Jenis Lantai" in header and "Alasan Pemeriksaan" in header and "Bahan Bakar Memasak" in header
    assert len(rows) == 4  # three visits in village 2001
    first = dict(zip(header, rows[1], strict=True))
    assert first["Prioritas"] == "1"
    assert first["Nomor KK"].startswith('="3204050101') and first["RT"] == '="003"'
    assert first["Dasar Pemilihan"] in ("Risiko", "Acak")

    wb = openpyxl.load_workbook(files[1])
    assert wb.sheetnames == [LIST_SHEET]
    ws = wb[LIST_SHEET]
    assert [c.value for c in ws[1]][:4] == ["Prioritas", "Dasar Pemilihan", "ID Keluarga", "Nomor KK"]
    assert all(c.font.bold for c in ws[1])
    kk = ws.cell(row=2, column=4)
    assert kk.data_type == "s" and isinstance(kk.value, str) and len(kk.value) == 16
    assert ws.max_row == 4


def test_the_village_form_converts_and_lists_its_families(exported: tuple[list[Path], Path]) -> None:
    files, _ = exported
    rows = list(csv.reader(files[0].read_text(encoding="utf-8-sig").splitlines()))
    ids = [r[2] for r in rows[1:]]
    xml = convert(xlsform=str(files[2])).xform
    for fid in ids:
        assert f"<name>{fid}</name>" in xml
    assert form_id("32.04.05.2001") in xml


def _frame() -> list[dict[str, object]]:
    base = {f.name: None for f in WELFARE_FIELDS}
    return [
        {
            **base,
            "family_id": 7,
            "kk": "3204050101000007",
            "head_name": "SITI AMINAH",
            "floor_type": "TANAH",
            "has_car": False,
            "has_fridge": True,
            "electricity_va": 450,
            "cooking_fuel": "KAYU_BAKAR",
        },
        {
            **base,
            "family_id": 9,
            "kk": "3204050101000009",
            "head_name": "BUDI",
            "floor_type": "KERAMIK",
            "wall_type": "TEMBOK",
            "livestock": 2,
        },
    ]


def test_xlsform_prefills_the_current_values(tmp_path: Path) -> None:
    path = xlsform(_frame(), "32.04.05.2001", tmp_path / "f.xlsx", form_version="20250630")
    xml = convert(xlsform=str(path), pretty_print=True).xform
    assert "3204050101000007 - SITI AMINAH" in xml and "3204050101000009 - BUDI" in xml
    # the current values travel with each family in the choice list
    assert "<floor_type>TANAH</floor_type>" in xml and "<floor_type>KERAMIK</floor_type>" in xml
    assert "<cooking_fuel>KAYU_BAKAR</cooking_fuel>" in xml and "<electricity_va>450</electricity_va>" in xml
    assert "<has_car>tidak</has_car>" in xml and "<has_fridge>ya</has_fridge>" in xml
    assert "<livestock>2</livestock>" in xml
    # and are set into the answers when the family is chosen
    assert 'event="xforms-value-changed"' in xml
    assert "instance('keluarga')/root/item[name= /data/keluarga ]/floor_type" in xml
    assert 'version="20250630"' in xml
    assert "today()" in xml  # the visit date cannot lie in the future
    for code in ("TANAH", "BAMBU", "KAYU", "SEMEN", "KERAMIK", "KAYU_BAKAR", "SUMUR_TIDAK_TERLINDUNG"):
        assert f"<name>{code}</name>" in xml


@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java")
def test_xlsform_passes_odk_validate(tmp_path: Path) -> None:
    # ODK Validate ships with pyxform and runs offline (about 2 s)
    path = xlsform(_frame(), "32.04.05.2001", tmp_path / "f.xlsx")
    warnings: list[str] = []
    convert(xlsform=str(path), validate=True, warnings=warnings)
