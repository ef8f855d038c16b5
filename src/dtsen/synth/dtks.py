"""`dtks`: the old social-welfare list (Data Terpadu Kesejahteraan Sosial), stale and messy.

Profile: person level, as of one year before the run's date. Covers the poorer ~40% of
families, ranked on a noisy proxy ``ln c + N(0, 0.4²)`` (so with inclusion and exclusion
errors), with every member born by then. Errors, each recorded per row:

* ``stale_address`` / ``stale_kk``: families that moved after the DTKS date keep the old
  village, address, RT/RW and KK;
* ``deceased_listed``: members who died in the last three years were never removed; DTKS
  enrolled the households of the old and bereaved more readily (their proxy is lowered by 0.6),
  but with the truth's 0.8% mortality this is ~1.2% of rows, not more;
* ``name_typo`` (~5%, 1-2 character edits), ``dob_swapped`` (~1%: day and month exchanged,
  only where both are <= 12), ``nik_missing`` (~2%), ``nik_mistyped`` (~2%, one digit);
* under a valid NIK, with the name exact: ``birth_year_typo`` (~0.3%, the year mistyped with day
  and month kept: 21/03/2001 for 21-03-2010) and ``sex_miscoded`` (~0.3%);
* ``nik_excel_damaged`` (~1% of rows, per row: ``3.20405E+15`` or ``3204051234567890.0``),
  ``kk_excel_damaged`` (~0.5%, likewise for NOKK);
* one whole file (``nik_rounded_column``, ``kk_rounded_column``): every NIK and NOKK went
  through a 15-significant-digit float, so each ends in 0 (with carry); all its rows carry
  ``nik_excel_damaged`` / ``kk_excel_damaged``;
* ``duplicate_person`` (~1%): a second record of a person, with a name typo (70%) or without
  NIK (30%); ``duplicate_row`` (~0.5%): an exact copy of a row, right after it;
* tiny rates (at least one each): ``birth_date_invalid`` (31-02, 30-02, 31-04),
  ``birth_date_future`` (year + 100), ``age_over_120`` (year - 100), ``region_unknown``
  (a village number 9xxx that does not exist), and ``ragged_row``: in one file (not the rounded
  one) an address holds an unquoted comma, which gives the row an extra field.

CSV, Windows-1252, `,`-delimited without quoting, dates DD/MM/YYYY, sex L/P, DTKS codes for
relationship (HUB_KRT: 2 is husband or wife, 6 a parent or parent-in-law) and diploma
(IJAZAH_TERTINGGI: 7 is S2 or S3). No region codes: the province, regency, district and village
by name (PROVINSI, KABUPATEN, KECAMATAN, DESA), written as old lists write them: `KABUPATEN
BANDUNG`, `KAB. BANDUNG` or `BANDUNG`; `KEC. X` or `X`; `DS. X`, `DESA X` or `X`; village names of
9 letters or more with a small typo on ~2% of rows (``region_name_typo``, still resolvable), and
for ``region_unknown`` a village name that exists nowhere (its letters reversed).
Split into one file per province, else per regency, else per group of districts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.schema import EDUCATION, MARITAL_STATUS, RELATIONSHIP
from dtsen.synth.corrupt import (
    excel_float,
    excel_rounded,
    excel_scientific,
    mistype_digit,
    replace_masked,
    typo_where,
    year_typo,
)
from dtsen.synth.extract import Extract, SourceSpec, code_map, exactly, region_files, with_copies
from dtsen.synth.geography import names_of
from dtsen.synth.render import blank, date_text, join, padded, pick, take, ymd
from dtsen.synth.truth import Truth, shown

HUB = {
    "KEPALA_KELUARGA": "1",
    "SUAMI": "2",
    "ISTRI": "2",
    "ANAK": "3",
    "MENANTU": "4",
    "CUCU": "5",
    "ORANG_TUA": "6",
    "MERTUA": "6",
    "FAMILI_LAIN": "8",
    "LAINNYA": "8",
}
KAWIN = {"BELUM_KAWIN": "1", "KAWIN": "2", "CERAI_HIDUP": "3", "CERAI_MATI": "4"}
IJAZAH = {"TIDAK_SEKOLAH": "1", "SD": "2", "SMP": "3", "SMA": "4", "DIPLOMA": "5", "S1": "6", "S2": "7", "S3": "7"}
SHARE = 0.40


def dtks(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = t.as_of - dt.timedelta(days=365)
    d = t.days(as_of)
    p, f, w = t.per, t.fam, t.wel
    eligible = p.birth[f.head] <= d - 18 * 365
    bereaved = np.bincount(p.family, weights=p.deceased, minlength=len(f.kk)) > 0
    score = np.log(w.consumption) + rng.normal(0, 0.40, len(f.kk)) - 0.6 * bereaved
    cut = np.quantile(score[eligible], SHARE) if eligible.any() else 0.0
    chosen = eligible & (score <= cut)
    base = np.flatnonzero(chosen[p.family] & (p.birth <= d))
    order, dup = with_copies(rng, len(base), 0.01, minimum=1)
    idx = base[order]
    m = len(idx)
    fam = p.family[idx]
    where = shown(t, fam, d)
    errors: dict[str, np.ndarray] = {
        "stale_address": where.stale,
        "stale_kk": where.stale & (f.kk[fam] != where.kk),
        "deceased_listed": p.deceased[idx].copy(),
        "duplicate_person": dup,
    }
    dup_typo = dup & (rng.random(m) < 0.7)
    errors["name_typo"] = exactly(rng, ~dup, 0.05) | dup_typo
    errors["nik_missing"] = exactly(rng, ~dup, 0.02) | (dup & ~dup_typo)
    ok = ~errors["nik_missing"]
    errors["nik_mistyped"] = exactly(rng, ok, 0.02)
    excel = exactly(rng, ok, 0.01, minimum=2)
    sci = excel & (rng.random(m) < 0.5)
    errors["nik_excel_damaged"] = excel
    kk_excel = exactly(rng, np.ones(m, bool), 0.005, minimum=1)
    errors["kk_excel_damaged"] = kk_excel
    # birth dates
    y, mo, da = ymd(p.birth[idx])
    errors["dob_swapped"] = exactly(rng, (da <= 12) & (da != mo), 0.01, minimum=1, of_all=True)
    free = ~errors["dob_swapped"]
    invalid = exactly(rng, free, 0.0005, minimum=1)
    future = exactly(rng, free & ~invalid, 0.0005, minimum=1)
    old = exactly(rng, free & ~invalid & ~future, 0.0005, minimum=1)
    errors.update(birth_date_invalid=invalid, birth_date_future=future, age_over_120=old)
    bad_day = np.array([31, 30, 31])[rng.integers(0, 3, m)]
    bad_month = np.where(bad_day == 31, np.where(rng.random(m) < 0.5, 2, 4), 2)
    yy = np.where(future, np.where(y + 100 > t.as_of.year, y + 100, t.as_of.year + 1), y)
    yy = np.where(old, np.where(t.as_of.year - (y - 100) > 120, y - 100, t.as_of.year - 125), yy)
    # slips under a valid NIK, the name exact: the birth year mistyped (day and month kept), the sex
    steady = ok & ~errors["nik_mistyped"] & ~excel & ~errors["name_typo"] & free & ~invalid & ~future & ~old
    steady &= ~((mo == 2) & (da == 29))
    errors["birth_year_typo"] = exactly(rng, steady, 0.003, minimum=1)
    errors["sex_miscoded"] = exactly(rng, steady & ~errors["birth_year_typo"], 0.003, minimum=1)
    yy = np.where(errors["birth_year_typo"], year_typo(y, t.as_of.year - 1, t.as_of.year - 110), yy)
    mm = np.where(errors["dob_swapped"], da, np.where(invalid, bad_month, mo))
    dd = np.where(errors["dob_swapped"], mo, np.where(invalid, bad_day, da))
    # identifiers
    nik = np.where(errors["nik_mistyped"], mistype_digit(rng, p.nik[idx]), p.nik[idx])
    nik_text = padded(nik, 16)
    nik_text = replace_masked(nik_text, sci, excel_scientific(nik[sci]))
    nik_text = replace_masked(nik_text, excel & ~sci, excel_float(nik[excel & ~sci]))
    nik_text = blank(nik_text, errors["nik_missing"])
    kk_text = padded(where.kk, 16)
    kk_text = replace_masked(kk_text, kk_excel, excel_float(where.kk[kk_excel]))
    errors["region_unknown"] = exactly(rng, np.ones(m, bool), 0.001, minimum=1)
    regions, errors["region_name_typo"] = region_names(t, where.village, errors["region_unknown"], rng)
    name = typo_where(rng, take(p.full_name, idx), errors["name_typo"])
    columns = {
        "IDARTBDT": join(["ART", padded(np.arange(1, m + 1) + 10**8 * 3, 10)]),
        "NIK": nik_text,
        "NOKK": kk_text,
        "NAMA": name,
        "JNS_KEL": pick(("L", "P"), (p.female[idx] ^ errors["sex_miscoded"]).astype(np.int64)),
        "TMP_LAHIR": take(p.birth_place, idx),
        "TGL_LAHIR": date_text(yy, mm, dd, "DD/MM/YYYY"),
        "HUB_KRT": pick(code_map(RELATIONSHIP, HUB), p.relationship[idx]),
        "STA_KAWIN": pick(code_map(MARITAL_STATUS, KAWIN), p.marital[idx]),
        "IJAZAH_TERTINGGI": pick(code_map(EDUCATION, IJAZAH), p.education[idx]),
        "ALAMAT": where.address,
        "RT": padded(where.rt, 3),
        "RW": padded(where.rw, 3),
        **regions,
    }
    ext = Extract(spec=_spec(as_of), columns=columns, person=idx, family=fam, village=where.village)
    for code, mask in errors.items():
        ext.flag(code, mask)
    rows, copy = with_copies(rng, ext.n, 0.005, minimum=1)
    ext = ext.take(rows)
    ext.flag("duplicate_row", copy)
    ext.files, ext.file_index = region_files(t.geo.village_code, ext.village, "dtks/dtks", "csv")
    _round_one_file(ext, rng)
    return ext


def _round_one_file(ext: Extract, rng: np.random.Generator) -> None:
    """One file's NIK and NOKK columns through a 15-digit float; a ragged row in another file."""
    assert ext.file_index is not None
    n_files = len(ext.files)
    rounded_file = int(rng.integers(0, n_files))
    in_file = ext.file_index == rounded_file
    for column, code, col_code in (
        ("NIK", "nik_excel_damaged", "nik_rounded_column"),
        ("NOKK", "kk_excel_damaged", "kk_rounded_column"),
    ):
        text = ext.columns[column]
        plain16 = np.asarray(
            pc.fill_null(pc.match_substring_regex(text, "^[0-9]{16}$"), False).to_numpy(zero_copy_only=False)
        )
        target = in_file & plain16
        values = np.asarray(pc.cast(text.filter(pa.array(target)), pa.int64()).to_numpy(zero_copy_only=False))
        ext.columns[column] = replace_masked(text, target, padded(excel_rounded(values), 16))
        present = in_file & np.asarray(pc.is_valid(text).to_numpy(zero_copy_only=False))
        ext.flag(code, present)
        ext.flag(col_code, present)
    other = (ext.file_index != rounded_file) if n_files > 1 else np.ones(ext.n, bool)
    ragged = exactly(rng, other & ~ext.errors.get("duplicate_row", np.zeros(ext.n, bool)), 0.0003, minimum=1)
    ext.columns["ALAMAT"] = replace_masked(
        ext.columns["ALAMAT"], ragged, join([ext.columns["ALAMAT"].filter(pa.array(ragged)), ", BLOK C"])
    )
    ext.ragged = ragged
    ext.flag("ragged_row", ragged)


