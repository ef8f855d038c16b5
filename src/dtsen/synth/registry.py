"""`dukcapil`: the civil registry extract (biodata penduduk), the reference for identity.

Profile: person level, as of the run's date; ~99% of persons (the missing 1% are mostly
unregistered infants); the current KK, village and address; deaths are reported for 90% of
the persons who died (STATUS_HIDUP = MATI with TGL_KEMATIAN; the rest stay HIDUP, error code
``death_unreported``); name typos in 0.2% of rows (``name_typo``). CSV, `;`-delimited, UTF-8,
dates DD-MM-YYYY, sex 1/2, relationship and education in Dukcapil's numeric codes, the village
as four numbers without zero padding (NO_PROP, NO_KAB, NO_KEC, NO_KEL: 32, 4, 5, 2001 for
32.04.05.2001; the project file composes them), RT/RW without leading zeros.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dtsen.schema import DISABILITY, EDUCATION, MARITAL_STATUS, RELATIONSHIP
from dtsen.synth.corrupt import typo_where
from dtsen.synth.extract import Extract, SourceSpec, code_map, exactly
from dtsen.synth.population import OCCUPATIONS
from dtsen.synth.render import choose, days_text, padded, pick, plain, take
from dtsen.synth.truth import Truth, shown

REL = {
    "KEPALA_KELUARGA": "1",
    "SUAMI": "2",
    "ISTRI": "3",
    "ANAK": "4",
    "MENANTU": "5",
    "CUCU": "6",
    "ORANG_TUA": "7",
    "MERTUA": "8",
    "FAMILI_LAIN": "9",
    "LAINNYA": "11",
}
KAWIN = {"BELUM_KAWIN": "1", "KAWIN": "2", "CERAI_HIDUP": "3", "CERAI_MATI": "4"}
PDDK = {"TIDAK_SEKOLAH": "1", "SD": "3", "SMP": "4", "SMA": "5", "DIPLOMA": "7", "S1": "8", "S2": "9", "S3": "10"}
CACAT = {"TIDAK": "0", "FISIK": "1", "SENSORIK": "2", "INTELEKTUAL": "3", "MENTAL": "4", "GANDA": "5"}


def dukcapil(t: Truth, rng: np.random.Generator) -> Extract:
    p = t.per
    n = len(p.person_id)
    weight = 1.0 + 15.0 * (p.age < 2)
    k = round(0.01 * n)
    missing = np.zeros(n, bool)
    if k:
        missing[np.argpartition(rng.exponential(size=n) / weight, k - 1)[:k]] = True
    idx = np.flatnonzero(~missing)
    fam = p.family[idx]
    where = shown(t, fam, t.today)
    m = len(idx)
    dead = p.deceased[idx]
    reported = dead & (rng.random(m) < 0.9)
    name = take(p.full_name, idx)
    typos = exactly(rng, np.ones(m, bool), 0.002, minimum=1)
    name = typo_where(rng, name, typos)
    edu = code_map(EDUCATION, PDDK)[p.education[idx]]
    edu = np.where((p.education[idx] == 0) & (p.age[idx] >= 7), "2", edu)
    edu = np.where((p.education[idx] == 4) & (rng.random(m) < 0.3), "6", edu)
    columns = {
        "NIK": padded(p.nik[idx], 16),
        "NO_KK": padded(where.kk, 16),
        "NAMA_LGKP": name,
        "JENIS_KLMIN": pick(("1", "2"), p.female[idx].astype(np.int64)),
        "TMPT_LHR": take(p.birth_place, idx),
        "TGL_LHR": days_text(p.birth[idx], "DD-MM-YYYY"),
        "STAT_HBKEL": pick(code_map(RELATIONSHIP, REL), p.relationship[idx]),
        "STATUS_KAWIN": pick(code_map(MARITAL_STATUS, KAWIN), p.marital[idx]),
        "PDDK_AKH": pa.array(edu, pa.string()),
        "JENIS_PKRJN": pick(OCCUPATIONS, p.occupation[idx]),
        "PNYDNG_CCT": pick(code_map(DISABILITY, CACAT), p.disability[idx]),
        **_split_code(t, where.village),
        "ALAMAT": where.address,
        "NO_RT": plain(where.rt),
        "NO_RW": plain(where.rw),
        "STATUS_HIDUP": pick(("HIDUP", "MATI"), reported.astype(np.int64)),
        "TGL_KEMATIAN": choose(reported, days_text(np.maximum(p.death[idx], 0), "DD-MM-YYYY"), ""),
    }
    spec = SourceSpec(
        name="dukcapil",
        level="person",
        format="csv",
        as_of=t.as_of,
        delimiter=";",
        encoding="utf-8",
        description="Dukcapil biodata penduduk: the civil registry, reference for NIK, KK, name, birth date and deaths",
        columns={
            "NIK": "nik",
            "NO_KK": "kk",
            "NAMA_LGKP": "full_name",
            "JENIS_KLMIN": "sex",
            "TMPT_LHR": "birth_place",
            "TGL_LHR": "birth_date",
            "STAT_HBKEL": "relationship",
            "STATUS_KAWIN": "marital_status",
            "PDDK_AKH": "education",
            "JENIS_PKRJN": "occupation",
            "PNYDNG_CCT": "disability",
            "ALAMAT": "address",
            "NO_RT": "rt",
            "NO_RW": "rw",
            "STATUS_HIDUP": "is_deceased",
            "TGL_KEMATIAN": "death_date",
        },
        codes={
            "sex": {"1": "L", "2": "P"},
            "relationship": {**{v: k for k, v in REL.items()}, "10": "LAINNYA"},
            "marital_status": {v: k for k, v in KAWIN.items()},
            "education": {
                "1": "TIDAK_SEKOLAH",
                "2": "TIDAK_SEKOLAH",
                "3": "SD",
                "4": "SMP",
                "5": "SMA",
                "6": "DIPLOMA",
                "7": "DIPLOMA",
                "8": "S1",
                "9": "S2",
                "10": "S3",
            },
            "disability": {v: k for k, v in CACAT.items()},
            "is_deceased": {"HIDUP": "FALSE", "MATI": "TRUE"},
        },
        date_formats=["DD-MM-YYYY"],
        trust={
            "nik": 1.0,
            "kk": 1.0,
            "full_name": 0.95,
            "sex": 1.0,
            "birth_date": 1.0,
            "birth_place": 0.9,
            "relationship": 0.9,
            "marital_status": 0.8,
            "education": 0.6,
            "occupation": 0.5,
            "disability": 0.5,
            "region_code": 0.9,
            "address": 0.8,
            "rt": 0.8,
            "rw": 0.8,
            "is_deceased": 0.95,
            "death_date": 0.95,
        },
        profile=__doc__ or "",
        role="civil_registry",
        compose={"region_code": "{NO_PROP:02}.{NO_KAB:02}.{NO_KEC:02}.{NO_KEL:04}"},
    )
    ext = Extract(spec=spec, columns=columns, person=idx, family=fam, village=where.village)
    ext.flag("name_typo", typos)
    ext.flag("death_unreported", dead & ~reported)
    ext.files = ["dukcapil/biodata_penduduk.csv"]
    ext.file_index = np.zeros(m, np.int64)
    return ext


def _split_code(t: Truth, village: np.ndarray) -> dict[str, pa.Array]:
    """The village code as four columns of numbers without zero padding, as Dukcapil exports it."""
    parts = np.char.split(t.geo.village_code.astype(str), ".")
    table = np.array([[str(int(x)) for x in p] for p in parts]).reshape(-1, 4)
    return {name: pick(table[:, i], village) for i, name in enumerate(("NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL"))}
