"""`susenas`: the consumption survey (BPS Susenas, March round), with measured consumption.

Profile: family level, a random ~1% of the families (at least 30), as of 31 March of the last
March before the run's date. KAPITA is the measured consumption per person per month: the
true value times exp(N(0, 0.12²)), rounded to the rupiah (it is a measurement, not a planted
error, so no error code). Housing and assets are the survey's own answers in the Susenas KOR
codes (R18xx, R20xx; assets 1 = Ya, 5 = Tidak), which differ from Regsosek's; they agree with
the truth. CSV with `,`, UTF-8, the village code dotted.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from dtsen.schema import FLOOR, LIGHTING, ROOF, SANITATION, WALL
from dtsen.synth.extract import Extract, SourceSpec, code_map
from dtsen.synth.render import blank, padded, pick, plain, take
from dtsen.synth.truth import Truth, present, shown

LANTAI = {"KERAMIK": "2", "SEMEN": "5", "KAYU": "4", "BAMBU": "6", "TANAH": "7"}
DINDING = {"TEMBOK": "1", "KAYU": "3", "BAMBU": "4"}
ATAP = {"BETON": "1", "GENTENG": "2", "SENG": "3", "JERAMI": "7"}
BAB = {"SENDIRI": "1", "BERSAMA": "2", "UMUM": "3", "TIDAK_ADA": "5"}
TERANG = {"PLN_METER": "1", "PLN_TANPA_METER": "2", "NON_PLN": "3", "TIDAK_ADA": "4"}
# by schema order: WATER (LEDENG, SUMUR_TERLINDUNG, SUMUR_TIDAK_TERLINDUNG, AIR_KEMASAN, SUNGAI, LAINNYA)
AIR = np.array(["3", "5", "6", "2", "9", "10"])
# OWNERSHIP (MILIK_SENDIRI, SEWA, BEBAS_SEWA, DINAS, LAINNYA)
MILIK = np.array(["1", "3", "4", "5", "6"])
# COOKING_FUEL (LISTRIK, GAS, MINYAK_TANAH, KAYU_BAKAR, LAINNYA, TIDAK_MEMASAK)
MASAK = np.array(["1", "2", "6", "9", "10", "0"])


def survey_date(as_of: dt.date) -> dt.date:
    year = as_of.year if as_of >= dt.date(as_of.year, 3, 31) else as_of.year - 1
    return dt.date(year, 3, 31)


def susenas(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = survey_date(t.as_of)
    d = t.days(as_of)
    f, w, p = t.fam, t.wel, t.per
    counted = np.bincount(p.family, weights=present(t, d), minlength=len(f.kk)).astype(np.int64)
    exists = np.flatnonzero(counted > 0)
    k = min(len(exists), max(30, round(0.01 * len(f.kk))))
    fam = np.sort(rng.choice(exists, size=k, replace=False))
    m = len(fam)
    where = shown(t, fam, d)
    head = f.head[fam]
    u = rng.random(m)
    floor = pick(code_map(FLOOR, LANTAI), w.floor[fam])
    floor = pa.array(np.where((w.floor[fam] == 4) & (u < 0.1), "1", floor.to_numpy(zero_copy_only=False)))
    water = np.where((w.water[fam] == 3) & (u < 0.5), "1", AIR[w.water[fam]])
    water = np.where((w.water[fam] == 1) & (u < 0.4), "4", water)
    owner = np.where((w.ownership[fam] == 1) & (u < 0.5), "2", MILIK[w.ownership[fam]])
    cook = np.where((w.cooking[fam] == 1) & (w.consumption[fam] < np.median(w.consumption)), "3", MASAK[w.cooking[fam]])
    va = w.electricity_va[fam]
    daya = np.select([va == 450, va == 900, va == 1300, va == 2200, va > 2200], ["1", "2", "3", "4", "5"], "")
    measured = np.round(w.consumption[fam] * np.exp(rng.normal(0, 0.12, m)))

    def yn(x: np.ndarray) -> pa.StringArray:
        return pick(("5", "1"), x[fam].astype(np.int64))

    columns: dict[str, pa.Array] = {
        "URUT": plain(np.arange(1, m + 1)),
        "KODE_WILAYAH": t.village_text(where.village),
        "NO_KK": padded(where.kk, 16),
        "NIK_KRT": padded(p.nik[head], 16),
        "NAMA_KRT": take(p.full_name, head),
        "JML_ART": plain(counted[fam]),
        "R1802": pa.array(owner),
        "R1804": plain(w.floor_area[fam].astype(np.int64)),
        "R1806": floor,
        "R1807": pick(code_map(WALL, DINDING), w.wall[fam]),
        "R1808": pick(code_map(ROOF, ATAP), w.roof[fam]),
        "R1809A": pick(code_map(SANITATION, BAB), w.sanitation[fam]),
        "R1810A": pa.array(water),
        "R1816": pick(code_map(LIGHTING, TERANG), w.lighting[fam]),
        "R1816B": blank(pa.array(daya), va == 0),
        "R1817": pa.array(cook),
        "R2001B": yn(w.fridge),
        "R2001C": yn(w.ac),
        "R2001E": yn(w.gold),
        "R2001J": yn(w.motorbike),
        "R2001K": yn(w.car),
        "R2002": yn(w.land),
        "R2003": plain(w.livestock[fam]),
        "KAPITA": plain(measured.astype(np.int64)),
        "WEIND": plain(np.full(m, round(len(f.kk) * 3.6 / max(m, 1)))),
    }
    yes_no = {"1": "TRUE", "5": "FALSE"}
    spec = SourceSpec(
        name="susenas",
        level="family",
        format="csv",
        as_of=as_of,
        delimiter=",",
        encoding="utf-8",
        description="Susenas (BPS), March round: measured consumption per capita and housing of a ~1% sample",
        columns={
            "KODE_WILAYAH": "region_code",
            "NO_KK": "kk",
            "NIK_KRT": "nik",
            "NAMA_KRT": "full_name",
            "JML_ART": "household_size",
            "R1802": "ownership",
            "R1804": "floor_area",
            "R1806": "floor_type",
            "R1807": "wall_type",
            "R1808": "roof_type",
            "R1809A": "sanitation",
            "R1810A": "water_source",
            "R1816": "lighting",
            "R1816B": "electricity_va",
            "R1817": "cooking_fuel",
            "R2001B": "has_fridge",
            "R2001C": "has_ac",
            "R2001E": "has_gold",
            "R2001J": "has_motorbike",
            "R2001K": "has_car",
            "R2002": "has_land",
            "R2003": "livestock",
            "KAPITA": "consumption_per_capita",
        },
        codes={
            "ownership": {
                "1": "MILIK_SENDIRI",
                "2": "SEWA",
                "3": "SEWA",
                "4": "BEBAS_SEWA",
                "5": "DINAS",
                "6": "LAINNYA",
            },
            "floor_type": {
                "1": "KERAMIK",
                "2": "KERAMIK",
                "3": "KERAMIK",
                "4": "KAYU",
                "5": "SEMEN",
                "6": "BAMBU",
                "7": "TANAH",
            },
            "wall_type": {"1": "TEMBOK", "2": "TEMBOK", "3": "KAYU", "4": "BAMBU", "5": "KAYU", "6": "BAMBU"},
            "roof_type": {
                "1": "BETON",
                "2": "GENTENG",
                "3": "SENG",
                "4": "SENG",
                "5": "JERAMI",
                "6": "JERAMI",
                "7": "JERAMI",
            },
            "sanitation": {"1": "SENDIRI", "2": "BERSAMA", "3": "UMUM", "4": "TIDAK_ADA", "5": "TIDAK_ADA"},
            "water_source": {
                "1": "AIR_KEMASAN",
                "2": "AIR_KEMASAN",
                "3": "LEDENG",
                "4": "SUMUR_TERLINDUNG",
                "5": "SUMUR_TERLINDUNG",
                "6": "SUMUR_TIDAK_TERLINDUNG",
                "7": "LAINNYA",
                "8": "LAINNYA",
                "9": "SUNGAI",
                "10": "LAINNYA",
                "11": "LAINNYA",
            },
            "lighting": {v: k for k, v in TERANG.items()},
            "electricity_va": {"1": "450", "2": "900", "3": "1300", "4": "2200", "5": "3500"},
            "cooking_fuel": {
                "0": "TIDAK_MEMASAK",
                "1": "LISTRIK",
                "2": "GAS",
                "3": "GAS",
                "4": "GAS",
                "5": "LAINNYA",
                "6": "MINYAK_TANAH",
                "7": "LAINNYA",
                "8": "LAINNYA",
                "9": "KAYU_BAKAR",
                "10": "LAINNYA",
            },
            "has_fridge": yes_no,
            "has_ac": yes_no,
            "has_gold": yes_no,
            "has_motorbike": yes_no,
            "has_car": yes_no,
            "has_land": yes_no,
        },
        trust={
            "region_code": 0.8,
            "kk": 0.7,
            "nik": 0.7,
            "full_name": 0.7,
            "household_size": 0.9,
            "ownership": 0.9,
            "floor_area": 0.9,
            "floor_type": 0.9,
            "wall_type": 0.9,
            "roof_type": 0.9,
            "sanitation": 0.9,
            "water_source": 0.9,
            "lighting": 0.9,
            "electricity_va": 0.8,
            "cooking_fuel": 0.9,
            "has_fridge": 0.9,
            "has_ac": 0.9,
            "has_gold": 0.8,
            "has_motorbike": 0.9,
            "has_car": 0.9,
            "has_land": 0.8,
            "livestock": 0.8,
            "consumption_per_capita": 1.0,
        },
        profile=__doc__ or "",
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.files, ext.file_index = ["susenas/susenas_kor.csv"], np.zeros(m, np.int64)
    return ext