def _spec(as_of: dt.date) -> SourceSpec:
    return SourceSpec(
        name="dtks",
        level="person",
        format="csv",
        as_of=as_of,
        delimiter=",",
        encoding="cp1252",
        description="DTKS (Kemensos): the old social-welfare list of the poorer ~40% of families, a year old",
        columns={
            "NIK": "nik",
            "NOKK": "kk",
            "NAMA": "full_name",
            "JNS_KEL": "sex",
            "TMP_LAHIR": "birth_place",
            "TGL_LAHIR": "birth_date",
            "HUB_KRT": "relationship",
            "STA_KAWIN": "marital_status",
            "IJAZAH_TERTINGGI": "education",
            "ALAMAT": "address",
            "RT": "rt",
            "RW": "rw",
            "PROVINSI": "province_name",
            "KABUPATEN": "regency_name",
            "KECAMATAN": "district_name",
            "DESA": "village_name",
        },
        codes={
            "sex": {"L": "L", "P": "P"},
            # DTKS lumps husband/wife (2) and parent/parent-in-law (6); 7 is a domestic worker
            "relationship": {
                "1": "KEPALA_KELUARGA",
                "2": "ISTRI",
                "3": "ANAK",
                "4": "MENANTU",
                "5": "CUCU",
                "6": "ORANG_TUA",
                "7": "LAINNYA",
                "8": "FAMILI_LAIN",
            },
            "marital_status": {v: k for k, v in KAWIN.items()},
            # 7 = S2/S3
            "education": {
                "1": "TIDAK_SEKOLAH",
                "2": "SD",
                "3": "SMP",
                "4": "SMA",
                "5": "DIPLOMA",
                "6": "S1",
                "7": "S2",
            },
        },
        date_formats=["DD/MM/YYYY"],
        trust={
            "nik": 0.7,
            "kk": 0.6,
            "full_name": 0.6,
            "sex": 0.8,
            "birth_date": 0.6,
            "birth_place": 0.6,
            "relationship": 0.6,
            "marital_status": 0.6,
            "education": 0.5,
            "address": 0.4,
            "rt": 0.4,
            "rw": 0.4,
            "region_code": 0.5,
        },
        profile=__doc__ or "",
    )


