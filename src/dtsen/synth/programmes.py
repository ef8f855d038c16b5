"""Programme lists: `p3ke` (extreme poverty), `pkh`, `bansos` (BPNT and PKH) and `bpjs` (PBI-JK members).

* `p3ke` (Kemenko PMK, P3KE): family level, one row per family with the head's NIK; the
  poorest ~12% of families on a noisy proxy, as of the end of the year two years before the
  run's date. XLSX with two sheets with the same header: "DESIL 1" (the poorest 40% of the
  list) and "DESIL 2"; the mapping sets no `sheet`, so both are read.
  ~4% of NIK cells and ~4% of KK cells are numbers, not text (Excel dropped the last digit:
  ``nik_excel_damaged`` / ``kk_excel_damaged``); ``name_typo`` ~2%; ``stale_address`` /
  ``stale_kk`` for families that moved since; ``deceased_listed`` when the head has died.
  Region names in columns, the village code undotted (KODE_DESA); YA/TIDAK for programmes.
* `pkh` (Kemensos): family level, current PKH recipients, a quarter old; XLSX, one sheet;
  the head (KRT) and the pengurus (the mother, who receives the money); ~2% of head NIK
  cells numeric (``nik_excel_damaged``); ``name_typo`` ~1%; village code dotted.
* `bansos` (Kemensos): family level, the current recipients of Sembako/BPNT and of PKH, two
  months old, one row per family and programme: a PROGRAM column says which (`BPNT`, on a fifth
  of its rows `SEMBAKO`, or `PKH`), mapped with `value_flags` (a family listed for one programme
  only is false for the other, which the file covers). CSV `;`, UTF-8 with BOM;
  ``nik_missing`` ~1%, ``name_typo`` ~1%, ``region_unknown`` ~0.2%.
* `bpjs` (BPJS Kesehatan, PBI-JK): person level, members of PBI-JK families, a month old;
  half of the members who died are still listed (``deceased_listed``); ``name_typo`` ~1%,
  ``nik_missing`` ~0.5%, ``dob_swapped`` ~0.3%; under the true NIK with the name exact,
  ``birth_year_typo`` ~0.2% (day and month kept) and ``sex_miscoded`` ~0.2%; ``kk_excel_damaged``
  ~0.4% (``3.20405E+15``, or a serial 0001-0009 rounded to 0000). Parquet, sex M/F, dates YYYYMMDD.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from dtsen.synth.corrupt import excel_rounded, excel_scientific, replace_masked, typo_where, year_typo
from dtsen.synth.extract import Extract, SourceSpec, exactly
from dtsen.synth.geography import names_of
from dtsen.synth.render import blank, choose, date_text, join, padded, pick, take, ymd
from dtsen.synth.truth import Truth, present, shown


def _numeric_cells(rng: np.random.Generator, values: np.ndarray, rate: float) -> tuple[pa.StringArray, np.ndarray]:
    """16-digit numbers as text, a share of them as Excel numbers (15 significant digits)."""
    numeric = exactly(rng, np.ones(len(values), bool), rate, minimum=1)
    text = padded(np.where(numeric, excel_rounded(values), values), 16)
    return text, numeric


def p3ke(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = dt.date(t.as_of.year - 2, 12, 31)
    d = t.days(as_of)
    f, w, p = t.fam, t.wel, t.per
    exists = np.bincount(p.family, weights=present(t, d), minlength=len(f.kk)) > 0
    score = np.log(w.consumption) + rng.normal(0, 0.30, len(f.kk))
    cut = np.quantile(score[exists], 0.12) if exists.any() else 0.0
    fam = np.flatnonzero(exists & (score <= cut))
    m = len(fam)
    rank = np.argsort(np.argsort(score[fam], kind="stable"), kind="stable")
    desil = np.where(rank < 0.4 * m, 1, 2)
    where = shown(t, fam, d)
    head = f.head[fam]
    nik, nik_num = _numeric_cells(rng, p.nik[head], 0.04)
    kk, kk_num = _numeric_cells(rng, where.kk, 0.04)
    typos = exactly(rng, np.ones(m, bool), 0.02)
    counted = np.bincount(p.family, weights=present(t, d), minlength=len(f.kk)).astype(np.int64)[fam]

    def yn(x: np.ndarray) -> pa.StringArray:
        return pick(("TIDAK", "YA"), x[fam].astype(np.int64))

    columns: dict[str, pa.Array] = {
        "ID_KELUARGA_P3KE": join(["P3KE", padded(np.arange(1, m + 1) + 7 * 10**8, 9)]),
        "PROVINSI": names_of(t.geo, where.village, 2),
        "KABUPATEN_KOTA": names_of(t.geo, where.village, 5),
        "KECAMATAN": names_of(t.geo, where.village, 8),
        "DESA_KELURAHAN": names_of(t.geo, where.village, 13),
        "KODE_DESA": t.village_text(where.village, dotted=False),
        "NO_KK": kk,
        "NIK_KEPALA_KELUARGA": nik,
        "NAMA_KEPALA_KELUARGA": typo_where(rng, take(p.full_name, head), typos),
        "ALAMAT": where.address,
        "JUMLAH_ANGGOTA_KELUARGA": pa.array(counted).cast(pa.string()),
        "DESIL_KESEJAHTERAAN": pick(("0", "1", "2"), desil),
        "PENERIMA_PKH": yn(w.pkh),
        "PENERIMA_BPNT": yn(w.bpnt),
        "PENERIMA_PBI_JK": yn(w.pbi_jk),
    }
    spec = SourceSpec(
        name="p3ke",
        level="family",
        format="xlsx",
        as_of=as_of,
        description="P3KE (Kemenko PMK): families in extreme poverty, desil 1-2, one row per family with the head",
        columns={
            "NO_KK": "kk",
            "NIK_KEPALA_KELUARGA": "nik",
            "NAMA_KEPALA_KELUARGA": "full_name",
            "KODE_DESA": "region_code",
            "DESA_KELURAHAN": "village_name",
            "ALAMAT": "address",
            "JUMLAH_ANGGOTA_KELUARGA": "household_size",
            "PENERIMA_PKH": "pkh",
            "PENERIMA_BPNT": "bpnt",
            "PENERIMA_PBI_JK": "pbi_jk",
        },
        trust={
            "kk": 0.7,
            "nik": 0.7,
            "full_name": 0.6,
            "region_code": 0.6,
            "address": 0.5,
            "household_size": 0.6,
            "pkh": 0.5,
            "bpnt": 0.5,
            "pbi_jk": 0.5,
        },
        profile=_profile("p3ke"),
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    ext.numeric = {"NIK_KEPALA_KELUARGA": nik_num, "NO_KK": kk_num}
    ext.flag("nik_excel_damaged", nik_num)
    ext.flag("kk_excel_damaged", kk_num)
    ext.flag("name_typo", typos)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.flag("deceased_listed", p.deceased[head])
    ext.files, ext.file_index = ["p3ke/p3ke_keluarga.xlsx"], np.zeros(m, np.int64)
    ext.sheets, ext.sheet_index = ["DESIL 1", "DESIL 2"], (desil - 1).astype(np.int64)
    return ext


def pkh(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = t.as_of - dt.timedelta(days=90)
    d = t.days(as_of)
    f, w, p = t.fam, t.wel, t.per
    fam = np.flatnonzero(w.pkh)
    m = len(fam)
    where = shown(t, fam, d)
    head = f.head[fam]
    wife = np.flatnonzero((p.role == 1) & p.female)
    carer_of = f.head.copy()
    carer_of[p.family[wife]] = wife
    carer = carer_of[fam]
    nik, nik_num = _numeric_cells(rng, p.nik[head], 0.02)
    typos = exactly(rng, np.ones(m, bool), 0.01)
    tahap = f"TAHAP {(as_of.month - 1) // 3 + 1} {as_of.year}"
    columns: dict[str, pa.Array] = {
        "NO_KK": padded(where.kk, 16),
        "NIK_KRT": nik,
        "NAMA_KRT": typo_where(rng, take(p.full_name, head), typos),
        "NIK_PENGURUS": padded(p.nik[carer], 16),
        "NAMA_PENGURUS": take(p.full_name, carer),
        "KODE_WILAYAH": t.village_text(where.village),
        "ALAMAT": where.address,
        "PKH": pick(("Y",), np.zeros(m, np.int64)),
        "TAHAP_SALUR": pick((tahap,), np.zeros(m, np.int64)),
    }
    spec = SourceSpec(
        name="pkh",
        level="family",
        format="xlsx",
        as_of=as_of,
        description="PKH (Kemensos): families receiving Program Keluarga Harapan this quarter",
        columns={
            "NO_KK": "kk",
            "NIK_KRT": "nik",
            "NAMA_KRT": "full_name",
            "KODE_WILAYAH": "region_code",
            "ALAMAT": "address",
            "PKH": "pkh",
        },
        trust={"kk": 0.8, "nik": 0.8, "full_name": 0.7, "region_code": 0.7, "address": 0.6, "pkh": 1.0},
        profile=_profile("pkh"),
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    ext.numeric = {"NIK_KRT": nik_num}
    ext.flag("nik_excel_damaged", nik_num)
    ext.flag("name_typo", typos)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.flag("deceased_listed", p.deceased[head])
    ext.files, ext.file_index = ["pkh/penerima_pkh.xlsx"], np.zeros(m, np.int64)
    ext.sheets, ext.sheet_index = ["Sheet1"], np.zeros(m, np.int64)
    return ext


def bansos(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = t.as_of - dt.timedelta(days=60)
    d = t.days(as_of)
    f, w, p = t.fam, t.wel, t.per
    # one row per family and programme: the BPNT recipients, then the PKH recipients, by family
    bpnt, pkh = np.flatnonzero(w.bpnt), np.flatnonzero(w.pkh)
    fam = np.concatenate([bpnt, pkh])
    programme = np.concatenate([np.zeros(len(bpnt), np.int64), np.ones(len(pkh), np.int64)])
    order = np.lexsort((programme, fam))
    fam, programme = fam[order], programme[order]
    m = len(fam)
    where = shown(t, fam, d)
    head = f.head[fam]
    missing = exactly(rng, np.ones(m, bool), 0.01)
    typos = exactly(rng, np.ones(m, bool), 0.01)
    unknown = exactly(rng, np.ones(m, bool), 0.002, minimum=1)
    region = t.village_text(where.village, dotted=False)
    fake = join(
        [
            pick(np.char.replace(t.geo.district_code, ".", ""), t.geo.village_district[where.village]),
            padded(9001 + rng.integers(0, 999, m), 4),
        ]
    )
    # BPNT is also written SEMBAKO (its newer name) on a fifth of its rows
    label = np.where(programme == 1, 2, np.where(rng.random(m) < 0.2, 1, 0))
    columns: dict[str, pa.Array] = {
        "NOMOR_KK": padded(where.kk, 16),
        "NIK_KRT": blank(padded(p.nik[head], 16), missing),
        "NAMA_KRT": typo_where(rng, take(p.full_name, head), typos),
        "KODE_DESA": choose(unknown, fake, region),
        "ALAMAT": where.address,
        "PROGRAM": pick(("BPNT", "SEMBAKO", "PKH"), label),
        "BULAN_SALUR": pick((f"{as_of.year}-{as_of.month:02d}",), np.zeros(m, np.int64)),
    }
    spec = SourceSpec(
        name="bansos",
        level="family",
        role="programme",
        format="csv",
        as_of=as_of,
        delimiter=";",
        encoding="utf-8-sig",
        description="Penerima bansos (Kemensos): families receiving PKH or Sembako/BPNT, one row per programme",
        columns={
            "NOMOR_KK": "kk",
            "NIK_KRT": "nik",
            "NAMA_KRT": "full_name",
            "KODE_DESA": "region_code",
            "ALAMAT": "address",
        },
        value_flags={"PROGRAM": {"PKH": "pkh", "BPNT": "bpnt", "SEMBAKO": "bpnt"}},
        trust={"kk": 0.8, "nik": 0.8, "full_name": 0.7, "region_code": 0.6, "address": 0.6, "pkh": 1.0, "bpnt": 1.0},
        profile=_profile("bansos"),
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    ext.flag("nik_missing", missing)
    ext.flag("name_typo", typos)
    ext.flag("region_unknown", unknown)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.flag("deceased_listed", p.deceased[head])
    ext.files, ext.file_index = ["bansos/penerima_bansos.csv"], np.zeros(m, np.int64)
    return ext


def bpjs(t: Truth, rng: np.random.Generator) -> Extract:
    as_of = t.as_of - dt.timedelta(days=31)
    d = t.days(as_of)
    f, w, p = t.fam, t.wel, t.per
    n = len(p.person_id)
    member = w.pbi_jk[p.family] & (p.birth <= d)
    listed = member & (present(t, d) | (p.deceased & (rng.random(n) < 0.5)))
    idx = np.flatnonzero(listed)
    m = len(idx)
    fam = p.family[idx]
    where = shown(t, fam, d)
    typos = exactly(rng, np.ones(m, bool), 0.01)
    missing = exactly(rng, np.ones(m, bool), 0.005)
    y, mo, da = ymd(p.birth[idx])
    swapped = exactly(rng, (da <= 12) & (da != mo), 0.003, of_all=True)
    # under a valid NIK, the name exact (issue 12): a mistyped birth year, a miscoded sex
    steady = ~typos & ~missing & ~swapped & ~((mo == 2) & (da == 29))
    year_slip = exactly(rng, steady, 0.002, minimum=1)
    sex_slip = exactly(rng, steady & ~year_slip, 0.002, minimum=1)
    y = np.where(year_slip, year_typo(y, t.as_of.year - 1, t.as_of.year - 110), y)
    # a KK that went through Excel: scientific notation, or a serial 0001-0009 rounded to 0000
    kk_excel = exactly(rng, np.ones(m, bool), 0.004, minimum=2)
    kk_text = padded(where.kk, 16)
    low_serial = (where.kk % 10_000) < 10
    rounded = kk_excel & low_serial
    kk_text = replace_masked(kk_text, kk_excel & ~rounded, excel_scientific(where.kk[kk_excel & ~rounded]))
    kk_text = replace_masked(kk_text, rounded, padded(excel_rounded(where.kk[rounded]), 16))
    columns: dict[str, pa.Array] = {
        "NOKA": padded(rng.permutation(m) + 10**12 // 7, 13),
        "NIK": blank(padded(p.nik[idx], 16), missing),
        "NO_KK": kk_text,
        "NAMA_PESERTA": typo_where(rng, take(p.full_name, idx), typos),
        "TGL_LAHIR": date_text(y, np.where(swapped, da, mo), np.where(swapped, mo, da), "YYYYMMDD"),
        "JENIS_KELAMIN": pick(("M", "F"), (p.female[idx] ^ sex_slip).astype(np.int64)),
        "SEGMEN": pick(("PBI APBN", "PBI APBD"), (rng.random(m) < 0.15).astype(np.int64)),
        "STATUS_PESERTA": pick(("AKTIF",), np.zeros(m, np.int64)),
    }
    spec = SourceSpec(
        name="bpjs",
        level="person",
        format="parquet",
        as_of=as_of,
        description="BPJS Kesehatan: PBI-JK members (health insurance premiums paid by the state)",
        columns={
            "NIK": "nik",
            "NO_KK": "kk",
            "NAMA_PESERTA": "full_name",
            "TGL_LAHIR": "birth_date",
            "JENIS_KELAMIN": "sex",
        },
        codes={"sex": {"M": "L", "F": "P"}},
        date_formats=["YYYYMMDD"],
        trust={"nik": 0.85, "kk": 0.7, "full_name": 0.7, "birth_date": 0.8, "sex": 0.9},
        profile=_profile("bpjs"),
    )
    ext = Extract(spec=spec, columns=columns, person=idx, family=fam, village=where.village)
    ext.flag("name_typo", typos)
    ext.flag("nik_missing", missing)
    ext.flag("dob_swapped", swapped)
    ext.flag("birth_year_typo", year_slip)
    ext.flag("sex_miscoded", sex_slip)
    ext.flag("kk_excel_damaged", kk_excel)
    ext.flag("deceased_listed", p.deceased[idx])
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.files, ext.file_index = ["bpjs/peserta_pbi_jk.parquet"], np.zeros(m, np.int64)
    return ext


def _profile(name: str) -> str:
    """The bullet of the module docstring about one source."""
    text = __doc__ or ""
    start = text.find(f"* `{name}`")
    end = text.find("\n* `", start + 1)
    return text[start : end if end > 0 else None].strip()
