"""`regsosek`: the 2022 socio-economic census (BPS), one Parquet file of household and member rows.

Profile: near-universal (~95% of the families that existed on the census date, November of
the year three years before the run's date), persons alive and born by then. Identity is as
enumerators wrote it down:

* ``title`` (~7% of rows where plausible): H., HJ., DRS., DRA., IR. before the name, or
  S.PD, S.E, S.H, S.KOM, S.T, A.MD after it;
* ``old_spelling`` (30% of persons born before 1960): DJ/TJ/OE/J spellings (JOESOEF);
* ``name_typo`` (~1.5%), ``nik_missing`` (~3%), ``nik_mistyped`` (~0.5%);
* ``stale_address`` / ``stale_kk``: families that moved since the census;
* ``deceased_listed``: persons (in the family file: heads) who have died since.

Dates YYYY-MM-DD, sex 1/2, the questionnaire's numeric codes for relationship, marital status,
diploma and disability; the family file has the housing and asset answers as coded in the
questionnaire (1 = Ya / 2 = Tidak for assets). Village code undotted (KD_WILAYAH) on the
household rows only. Numbers that are counts are typed integers in the Parquet file; everything
else is text. One file holds both record kinds, told apart by JENIS_RECORD: each household row
(RUTA) is followed by its member rows (ART), which share its KODE_KELUARGA (the census's own
family id) and take its village from it; the project file describes the file with `kind_column`
and `kinds`, which make the sources `regsosek_keluarga` and `regsosek_art`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.schema import (
    COOKING_FUEL,
    DISABILITY,
    EDUCATION,
    FLOOR,
    LIGHTING,
    MARITAL_STATUS,
    OWNERSHIP,
    RELATIONSHIP,
    ROOF,
    SANITATION,
    WALL,
    WATER,
)
from dtsen.synth.corrupt import mistype_digit, old_spelling, replace_masked, titles, typo_where
from dtsen.synth.extract import Extract, KindSpec, SourceSpec, code_map, exactly
from dtsen.synth.render import blank, days_text, padded, pick, take, ymd
from dtsen.synth.truth import Truth, present, shown

HUB = {
    "KEPALA_KELUARGA": "1",
    "ISTRI": "2",
    "SUAMI": "3",
    "ANAK": "4",
    "MENANTU": "5",
    "CUCU": "6",
    "ORANG_TUA": "7",
    "MERTUA": "8",
    "FAMILI_LAIN": "9",
    "LAINNYA": "10",
}
KAWIN = {"BELUM_KAWIN": "1", "KAWIN": "2", "CERAI_HIDUP": "3", "CERAI_MATI": "4"}
IJAZAH = {"TIDAK_SEKOLAH": "0", "SD": "1", "SMP": "2", "SMA": "3", "DIPLOMA": "4", "S1": "5", "S2": "6", "S3": "7"}
DISAB = {"TIDAK": "0", "FISIK": "1", "SENSORIK": "2", "INTELEKTUAL": "3", "MENTAL": "4", "GANDA": "5"}
LANTAI = {"KERAMIK": "1", "SEMEN": "2", "KAYU": "3", "BAMBU": "4", "TANAH": "5"}
DINDING = {"TEMBOK": "1", "KAYU": "2", "BAMBU": "3"}
ATAP = {"BETON": "1", "GENTENG": "2", "SENG": "3", "JERAMI": "4"}
MILIK = {"MILIK_SENDIRI": "1", "SEWA": "2", "BEBAS_SEWA": "3", "DINAS": "4", "LAINNYA": "5"}
AIR = {
    "AIR_KEMASAN": "1",
    "LEDENG": "2",
    "SUMUR_TERLINDUNG": "3",
    "SUMUR_TIDAK_TERLINDUNG": "4",
    "LAINNYA": "5",
    "SUNGAI": "6",
}
BAB = {"SENDIRI": "1", "BERSAMA": "2", "UMUM": "3", "TIDAK_ADA": "4"}
TERANG = {"PLN_METER": "1", "PLN_TANPA_METER": "2", "NON_PLN": "3", "TIDAK_ADA": "4"}
MASAK = {"LISTRIK": "1", "GAS": "2", "MINYAK_TANAH": "3", "KAYU_BAKAR": "4", "LAINNYA": "5", "TIDAK_MEMASAK": "0"}
COVERAGE = 0.95


def census_date(as_of: dt.date) -> dt.date:
    return dt.date(as_of.year - 3, 11, 15)


def regsosek(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = census_date(t.as_of)
    d = t.days(as_of)
    p, f = t.per, t.fam
    alive = present(t, d)
    counted = np.bincount(p.family, weights=alive, minlength=len(f.kk)).astype(np.int64)
    covered = (counted > 0) & (rng.random(len(f.kk)) < COVERAGE)
    family_code = padded(rng.permutation(len(f.kk)) + 10**9, 10)
    members = _persons(t, rng, as_of, d, alive & covered[p.family], family_code)
    households = _families(t, rng, as_of, d, np.flatnonzero(covered), counted, family_code)
    return one_file(households, members)


def one_file(households: Extract, members: Extract) -> Extract:
    """Both record kinds in one file, as the census delivers it: each household row (JENIS_RECORD
    RUTA) followed by its member rows (ART); a member row carries the household's KODE_KELUARGA,
    not its village (taken from the household row: `inherit`). The truth keeps each row's source
    as the kind source the project file makes of it (`regsosek_keluarga`, `regsosek_art`)."""
    nh, nm = households.n, members.n
    kind = np.concatenate([np.zeros(nh, np.int64), np.ones(nm, np.int64)])
    family = np.concatenate([households.family, members.family])
    order = np.lexsort((np.arange(nh + nm), kind, family))
    members.columns["KD_WILAYAH"] = pa.nulls(nm, pa.string())
    columns: dict[str, pa.Array] = {"JENIS_RECORD": pick(("RUTA", "ART"), kind)}
    for name in dict.fromkeys([*households.columns, *members.columns]):
        h, m = households.columns.get(name), members.columns.get(name)
        typ = (h if h is not None else m).type  # type: ignore[union-attr]
        columns[name] = pa.concat_arrays([
            h if h is not None else pa.nulls(nh, typ), m.cast(typ) if m is not None else pa.nulls(nm, typ)])
    errors = {code: np.concatenate([households.errors.get(code, np.zeros(nh, bool)),
                                    members.errors.get(code, np.zeros(nm, bool))])
              for code in dict.fromkeys([*households.errors, *members.errors])}
    hs, ms = households.spec, members.spec
    spec = SourceSpec(
        name="regsosek", level="family", format="parquet", as_of=hs.as_of,
        description="Regsosek 2022 (BPS): one file, each household row (RUTA) followed by its members (ART)",
        columns={}, profile=__doc__ or "", date_formats=ms.date_formats, kind_column="JENIS_RECORD",
        kinds={
            "keluarga": KindSpec(values=["RUTA"], level="family", columns=hs.columns, codes=hs.codes, trust=hs.trust),
            "art": KindSpec(values=["ART"], level="person", columns=ms.columns, codes=ms.codes, trust=ms.trust,
                            parent="keluarga", key="KODE_KELUARGA", inherit=["region_code"]),
        },
    )
    ext = Extract(
        spec=spec, columns=columns,
        person=np.concatenate([households.person, members.person]), family=family,
        village=np.concatenate([households.village, members.village]), errors=errors,
        row_source=np.array([hs.name, ms.name])[kind],
    ).take(order)
    ext.files, ext.file_index = ["regsosek/regsosek.parquet"], np.zeros(nh + nm, np.int64)
    return ext


def _names(t: Truth, rng: np.random.Generator, idx: np.ndarray) -> tuple[pa.StringArray, dict[str, np.ndarray]]:
    p = t.per
    m = len(idx)
    by = ymd(p.birth[idx])[0]
    name = take(p.full_name, idx)
    spelled = (by < 1960) & (rng.random(m) < 0.30)
    respelled = old_spelling(name.filter(pa.array(spelled)))
    name = replace_masked(name, spelled, respelled)
    changed = np.zeros(m, bool)
    changed[np.flatnonzero(spelled)] = np.asarray(
        pc.not_equal(respelled, take(p.full_name, idx[spelled])).to_numpy(zero_copy_only=False), dtype=bool
    )
    name, titled = titles(rng, name, p.female[idx], p.age[idx], p.education[idx], by, 0.07)
    typos = exactly(rng, np.ones(m, bool), 0.015)
    name = typo_where(rng, name, typos)
    return name, {"old_spelling": changed, "title": titled, "name_typo": typos}


def _persons(
    t: Truth, rng: np.random.Generator, as_of: dt.date, d: int, chosen: np.ndarray, family_code: pa.Array
) -> Extract:
    p, f = t.per, t.fam
    idx = np.flatnonzero(chosen)
    m = len(idx)
    fam = p.family[idx]
    where = shown(t, fam, d)
    name, errors = _names(t, rng, idx)
    missing = exactly(rng, np.ones(m, bool), 0.03)
    mistyped = exactly(rng, ~missing, 0.005)
    nik = np.where(mistyped, mistype_digit(rng, p.nik[idx]), p.nik[idx])
    rank = np.arange(m) - np.searchsorted(fam, fam, "left")
    columns: dict[str, pa.Array] = {
        "KODE_KELUARGA": take(family_code, fam),
        "NO_URUT_ART": pa.array(rank + 1, pa.int32()),
        "NIK": blank(padded(nik, 16), missing),
        "NO_KK": padded(where.kk, 16),
        "NAMA": name,
        "JENIS_KELAMIN": pick(("1", "2"), p.female[idx].astype(np.int64)),
        "TANGGAL_LAHIR": days_text(p.birth[idx], "YYYY-MM-DD"),
        "UMUR": pa.array(np.floor((d - p.birth[idx]) / 365.2425).astype(np.int32)),
        "HUBUNGAN_KK": pick(code_map(RELATIONSHIP, HUB), p.relationship[idx]),
        "STATUS_KAWIN": pick(code_map(MARITAL_STATUS, KAWIN), p.marital[idx]),
        "IJAZAH_TERTINGGI": pick(code_map(EDUCATION, IJAZAH), p.education[idx]),
        "DISABILITAS": pick(code_map(DISABILITY, DISAB), p.disability[idx]),
        "KD_WILAYAH": t.village_text(where.village, dotted=False),
    }
    spec = SourceSpec(
        name="regsosek_art",
        level="person",
        format="parquet",
        as_of=as_of,
        description="Regsosek 2022 (BPS), anggota keluarga: the socio-economic census, person file",
        columns={
            "NIK": "nik",
            "NO_KK": "kk",
            "NAMA": "full_name",
            "JENIS_KELAMIN": "sex",
            "TANGGAL_LAHIR": "birth_date",
            "HUBUNGAN_KK": "relationship",
            "STATUS_KAWIN": "marital_status",
            "IJAZAH_TERTINGGI": "education",
            "DISABILITAS": "disability",
        },
        codes={
            "sex": {"1": "L", "2": "P"},
            "relationship": {v: k for k, v in HUB.items()},
            "marital_status": {v: k for k, v in KAWIN.items()},
            "education": {v: k for k, v in IJAZAH.items()},
            "disability": {v: k for k, v in DISAB.items()},
        },
        date_formats=["YYYY-MM-DD"],
        trust={
            "nik": 0.8,
            "kk": 0.8,
            "full_name": 0.7,
            "sex": 0.9,
            "birth_date": 0.8,
            "relationship": 0.8,
            "marital_status": 0.8,
            "education": 0.9,
            "disability": 0.8,
            "region_code": 0.7,
        },
        profile=__doc__ or "",
    )
    ext = Extract(spec=spec, columns=columns, person=idx, family=fam, village=where.village)
    for code, mask in errors.items():
        ext.flag(code, mask)
    ext.flag("nik_missing", missing)
    ext.flag("nik_mistyped", mistyped)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.flag("deceased_listed", p.deceased[idx])
    ext.files, ext.file_index = ["regsosek/regsosek_art.parquet"], np.zeros(m, np.int64)
    return ext


def _families(
    t: Truth,
    rng: np.random.Generator,
    as_of: dt.date,
    d: int,
    fam: np.ndarray,
    counted: np.ndarray,
    family_code: pa.Array,
) -> Extract:
    f, w, p = t.fam, t.wel.at_census(), t.per
    m = len(fam)
    where = shown(t, fam, d)
    head = f.head[fam]
    name, errors = _names(t, rng, head)
    va = w.electricity_va[fam]
    daya = np.select([va == 450, va == 900, va == 1300, va == 2200, va > 2200], ["1", "2", "3", "4", "5"], "")

    def yn(x: np.ndarray) -> pa.StringArray:
        return pick(("2", "1"), x[fam].astype(np.int64))

    columns: dict[str, pa.Array] = {
        "KODE_KELUARGA": take(family_code, fam),
        "NO_KK": padded(where.kk, 16),
        "NIK_KEPALA_KELUARGA": padded(p.nik[head], 16),
        "NAMA_KEPALA_KELUARGA": name,
        "KD_WILAYAH": t.village_text(where.village, dotted=False),
        "ALAMAT": where.address,
        "RT": padded(where.rt, 3),
        "RW": padded(where.rw, 3),
        "JML_ART": pa.array(counted[fam].astype(np.int32)),
        "LUAS_LANTAI": pa.array(w.floor_area[fam].astype(np.int32)),
        "LANTAI": pick(code_map(FLOOR, LANTAI), w.floor[fam]),
        "DINDING": pick(code_map(WALL, DINDING), w.wall[fam]),
        "ATAP": pick(code_map(ROOF, ATAP), w.roof[fam]),
        "STATUS_BANGUNAN": pick(code_map(OWNERSHIP, MILIK), w.ownership[fam]),
        "SUMBER_AIR_MINUM": pick(code_map(WATER, AIR), w.water[fam]),
        "FASILITAS_BAB": pick(code_map(SANITATION, BAB), w.sanitation[fam]),
        "SUMBER_PENERANGAN": pick(code_map(LIGHTING, TERANG), w.lighting[fam]),
        "DAYA_TERPASANG": blank(pa.array(daya, pa.string()), va == 0),
        "BAHAN_BAKAR_MEMASAK": pick(code_map(COOKING_FUEL, MASAK), w.cooking[fam]),
        "ADA_SEPEDA_MOTOR": yn(w.motorbike),
        "ADA_MOBIL": yn(w.car),
        "ADA_LEMARI_ES": yn(w.fridge),
        "ADA_AC": yn(w.ac),
        "ADA_LAHAN": yn(w.land),
        "JML_SAPI_KERBAU": pa.array(w.livestock[fam].astype(np.int32)),
        "ADA_EMAS": yn(w.gold),
    }
    yes_no = {"1": "TRUE", "2": "FALSE"}
    spec = SourceSpec(
        name="regsosek_keluarga",
        level="family",
        format="parquet",
        as_of=as_of,
        description="Regsosek 2022 (BPS), keluarga: housing, utilities and assets per family",
        columns={
            "NO_KK": "kk",
            "NIK_KEPALA_KELUARGA": "nik",
            "NAMA_KEPALA_KELUARGA": "full_name",
            "KD_WILAYAH": "region_code",
            "ALAMAT": "address",
            "RT": "rt",
            "RW": "rw",
            "JML_ART": "household_size",
            "LUAS_LANTAI": "floor_area",
            "LANTAI": "floor_type",
            "DINDING": "wall_type",
            "ATAP": "roof_type",
            "STATUS_BANGUNAN": "ownership",
            "SUMBER_AIR_MINUM": "water_source",
            "FASILITAS_BAB": "sanitation",
            "SUMBER_PENERANGAN": "lighting",
            "DAYA_TERPASANG": "electricity_va",
            "BAHAN_BAKAR_MEMASAK": "cooking_fuel",
            "ADA_SEPEDA_MOTOR": "has_motorbike",
            "ADA_MOBIL": "has_car",
            "ADA_LEMARI_ES": "has_fridge",
            "ADA_AC": "has_ac",
            "ADA_LAHAN": "has_land",
            "JML_SAPI_KERBAU": "livestock",
            "ADA_EMAS": "has_gold",
        },
        codes={
            "floor_type": {v: k for k, v in LANTAI.items()},
            "wall_type": {v: k for k, v in DINDING.items()},
            "roof_type": {v: k for k, v in ATAP.items()},
            "ownership": {v: k for k, v in MILIK.items()},
            "water_source": {v: k for k, v in AIR.items()},
            "sanitation": {v: k for k, v in BAB.items()},
            "lighting": {v: k for k, v in TERANG.items()},
            "cooking_fuel": {v: k for k, v in MASAK.items()},
            "electricity_va": {"1": "450", "2": "900", "3": "1300", "4": "2200", "5": "3500"},
            "has_motorbike": yes_no,
            "has_car": yes_no,
            "has_fridge": yes_no,
            "has_ac": yes_no,
            "has_land": yes_no,
            "has_gold": yes_no,
        },
        trust={
            "kk": 0.8,
            "nik": 0.8,
            "full_name": 0.7,
            "region_code": 0.7,
            "address": 0.6,
            "household_size": 0.8,
            "floor_area": 0.8,
            "floor_type": 0.9,
            "wall_type": 0.9,
            "roof_type": 0.9,
            "ownership": 0.8,
            "water_source": 0.8,
            "sanitation": 0.8,
            "lighting": 0.8,
            "electricity_va": 0.6,
            "cooking_fuel": 0.8,
            "has_motorbike": 0.8,
            "has_car": 0.8,
            "has_fridge": 0.8,
            "has_ac": 0.8,
            "has_land": 0.7,
            "livestock": 0.7,
            "has_gold": 0.5,
        },
        profile=__doc__ or "",
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    for code, mask in errors.items():
        ext.flag(code, mask)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.flag("deceased_listed", p.deceased[head])
    ext.files, ext.file_index = ["regsosek/regsosek_keluarga.parquet"], np.zeros(m, np.int64)
    return ext
