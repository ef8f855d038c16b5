"""XLSForm of a village whose registry data is hostile: names, KK and current values never become
form code (``${...}`` references, formulas), and the form always converts (issue 11, item 10)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyxform.xls2xform import convert

from dtsen.export import neutralise
from dtsen.verify.xlsform import WELFARE_FIELDS, form_text, xlsform

from ..export.safety import unsafe_xlsx_cells

HOSTILE = (
    "${PETUGAS}",  # an unknown question: pyxform refused the form
    "${petugas}",  # a real question: the officer's id would have been shown in the label
    "${keluarga",  # never closed
    '=HYPERLINK("http://x","klik")',
    "=cmd|' /C calc'!A0",
    "@SUM(A1)",
    "SITI\x1bAMINAH\x00\x0b",
    "X" * 40_000,
    "محمد بن عبد الله",
    "👨\u200d👩\u200d👧 BUDI 🇮🇩",
    '<output value="/data/petugas"/>',
    "A & B < C > D",
    "jr:choice-name('x', '${keluarga}')",
)


def _rows(names: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    base = {f.name: None for f in WELFARE_FIELDS}
    return [
        {**base, "family_id": i + 1, "kk": name if i % 2 else f"32040501010{i:05d}", "head_name": name,
         "floor_type": name if i % 3 == 0 else "TANAH", "livestock": 2}
        for i, name in enumerate(names)
    ]  # fmt: skip


def test_form_text_breaks_references_and_drops_controls() -> None:
    assert form_text("${PETUGAS}") == "$ {PETUGAS}"
    assert form_text("$${x}") == "$$ {x}"
    assert form_text("a\x1bb\x00") == "ab"
    assert form_text(None) == ""


def test_hostile_names_give_a_form_that_converts(tmp_path: Path) -> None:
    path = xlsform(_rows(HOSTILE), "32.04.05.2001", tmp_path / "f.xlsx", title="Desa ${PETUGAS} =1+1")
    assert unsafe_xlsx_cells(path) == []
    xml = convert(xlsform=str(path)).xform
    instance = xml[xml.index('<instance id="keluarga">') : xml.index("</instance>", xml.index('<instance id="keluarga">'))]
    assert "<output" not in instance  # no name turned into a reference to an answer
    assert "$ {petugas}" in instance and "$ {PETUGAS}" in instance and "$ {keluarga" in instance
    assert "'=HYPERLINK(&quot;http://x&quot;,&quot;klik&quot;)" in instance or "'=HYPERLINK(\"http://x\"" in instance
    assert "SITIAMINAH" in instance and "محمد بن عبد الله" in instance and "🇮🇩" in instance
    assert "&lt;output value=" in instance and "A &amp; B &lt; C &gt; D" in instance
    assert "<h:title>Desa $ {PETUGAS} =1+1</h:title>" in xml
    assert len(re.findall(r"<item><name>\d+</name>", instance)) == len(HOSTILE)


@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java")
def test_hostile_form_passes_odk_validate(tmp_path: Path) -> None:
    path = xlsform(_rows(HOSTILE[:7]), "32.04.05.2001", tmp_path / "f.xlsx")
    convert(xlsform=str(path), validate=True, warnings=[])


NAMES = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60)


def _labels(xml: str) -> dict[str, str]:
    """family_id -> label of the candidate list in the XForm."""
    root = ElementTree.fromstring(xml)
    ns = {"x": "http://www.w3.org/2002/xforms"}
    instance = next(i for i in root.iter("{http://www.w3.org/2002/xforms}instance") if i.get("id") == "keluarga")
    return {item.findtext("x:name", namespaces=ns) or "": item.findtext("x:label", namespaces=ns) or ""
            for item in instance.iter("{http://www.w3.org/2002/xforms}item")}  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAMES, min_size=1, max_size=5))
def test_any_names_give_a_form_that_converts(tmp_path: Path, names: list[str]) -> None:
    rows = _rows(names)
    path = xlsform(rows, "32.04.05.2001", tmp_path / "f.xlsx")
    labels = _labels(convert(xlsform=str(path)).xform)
    for row in rows:
        label = f"{form_text(row['kk']) or '(tanpa KK)'} - {form_text(row['head_name']) or '(tanpa nama)'}"
        expected = neutralise(label).replace("\r\n", "\n").replace("\r", "\n")
        # the name as text, nothing else (whitespace as pyxform normalises it: no-break space, ...)
        assert _spaced(labels[str(row["family_id"])]) == _spaced(expected)


def _spaced(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
