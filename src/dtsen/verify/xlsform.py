"""The field form of a ground check: an XLSForm per village, in Bahasa Indonesia.

`xlsform` writes an XLSForm workbook (sheets survey, choices, settings) that pyxform converts
to an XForm, so ODK Collect and KoboToolbox can run it. The officer:

1. enters the officer id (`petugas`, required) and the visit date (`tanggal_kunjungan`,
   required, not after today);
2. picks the family from the village's candidate list (`keluarga`, a select_one whose choices
   are the candidates: name = family_id, label "KK - nama kepala keluarga");
3. says whether the family was found (`ditemukan`: ya / tidak);
4. when found, for every welfare field F of WELFARE_FIELDS: sees the value the registry holds
   (`F_tercatat`, looked up in the choice list's extra columns:
   ``instance('keluarga')/root/item[name=${keluarga}]/F``), confirms it (`F_sesuai`: ya /
   tidak) and, when it is no longer right or the registry has none, gives the right value
   (`F`, prefilled with the registry's value the moment the family is chosen: a `calculation`
   with `trigger` ${keluarga}, which pyxform writes as an ODK setvalue action). `F_hasil` is the
   value the visit settles on: `F` when corrected, else the registry's value;
5. counts members who died (`jumlah_meninggal`, with their names in `nama_meninggal`), says
   whether the family moved away (`pindah`) and adds notes (`catatan`).

Registry data (names, KK, current values, the region's name in the title) never reaches the form
as form code: `form_text` breaks every ``${`` in it (``${PETUGAS}`` becomes ``$ {PETUGAS}``), so
pyxform cannot read a name as a reference to a question, and the workbook is written by
`dtsen.export.write_xlsx` (characters a cell cannot hold removed, no cell a formula).

The choices sheet has one list per vocabulary (named after the field, the canonical codes of
`dtsen.schema`: FLOOR, WALL, ...), `ya_tidak`, and `keluarga` with the candidates and their
current values as extra columns (booleans as ya / tidak). The settings sheet names the form
(`form_id` dtsen_kunjungan_<village code digits>) and its version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from dtsen import schema
from dtsen.errors import DtsenError
from dtsen.export import Column, Sheet, clean, write_xlsx

FieldKind = Literal["select", "bool", "integer"]
YES = "ya"
NO = "tidak"
YES_NO = "ya_tidak"
FAMILY_LIST = "keluarga"
_UPPER_WORDS = {"PLN", "AC", "BAB"}
_REFERENCE = "${"


class FormError(DtsenError):
    """The form cannot be written (no candidates for the village, a candidate without an id)."""


def form_text(value: Any) -> str:
    """Registry data as XLSForm text: control characters removed and every ``${`` broken to
    ``$ {``, so that pyxform never reads the data as a reference to a question."""
    text = clean("" if value is None else str(value))
    while _REFERENCE in text:
        text = text.replace(_REFERENCE, "$ {")
    return text


def choice_label(code: str) -> str:
    """'SUMUR_TIDAK_TERLINDUNG' -> 'Sumur tidak terlindung', 'PLN_METER' -> 'PLN meter'."""
    words = [w if w in _UPPER_WORDS else w.lower() for w in code.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class WelfareField:
    """A family field the officer confirms: its export header and question, and its answers."""

    name: str
    header: str
    kind: FieldKind
    vocabulary: tuple[str, ...] = ()

    def choice(self, value: Any) -> str:
        """The registry's value as a choice name of the form ('' when unknown)."""
        if value is None:
            return ""
        if self.kind == "bool":
            return YES if value else NO
        if self.kind == "integer":
            return str(int(value))
        return str(value)

    def display(self, value: Any) -> Any:
        """The value as the operator's list shows it."""
        if value is None:
            return None
        if self.kind == "bool":
            return "Ya" if value else "Tidak"
        if self.kind == "integer":
            return int(value)
        return choice_label(str(value))


WELFARE_FIELDS: tuple[WelfareField, ...] = (
    WelfareField("floor_type", "Jenis Lantai", "select", schema.FLOOR),
    WelfareField("wall_type", "Jenis Dinding", "select", schema.WALL),
    WelfareField("roof_type", "Jenis Atap", "select", schema.ROOF),
    WelfareField("water_source", "Sumber Air Minum", "select", schema.WATER),
    WelfareField("sanitation", "Fasilitas Buang Air Besar", "select", schema.SANITATION),
    WelfareField("lighting", "Sumber Penerangan", "select", schema.LIGHTING),
    WelfareField("electricity_va", "Daya Listrik (VA)", "integer"),
    WelfareField("cooking_fuel", "Bahan Bakar Memasak", "select", schema.COOKING_FUEL),
    WelfareField("has_motorbike", "Sepeda Motor", "bool"),
    WelfareField("has_car", "Mobil", "bool"),
    WelfareField("has_fridge", "Lemari Es", "bool"),
    WelfareField("has_ac", "AC", "bool"),
    WelfareField("has_land", "Lahan", "bool"),
    WelfareField("has_gold", "Emas/Perhiasan (10 gram atau lebih)", "bool"),
    WelfareField("livestock", "Ternak Besar (ekor)", "integer"),
)

SURVEY_COLUMNS: tuple[str, ...] = (
    "type",
    "name",
    "label",
    "hint",
    "required",
    "constraint",
    "constraint_message",
    "relevant",
    "calculation",
    "trigger",
    "appearance",
)


def form_id(village: str) -> str:
    """dtsen_kunjungan_<the village code's digits>."""
    return "dtsen_kunjungan_" + "".join(ch for ch in village if ch.isdigit())


def _row(**cells: str) -> dict[str, str]:
    unknown = set(cells) - set(SURVEY_COLUMNS)
    assert not unknown, unknown
    return cells


def _field_rows(f: WelfareField) -> list[dict[str, str]]:
    current = f"{f.name}_tercatat"
    shown = f"${{{current}}}"
    lookup = f"instance('{FAMILY_LIST}')/root/item[name=${{keluarga}}]/{f.name}"
    rows = [_row(type="calculate", name=current, calculation=lookup)]
    if f.kind != "integer":
        list_name = YES_NO if f.kind == "bool" else f.name
        rows.append(
            _row(type="calculate", name=f"{current}_label", calculation=f"jr:choice-name({shown}, '${{{f.name}}}')")
        )
        shown = f"${{{current}_label}}"
        answer = f"select_one {list_name}"
    else:
        answer = "integer"
    rows.append(
        _row(
            type=f"select_one {YES_NO}",
            name=f"{f.name}_sesuai",
            label=f"{f.header} tercatat: {shown}. Masih sesuai?",
            required="yes",
            relevant=f"${{{current}}} != ''",
        )
    )
    corrected = _row(
        type=answer,
        name=f.name,
        label=f"{f.header} yang benar",
        required="yes",
        relevant=f"${{{f.name}_sesuai}} = '{NO}' or ${{{current}}} = ''",
        calculation=lookup,  # the lookup itself, not the calculate: no reliance on recompute order
        trigger="${keluarga}",
    )
    if f.kind == "integer":
        corrected.update(constraint=". >= 0", constraint_message="Isian tidak boleh negatif")
    rows.append(corrected)
    rows.append(
        _row(
            type="calculate",
            name=f"{f.name}_hasil",
            calculation=f"if(${{{f.name}_sesuai}} = '{NO}' or ${{{current}}} = '', ${{{f.name}}}, ${{{current}}})",
        )
    )
    return rows


def survey_rows() -> list[dict[str, str]]:
    """The survey sheet of the form, row by row (the same for every village)."""
    rows = [
        _row(type="text", name="petugas", label="ID petugas", required="yes"),
        _row(
            type="date",
            name="tanggal_kunjungan",
            label="Tanggal kunjungan",
            required="yes",
            constraint=". <= today()",
            constraint_message="Tanggal kunjungan tidak boleh setelah hari ini",
        ),
        _row(
            type=f"select_one {FAMILY_LIST}",
            name="keluarga",
            label="Keluarga yang dikunjungi (Nomor KK - nama kepala keluarga)",
            required="yes",
            appearance="minimal",
        ),
        _row(type=f"select_one {YES_NO}", name="ditemukan", label="Apakah keluarga ditemukan?", required="yes"),
        _row(type="begin group", name="data_keluarga", label="Data keluarga", relevant=f"${{ditemukan}} = '{YES}'"),
    ]
    for f in WELFARE_FIELDS:
        rows += _field_rows(f)
    rows += [
        _row(
            type="integer",
            name="jumlah_meninggal",
            label="Jumlah anggota keluarga yang sudah meninggal",
            required="yes",
            constraint=". >= 0",
            constraint_message="Isian tidak boleh negatif",
        ),
        _row(
            type="text",
            name="nama_meninggal",
            label="Nama anggota keluarga yang sudah meninggal",
            relevant="${jumlah_meninggal} > 0",
            required="yes",
        ),
        _row(type="end group", name="data_keluarga"),
        _row(
            type=f"select_one {YES_NO}",
            name="pindah",
            label="Apakah keluarga sudah pindah dari desa ini?",
            required="yes",
        ),
        _row(type="text", name="catatan", label="Catatan", appearance="multiline"),
    ]
    return rows


def _family_rows(candidates: pa.Table | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    rows = candidates.to_pylist() if isinstance(candidates, pa.Table) else list(candidates)
    if not rows:
        raise FormError("no candidate families: a form needs at least one family to visit")
    missing = [i for i, r in enumerate(rows) if r.get("family_id") is None]
    if missing:
        raise FormError(f"candidate row(s) {', '.join(map(str, missing))} have no family_id")
    return rows


def choice_rows(candidates: pa.Table | Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The choices sheet: header and rows (list_name, name, label, then one column per field)."""
    header = ["list_name", "name", "label", *(f.name for f in WELFARE_FIELDS)]
    pad = [""] * len(WELFARE_FIELDS)
    rows = [[YES_NO, YES, "Ya", *pad], [YES_NO, NO, "Tidak", *pad]]
    for f in WELFARE_FIELDS:
        rows += [[f.name, code, choice_label(code), *pad] for code in f.vocabulary]
    for r in _family_rows(candidates):
        label = f"{form_text(r.get('kk')) or '(tanpa KK)'} - {form_text(r.get('head_name')) or '(tanpa nama)'}"
        values = [form_text(f.choice(r.get(f.name))) for f in WELFARE_FIELDS]
        rows.append([FAMILY_LIST, str(int(r["family_id"])), label, *values])
    return header, rows


def xlsform(
    candidates_frame: pa.Table | Sequence[Mapping[str, Any]],
    village: str,
    path: Path,
    *,
    title: str | None = None,
    form_version: str = "1",
) -> Path:
    """Write the village's XLSForm to `path` and return it.

    `candidates_frame` has one row per candidate family with family_id, kk, head_name and the
    WELFARE_FIELDS (current values; missing ones are left blank), e.g. the rows of
    `dtsen.verify.campaign.export_frame` for one village."""
    header, choices = choice_rows(candidates_frame)
    title_text = form_text(title) or f"Verifikasi lapangan DTSEN - {form_text(village)}"
    instance_name = "concat(${keluarga}, '-', ${tanggal_kunjungan})"

    def sheet(name: str, head: Sequence[str], rows: list[list[Any]]) -> Sheet:
        cells = [[None if v == "" else v for v in row] for row in rows]  # None: no cell written at all
        return Sheet(name, [Column(h) for h in head], cells, freeze=None)

    return write_xlsx(
        path,
        [
            sheet("survey", SURVEY_COLUMNS, [[r.get(c) for c in SURVEY_COLUMNS] for r in survey_rows()]),
            sheet("choices", header, [list(c) for c in choices]),
            sheet(
                "settings",
                ["form_title", "form_id", "version", "instance_name"],
                [[title_text, form_id(village), form_text(form_version), instance_name]],
            ),
        ],
    )