def region_names(
    t: Truth, village: np.ndarray, unknown: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The region of each row by name, with the prefixes and variants of old lists (see the module
    doc); returns the four columns and the rows whose village name has a typo."""
    m = len(village)

    def variant(names: pa.Array, forms: tuple[str, ...], weights: tuple[float, ...]) -> pa.Array:
        which = rng.choice(len(forms), size=m, p=weights)
        parts = [pc.binary_join_element_wise(pa.array([f] * m, pa.string()), names, "") for f in forms]
        out = parts[0]
        for i in range(1, len(forms)):
            out = pc.if_else(pa.array(which == i), parts[i], out)
        return out

    province = names_of(t.geo, village, 2)
    regency = names_of(t.geo, village, 5)
    bare = pc.replace_substring_regex(regency, r"^(KABUPATEN|KOTA) ", "")
    is_kota = np.asarray(pc.starts_with(regency, "KOTA ").to_numpy(zero_copy_only=False), bool)
    short = pc.if_else(pa.array(is_kota), regency, pc.binary_join_element_wise(pa.array(["KAB. "] * m), bare, ""))
    pick_reg = rng.choice(3, size=m, p=(0.5, 0.3, 0.2))
    regency_text = pc.if_else(pa.array(pick_reg == 1), short, pc.if_else(pa.array(pick_reg == 2), bare, regency))
    district = variant(names_of(t.geo, village, 8), ("", "KEC. "), (0.7, 0.3))
    village_name = names_of(t.geo, village, 13)
    long_enough = np.asarray(pc.greater_equal(pc.utf8_length(village_name), 9).to_numpy(zero_copy_only=False), bool)
    typo = exactly(rng, long_enough & ~unknown, 0.02, of_all=True)
    village_name = typo_where(rng, village_name, typo)
    village_name = replace_masked(village_name, unknown, pc.utf8_reverse(pc.filter(village_name, pa.array(unknown))))
    village_text = variant(village_name, ("", "DS. ", "DESA "), (0.5, 0.3, 0.2))
    return {"PROVINSI": province, "KABUPATEN": regency_text, "KECAMATAN": district, "DESA": village_text}, typo
