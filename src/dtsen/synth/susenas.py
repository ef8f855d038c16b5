"""`susenas`: the consumption survey (BPS Susenas, March round), with measured consumption.

Profile: family level, a ~1% sample of the families (at least 30 expected), as of 31 March of
the last March before the run's date. The sample is drawn with unequal probabilities, as a real
stratified survey is: a rural family is 1.5 times as likely to be drawn as an urban one, and a
family in the poorer stratum (the lowest 40% of the programmes' old proxy, the frame's own
welfare ranking) 3 times as likely; each family is drawn independently with its probability
(Poisson sampling, so the size varies a little around 1%). WEIND is the sampling weight, the
inverse of that probability (the families the survey family stands for): an unweighted
estimate over-represents rural and poor families and overstates poverty; the weighted one does
not. KAPITA is the measured consumption per person per month: the true value times
exp(N(0, 0.05²)), rounded to the rupiah (a careful diary measurement, not a planted error, so
no error code; small, so that headcounts estimated from the survey can be scored against the
true consumption). The head of the household (KRT) is stated as BPS writes it: JK_KRT
(1 laki-laki, 2 perempuan), UMUR_KRT (completed years on the survey date) and PENDIDIKAN_KRT
(the highest certificate in the Susenas KOR codes, 1 none ... 17 S3: a code list in the project
file); the project maps them to `reported_head_*`, which the PMT's head predictors fall back on
where the registry does not know the head. Housing and assets are in the file too, the survey's
own answers in the Susenas KOR codes (R18xx, R20xx; assets 1 = Ya, 5 = Tidak), as the truth is
now; the project maps only the survey's identity, consumption, weight and head. The PMT must learn from the
predictors the registry holds for every family (census, PLN, Dukcapil): were the survey's own
dwelling answers to describe its families, the model would be trained and cross-validated on
better data than it ranks the registry with, and would look better, and be calibrated
differently, than it is. CSV with `,`, UTF-8, the village code dotted.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from dtsen.schema import EDUCATION, FLOOR, LIGHTING, ROOF, SANITATION, WALL
from dtsen.synth.extract import Extract, SourceSpec, code_map
from dtsen.synth.render import blank, padded, pick, plain, take, ymd
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
# the highest certificate (Susenas KOR, ijazah tertinggi): the code written per EDUCATION value,
# and the whole list the project maps (Paket A-C and SDLB/SMPLB/SMLB as their level, SMK as SMA)
IJAZAH = {"TIDAK_SEKOLAH": "1", "SD": "4", "SMP": "7", "SMA": "10", "DIPLOMA": "13", "S1": "14", "S2": "16",
          "S3": "17"}
IJAZAH_CODES = {"1": "TIDAK_SEKOLAH", "2": "SD", "3": "SD", "4": "SD", "5": "SMP", "6": "SMP", "7": "SMP",
                "8": "SMA", "9": "SMA", "10": "SMA", "11": "SMA", "12": "DIPLOMA", "13": "DIPLOMA", "14": "S1",
                "15": "S1", "16": "S2", "17": "S3"}


RURAL_FACTOR = 1.5
POOR_FACTOR = 3.0
POOR_STRATUM = 0.40
MEASUREMENT_SD = 0.05


def selection_probabilities(proxy: np.ndarray, urban: np.ndarray, k: int) -> np.ndarray:
    """Each family's probability of being drawn: proportional to 1.5 if rural and 3 if in the
    poorer stratum (proxy in its lowest 40%), scaled so that they add up to `k`, none above 1."""
    n = len(proxy)
    if n == 0:
        return np.zeros(0)
    cut = np.quantile(proxy, POOR_STRATUM)
    size = np.where(urban, 1.0, RURAL_FACTOR) * np.where(proxy <= cut, POOR_FACTOR, 1.0)
    prob = np.zeros(n)
    capped = np.zeros(n, bool)
    for _ in range(20):  # families whose probability would pass 1 are taken for sure; rescale the rest
        free = ~capped
        rest = k - capped.sum()
        prob = np.where(capped, 1.0, size * rest / max(size[free].sum(), 1e-12))
        over = free & (prob >= 1.0)
        if not over.any():
            break
        capped |= over
    return np.minimum(prob, 1.0)


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
    prob = selection_probabilities(w.proxy[exists], f.urban[exists], k)
    chosen = rng.random(len(exists)) < prob
    fam = exists[chosen]
    weight = 1.0 / prob[chosen]
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
    measured = np.round(w.consumption[fam] * np.exp(rng.normal(0, MEASUREMENT_SD, m)))

    by, bm, bd = ymd(p.birth[head])
    head_age = as_of.year - by - ((bm * 100 + bd) > (as_of.month * 100 + as_of.day)).astype(np.int64)

    def yn(x: np.ndarray) -> pa.StringArray:
        return pick(("5", "1"), x[fam].astype(np.int64))

    columns: dict[str, pa.Array] = {
        "URUT": plain(np.arange(1, m + 1)),
        "KODE_WILAYAH": t.village_text(where.village),
        "NO_KK": padded(where.kk, 16),
        "NIK_KRT": padded(p.nik[head], 16),
        "NAMA_KRT": take(p.full_name, head),
        "JML_ART": plain(counted[fam]),
        "JK_KRT": pick(("1", "2"), p.female[head].astype(np.int64)),
        "UMUR_KRT": plain(head_age),
        "PENDIDIKAN_KRT": pick(code_map(EDUCATION, IJAZAH), p.education[head]),
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
        "WEIND": plain(np.maximum(np.round(weight), 1).astype(np.int64)),
    }
    spec = SourceSpec(
        name="susenas",
        level="family",
        format="csv",
        as_of=as_of,
        delimiter=",",
        encoding="utf-8",
        description="Susenas (BPS), March round: measured consumption per capita of a ~1% sample, with its weights",
        columns={
            "KODE_WILAYAH": "region_code",
            "NO_KK": "kk",
            "NIK_KRT": "nik",
            "NAMA_KRT": "full_name",
            "JML_ART": "household_size",
            "KAPITA": "consumption_per_capita",
            "WEIND": "survey_weight",
            "JK_KRT": "reported_head_sex",
            "UMUR_KRT": "reported_head_age",
            "PENDIDIKAN_KRT": "reported_head_education",
        },
        codes={"reported_head_education": IJAZAH_CODES},
        trust={
            "region_code": 0.8,
            "kk": 0.7,
            "nik": 0.7,
            "full_name": 0.7,
            "household_size": 0.9,
            "consumption_per_capita": 1.0,
            "survey_weight": 1.0,
            "reported_head_sex": 0.9,
            "reported_head_age": 0.9,
            "reported_head_education": 0.9,
        },
        profile=__doc__ or "",
    )
    ext = Extract(spec=spec, columns=columns, person=np.full(m, -1, np.int64), family=fam, village=where.village)
    ext.flag("stale_address", where.stale)
    ext.flag("stale_kk", where.stale & (f.kk[fam] != where.kk))
    ext.files, ext.file_index = ["susenas/susenas_kor.csv"], np.zeros(m, np.int64)
    return ext
