"""The true population: families (KK) in villages and their members, all vectorised.

Family kinds and their shares (mean size ~3.6, close to Indonesia's ~3.6 persons per KK):

| kind          | share | members                                                        |
|---------------|------:|----------------------------------------------------------------|
| single        |  8%   | head only (young adults, and elderly mostly widowed women)     |
| couple        | 12%   | head + spouse (young couples, empty nesters)                   |
| nuclear       | 56%   | head + spouse + 1 + Poisson(1.45) children                     |
| single parent |  9%   | head (75% women) + 1 + Poisson(1.0) children                   |
| extended up   |  7%   | head + spouse + Poisson(1.7) children + 1-2 parents/in-laws    |
| extended down |  8%   | older head (+ spouse) + children + a menantu + grandchildren  |

About 4% of nuclear and extended families also hold another relative (FAMILI_LAIN). Ages are
drawn so that relationships hold: children are born to a mother aged 19-29 at first birth with
2-5 year spacing; parents are 20-34 years older than the person they belong to; grandchildren
are younger than their parent by at least 19 years. Half of the children over 30 left home.

NIK = district of first registration (the current one, except ~10%: families that moved, or
people registered elsewhere before) + DDMMYY (day + 40 for women) + a serial unique within the
12-digit prefix. KK = current district + issue date DDMMYY + a serial unique within its prefix;
a family that moved in the last three years (~4%) got a new KK there, and its previous KK,
village and address are kept (stale sources still carry them). About 0.8% of persons died in
the last three years (mostly the elderly); they stay in the truth with their death date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.schema import RELATIONSHIP
from dtsen.synth.geography import _HEAD, _TAIL, Geography
from dtsen.synth.names import NamePools, sample_names
from dtsen.synth.render import join, pick, to_days, ymd

KINDS = ("single", "couple", "nuclear", "single_parent", "extended_up", "extended_down")
KIND_P = np.array([0.08, 0.12, 0.56, 0.09, 0.07, 0.08])
ROLES = ("head", "spouse", "child", "menantu", "grandchild", "parent", "other")
OCCUPATIONS = (
    "BELUM/TIDAK BEKERJA",
    "PELAJAR/MAHASISWA",
    "MENGURUS RUMAH TANGGA",
    "PENSIUNAN",
    "PETANI/PEKEBUN",
    "BURUH TANI/PERKEBUNAN",
    "BURUH HARIAN LEPAS",
    "WIRASWASTA",
    "KARYAWAN SWASTA",
    "PEDAGANG",
    "PEGAWAI NEGERI SIPIL (PNS)",
    "GURU",
    "SOPIR",
    "TUKANG BATU",
    "NELAYAN/PERIKANAN",
    "KARYAWAN HONORER",
    "PERANGKAT DESA",
)
# working occupations (index 4..16) by (urban, education group low/mid/high), relative weights
_WORK = np.array(
    [
        [30, 18, 18, 10, 4, 7, 0, 0, 3, 5, 4, 0, 1],
        [18, 8, 14, 16, 16, 10, 1, 2, 5, 4, 3, 2, 1],
        [6, 1, 2, 12, 20, 6, 18, 18, 1, 0, 1, 12, 3],
        [3, 2, 30, 18, 16, 14, 0, 0, 6, 8, 3, 0, 0],
        [1, 0, 14, 20, 38, 12, 1, 1, 7, 3, 1, 2, 0],
        [0, 0, 2, 14, 45, 5, 15, 10, 1, 0, 0, 8, 0],
    ],
    dtype=float,
)
EDUCATION_SHARES = np.array([0.13, 0.30, 0.18, 0.27, 0.035, 0.075, 0.008])  # adults 25+; S3 takes the rest
DISABILITY_P = np.array([0.45, 0.25, 0.12, 0.10, 0.08])  # FISIK, SENSORIK, INTELEKTUAL, MENTAL, GANDA
DEATH_SHARE = 0.008
MOVER_SHARE = 0.04
_STREETS = (
    "MELATI",
    "MAWAR",
    "KENANGA",
    "ANGGREK",
    "MERDEKA",
    "SUDIRMAN",
    "DIPONEGORO",
    "GATOT SUBROTO",
    "AHMAD YANI",
    "PAHLAWAN",
    "CEMPAKA",
    "FLAMBOYAN",
    "KARTINI",
    "PEMUDA",
    "SILIWANGI",
    "PASUNDAN",
    "RAYA",
    "SETIABUDI",
    "HASANUDDIN",
    "IMAM BONJOL",
    "CIKUTRA",
    "DAGO",
    "MANGGA",
    "NANGKA",
    "RAMBUTAN",
    "DAHLIA",
    "TERATAI",
    "BOUGENVILLE",
    "KAMBOJA",
    "SAWO",
    "DURIAN",
    "KELAPA",
    "BERINGIN",
    "SERUNI",
)


@dataclass
class Families:
    family_id: np.ndarray
    kind: np.ndarray
    village: np.ndarray  # index into Geography villages
    urban: np.ndarray
    rt: np.ndarray
    rw: np.ndarray
    address: pa.StringArray
    kk: np.ndarray  # int64, 16 digits
    kk_issued: np.ndarray  # days since epoch
    head: np.ndarray  # person index
    size: np.ndarray  # members incl. the deceased
    living: np.ndarray  # living members
    moved: np.ndarray
    moved_on: np.ndarray  # days, -1 when not moved
    prev_village: np.ndarray
    prev_rt: np.ndarray
    prev_rw: np.ndarray
    prev_address: pa.StringArray
    prev_kk: np.ndarray  # int64, 0 when not moved
    batak: np.ndarray


@dataclass
class Persons:
    person_id: np.ndarray
    family: np.ndarray  # family index
    role: np.ndarray  # index into ROLES
    relationship: np.ndarray  # index into schema.RELATIONSHIP
    female: np.ndarray
    birth: np.ndarray  # days since epoch
    age: np.ndarray  # completed years at as_of
    nik: np.ndarray  # int64
    nik_district: np.ndarray  # index into Geography districts
    full_name: pa.StringArray
    birth_place: pa.StringArray
    marital: np.ndarray  # index into schema.MARITAL_STATUS
    education: np.ndarray  # index into schema.EDUCATION
    occupation: np.ndarray  # index into OCCUPATIONS
    disability: np.ndarray  # index into schema.DISABILITY
    deceased: np.ndarray
    death: np.ndarray  # days, -1 when alive


@dataclass
class Skeleton:
    """Family structure before welfare: kinds, villages, members, ages and sexes."""

    kind: np.ndarray
    village: np.ndarray
    family: np.ndarray
    role: np.ndarray
    age_years: np.ndarray  # float
    female: np.ndarray
    in_law: np.ndarray  # per family: the parents are the spouse's (MERTUA)
    eldest_married: np.ndarray  # per family (extended down)


def draw_skeleton(rng: np.random.Generator, geo: Geography, persons: int) -> Skeleton:
    """Families and members (structure, ages, sexes) for exactly `persons` people."""
    parts: list[Skeleton] = []
    total = 0
    while total < persons:
        batch = _draw_batch(rng, int((persons - total) / 3.3) + 8)
        parts.append(batch)
        total += len(batch.family)
    kind = np.concatenate([p.kind for p in parts])
    offsets = np.cumsum([0] + [len(p.kind) for p in parts[:-1]])
    family = np.concatenate([p.family + o for p, o in zip(parts, offsets, strict=True)])[:persons]
    n_fam = int(family[-1]) + 1
    village = np.sort(rng.choice(len(geo.village_code), size=n_fam, p=geo.village_weight))
    return Skeleton(
        kind=kind[:n_fam],
        village=village,
        family=family,
        role=np.concatenate([p.role for p in parts])[:persons],
        age_years=np.concatenate([p.age_years for p in parts])[:persons],
        female=np.concatenate([p.female for p in parts])[:persons],
        in_law=np.concatenate([p.in_law for p in parts])[:n_fam],
        eldest_married=np.concatenate([p.eldest_married for p in parts])[:n_fam],
    )


def _draw_batch(rng: np.random.Generator, n: int) -> Skeleton:
    u = rng.random
    kind = rng.choice(len(KINDS), size=n, p=KIND_P)
    k = {name: kind == i for i, name in enumerate(KINDS)}
    head_age = np.select(
        [k["single"], k["couple"], k["nuclear"], k["single_parent"], k["extended_up"]],
        [
            np.where(u(n) < 0.5, 19 + 17 * u(n), 55 + 35 * u(n)),
            np.where(u(n) < 0.4, 20 + 16 * u(n), 50 + 36 * u(n)),
            np.clip(rng.normal(40, 9, n), 22, 75),
            np.clip(rng.normal(45, 11, n), 24, 85),
            np.clip(rng.normal(38, 8, n), 22, 62),
        ],
        np.clip(rng.normal(60, 8, n), 45, 88),
    )
    head_female = u(n) < np.array([0.45, 0.03, 0.03, 0.75, 0.08, 0.20])[kind]
    extended = k["extended_up"] | k["extended_down"]
    has_spouse = k["couple"] | k["nuclear"] | (extended & (u(n) < np.where(head_female, 0.15, 0.9)))
    spouse_age = np.where(
        head_female, head_age + np.abs(rng.normal(4, 3, n)), np.clip(head_age - rng.normal(4, 3.5, n), 17, head_age + 8)
    )
    mother_age = np.where(head_female, head_age, np.where(has_spouse, spouse_age, head_age - 4))
    first_birth = np.where(k["extended_down"], 19 + 6 * u(n), 19 + 10 * u(n))
    n_child = np.select(
        [k["nuclear"], k["single_parent"], k["extended_up"], k["extended_down"]],
        [1 + rng.poisson(1.45, n), 1 + rng.poisson(1.0, n), rng.poisson(1.7, n), 1 + rng.poisson(1.0, n)],
        0,
    )
    n_child = np.minimum(n_child, 8)
    eldest_age = mother_age - first_birth
    married = k["extended_down"] & (eldest_age >= 19)
    n_menantu = (married & (u(n) < 0.8)).astype(np.int64)
    n_grand = np.where(married, 1 + rng.poisson(0.8, n), 0)
    n_parent = np.where(k["extended_up"], 1 + (u(n) < 0.3), 0)
    n_other = ((k["nuclear"] | extended) & (u(n) < 0.04)).astype(np.int64)
    counts = np.stack(
        [np.ones(n, np.int64), has_spouse.astype(np.int64), n_child, n_menantu, n_grand, n_parent, n_other], 1
    )
    flat = counts.ravel()
    family = np.repeat(np.repeat(np.arange(n), len(ROLES)), flat)
    role = np.repeat(np.tile(np.arange(len(ROLES)), n), flat)
    starts = np.cumsum(flat) - flat
    block = np.repeat(np.arange(n * len(ROLES)), flat)
    pos = np.arange(len(family)) - starts[block]
    m = len(family)
    spacing = 2.0 + rng.gamma(2.0, 0.7, m)
    excl = np.cumsum(spacing) - spacing
    offset = excl - excl[starts[block]]
    f = family
    in_law = extended & has_spouse & (u(n) < 0.3)
    ref_age = np.where(in_law, spouse_age, head_age)
    age = np.select(
        [role == 0, role == 1, role == 2, role == 3, role == 4, role == 5],
        [
            head_age[f],
            spouse_age[f],
            mother_age[f] - first_birth[f] - offset,
            np.maximum(eldest_age[f] + rng.normal(0, 3, m), 18),
            eldest_age[f] - 19 - 8 * u(m) - offset,
            np.minimum(ref_age[f] + 20 + 14 * u(m) + 3 * (pos == 0), 97),
        ],
        5 + 30 * u(m),
    )
    keep = age >= 0
    keep &= ~((role == 2) & (age > 30) & (u(m) < 0.5) & ~(married[f] & (pos == 0)))
    eldest_female = np.zeros(n, bool)
    first_child = (role == 2) & (pos == 0)
    sex_draw = u(m) < 0.49
    eldest_female[f[first_child]] = sex_draw[first_child]
    female = np.select(
        [role == 0, role == 1, role == 2, role == 3, role == 5],
        [
            head_female[f],
            ~head_female[f],
            sex_draw,
            ~eldest_female[f],
            np.where(n_parent[f] == 2, pos == 1, u(m) < 0.75),
        ],
        sex_draw,
    )
    # renumber families densely after dropping members (the head is never dropped)
    family, role, age, female = family[keep], role[keep], age[keep], female[keep]
    return Skeleton(
        kind=kind,
        village=np.zeros(n, np.int64),
        family=family,
        role=role,
        age_years=age,
        female=female,
        in_law=in_law,
        eldest_married=married,
    )


def complete(
    rng: np.random.Generator,
    skel: Skeleton,
    latent: np.ndarray,
    geo: Geography,
    pools: NamePools,
    as_of: dt.date,
) -> tuple[Families, Persons]:
    """Everything else about the families and persons, given the family welfare latent."""
    n_fam, n = len(skel.kind), len(skel.family)
    f = skel.family
    today = int(to_days(np.array([np.datetime64(as_of)]))[0])
    birth = today - np.floor(skel.age_years * 365.2425).astype(np.int64) - rng.integers(0, 2, n)
    by, bm, bd = ymd(birth)
    ty, tm, td = ymd(np.array([today]))
    age = ty[0] - by - ((bm > tm[0]) | ((bm == tm[0]) & (bd > td[0])))
    role = skel.role
    female = skel.female
    urban = geo.urban[skel.village]
    # family heads and sizes
    head = np.flatnonzero(role == 0)
    size = np.bincount(f, minlength=n_fam)
    # deaths: ~0.8% in the last three years, weighted to the old and to infants
    w = np.exp(0.09 * (age - 70.0)) + 0.02 * (age < 1)
    k = round(DEATH_SHARE * n)
    deceased = np.zeros(n, bool)
    if k:
        deceased[np.argpartition(rng.exponential(size=n) / w, k - 1)[:k]] = True
    lo = np.maximum(birth, today - 1095)
    death = np.where(deceased, lo + np.floor(rng.random(n) * (today - lo + 1)).astype(np.int64), -1)
    living = np.bincount(f, weights=~deceased, minlength=n_fam).astype(np.int64)
    # relationship, marital status
    rel_index = {r: i for i, r in enumerate(RELATIONSHIP)}
    relationship = np.select(
        [role == 0, role == 1, role == 2, role == 3, role == 4, role == 5],
        [
            rel_index["KEPALA_KELUARGA"],
            np.where(female, rel_index["ISTRI"], rel_index["SUAMI"]),
            rel_index["ANAK"],
            rel_index["MENANTU"],
            rel_index["CUCU"],
            np.where(skel.in_law[f], rel_index["MERTUA"], rel_index["ORANG_TUA"]),
        ],
        rel_index["FAMILI_LAIN"],
    ).astype(np.int8)
    marital = _marital(rng, role, age, f, skel)
    education = _education(rng, latent[f], by, age)
    occupation = _occupation(rng, role, age, female, education, urban[f], latent[f])
    p_dis = 0.008 + 0.0005 * age
    disability = np.where(rng.random(n) < p_dis, 1 + rng.choice(5, size=n, p=DISABILITY_P), 0).astype(np.int8)
    # moves, addresses, KK
    moved = rng.random(n_fam) < MOVER_SHARE
    moved_on = np.where(moved, today - 1095 + rng.integers(0, 1065, n_fam), -1)
    prev_village = np.where(moved, _nearby_village(rng, geo, skel.village), skel.village)
    address, rt, rw = _addresses(rng, skel.village, urban)
    prev_address, prev_rt, prev_rw = _addresses(rng, prev_village, geo.urban[prev_village])
    district = geo.village_district[skel.village]
    prev_district = geo.village_district[prev_village]
    head_birth = birth[head]
    earliest = np.maximum(to_days(np.array([np.datetime64("2004-01-01")]))[0], head_birth + 20 * 365)
    issued_cur = _between(rng, np.minimum(earliest, today), np.full(n_fam, today))
    issued_mov = np.minimum(moved_on + rng.integers(0, 31, n_fam), today)
    kk_issued = np.where(moved, issued_mov, issued_cur)
    prev_issued = _between(rng, np.minimum(earliest, moved_on - 1), moved_on - 1)
    kk_all = _serialised(
        rng,
        np.concatenate([geo.district_int[district], geo.district_int[prev_district[moved]]]),
        np.concatenate([kk_issued, prev_issued[moved]]),
        np.zeros(n_fam + int(moved.sum()), bool),
    )
    kk = kk_all[:n_fam]
    prev_kk = np.zeros(n_fam, np.int64)
    prev_kk[moved] = kk_all[n_fam:]
    # NIK: district of first registration
    nik_district = district[f].copy()
    before_move = moved[f] & (birth < moved_on[f])
    nik_district[before_move] = prev_district[f][before_move]
    elsewhere = rng.random(n) < 0.07
    nik_district[elsewhere] = _other_district(rng, geo, nik_district[elsewhere])
    nik = _serialised(rng, geo.district_int[nik_district], birth, female)
    # names and birth places
    province = geo.district_int[district] // 10000
    batak = (province == 12) & (rng.random(n_fam) < 0.45)
    marga = _marga(rng, pools, batak, f, role, female)
    full_name = sample_names(rng, pools, female, province[f], marga)
    birth_place = pick(geo.regency_place, _birth_regency(rng, geo, geo.district_regency[nik_district]))
    families = Families(
        family_id=np.arange(1, n_fam + 1, dtype=np.int64),
        kind=skel.kind.astype(np.int8),
        village=skel.village,
        urban=urban,
        rt=rt,
        rw=rw,
        address=address,
        kk=kk,
        kk_issued=kk_issued,
        head=head,
        size=size,
        living=living,
        moved=moved,
        moved_on=moved_on,
        prev_village=prev_village,
        prev_rt=prev_rt,
        prev_rw=prev_rw,
        prev_address=prev_address,
        prev_kk=prev_kk,
        batak=batak,
    )
    persons = Persons(
        person_id=np.arange(1, n + 1, dtype=np.int64),
        family=f,
        role=role.astype(np.int8),
        relationship=relationship,
        female=female,
        birth=birth,
        age=age,
        nik=nik,
        nik_district=nik_district,
        full_name=full_name,
        birth_place=birth_place,
        marital=marital,
        education=education,
        occupation=occupation,
        disability=disability,
        deceased=deceased,
        death=death,
    )
    return families, persons


def _between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    hi = np.maximum(hi, lo)
    return lo + np.floor(rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)


def _serialised(rng: np.random.Generator, district: np.ndarray, days: np.ndarray, female: np.ndarray) -> np.ndarray:
    """16-digit numbers district(6) + DDMMYY (+40 on the day for women) + a serial unique per prefix."""
    y, m, d = ymd(days)
    prefix = district.astype(np.int64) * 1_000_000 + (d + 40 * female) * 10_000 + m * 100 + y % 100
    order = np.lexsort((rng.random(len(prefix)), prefix))
    sp = prefix[order]
    new = np.r_[True, sp[1:] != sp[:-1]]
    starts = np.maximum.accumulate(np.where(new, np.arange(len(sp)), 0))
    serial = np.empty(len(sp), np.int64)
    serial[order] = np.arange(len(sp)) - starts + 1
    if serial.max(initial=0) > 9999:  # pragma: no cover - needs > 9,999 people per district and day
        raise ValueError("more than 9,999 numbers share a NIK/KK prefix")
    return prefix * 10_000 + serial


def _another(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A random index in [lo, hi) other than `current`, and whether there was one."""
    count = hi - lo
    pick = lo + np.floor(rng.random(len(lo)) * np.maximum(count - 1, 1)).astype(np.int64)
    pick = pick + (pick >= current)
    return pick, count >= 2


def _nearby_village(rng: np.random.Generator, geo: Geography, village: np.ndarray) -> np.ndarray:
    """Another village: half in the same district, half anywhere in scope (by population)."""
    n = len(village)
    vd = geo.village_district
    d = vd[village]
    same, ok = _another(rng, np.searchsorted(vd, d, "left"), np.searchsorted(vd, d, "right"), village)
    anywhere = rng.choice(len(geo.village_code), size=n, p=geo.village_weight)
    anywhere = np.where(anywhere == village, (anywhere + 1) % len(geo.village_code), anywhere)
    return np.where(ok & (rng.random(n) < 0.5), same, anywhere)


def _birth_regency(rng: np.random.Generator, geo: Geography, regency: np.ndarray) -> np.ndarray:
    """Regency of birth: that of the NIK district (85%), else another in the province (10%) or anywhere."""
    n = len(regency)
    prov = np.array([int(c[:2]) for c in geo.regency_code])
    p = prov[regency]
    same_prov, ok = _another(rng, np.searchsorted(prov, p, "left"), np.searchsorted(prov, p, "right"), regency)
    anywhere, _ = _another(rng, np.zeros(n, np.int64), np.full(n, len(prov)), regency)
    u = rng.random(n)
    return np.where(u < 0.85, regency, np.where((u < 0.95) & ok, same_prov, np.where(len(prov) > 1, anywhere, regency)))


def _other_district(rng: np.random.Generator, geo: Geography, district: np.ndarray) -> np.ndarray:
    """A different district of first registration: 60% same regency, 25% same province, else any."""
    n = len(district)
    reg = geo.district_regency
    r = reg[district]
    same_reg, reg_ok = _another(rng, np.searchsorted(reg, r, "left"), np.searchsorted(reg, r, "right"), district)
    prov = geo.district_int // 10000
    p = prov[district]
    same_prov, prov_ok = _another(rng, np.searchsorted(prov, p, "left"), np.searchsorted(prov, p, "right"), district)
    anywhere, _ = _another(rng, np.zeros(n, np.int64), np.full(n, len(prov)), district)
    u = rng.random(n)
    return np.where((u < 0.6) & reg_ok, same_reg, np.where((u < 0.85) & prov_ok, same_prov, anywhere))


def _addresses(
    rng: np.random.Generator, village: np.ndarray, urban: np.ndarray
) -> tuple[pa.StringArray, np.ndarray, np.ndarray]:
    """Address text, RT and RW per family; streets and hamlets are shared within a village."""
    n = len(village)
    dusun = ["KRAJAN", *sorted({(h + t).upper() for h in _HEAD for t in _TAIL})]
    street = pick(_STREETS, (village * 13 + rng.integers(0, 6, n)) % len(_STREETS))
    hamlet = pick(dusun, np.where(rng.random(n) < 0.15, 0, (village * 7 + rng.integers(0, 4, n)) % len(dusun)))
    number = pa.array(rng.integers(1, 151, n)).cast(pa.string())
    block = pick(list("ABCDEF"), rng.integers(0, 6, n))
    u = rng.random(n)
    form = np.where(urban, np.select([u < 0.65, u < 0.85], [0, 1], 2), np.select([u < 0.45, u < 0.75], [3, 4], 5))
    texts = [
        join(["JL. ", street, " NO. ", number]),
        join(["GG. ", street, " NO. ", number]),
        join(["KOMP. ", hamlet, " BLOK ", block, " NO. ", number]),
        join(["DUSUN ", hamlet]),
        join(["KP. ", hamlet]),
        join(["JL. ", street, " NO. ", number]),
    ]
    address = pc.choose(pa.array(form.astype(np.int8)), *texts)
    rt = 1 + np.minimum(rng.geometric(0.18, n) - 1, 14)
    rw = 1 + np.minimum(rng.geometric(0.3, n) - 1, 9)
    return address, rt, rw


def _marga(
    rng: np.random.Generator, pools: NamePools, batak: np.ndarray, f: np.ndarray, role: np.ndarray, female: np.ndarray
) -> np.ndarray:
    """Marga index per person (-1: none): the father's for head and descendants, an own one otherwise."""
    n = len(f)
    if pools.marga is None:
        return np.full(n, -1, np.int64)
    fam_marga = pools.marga.sample(rng, len(batak))
    own = pools.marga.sample(rng, n)
    fb = batak[f]
    lineage = ((role == 0) & ~female) | (role == 2) | (role == 4) | ((role == 5) & ~female)
    married_in = (role == 1) | (role == 3) | ((role == 0) & female) | ((role == 5) & female)
    return np.where(fb & lineage, fam_marga[f], np.where(fb & married_in & (rng.random(n) < 0.8), own, -1))


def _marital(rng: np.random.Generator, role: np.ndarray, age: np.ndarray, f: np.ndarray, skel: Skeleton) -> np.ndarray:
    """Index into MARITAL_STATUS: BELUM_KAWIN 0, KAWIN 1, CERAI_HIDUP 2, CERAI_MATI 3."""
    n = len(role)
    u = rng.random(n)
    has_spouse = np.zeros(len(skel.kind), bool)
    has_spouse[f[role == 1]] = True
    n_parents = np.bincount(f[role == 5], minlength=len(skel.kind))
    pos_child = np.zeros(n, bool)
    first = np.r_[True, (f[1:] != f[:-1]) | (role[1:] != role[:-1])]
    pos_child[first & (role == 2)] = True
    single_head = np.select(
        [age < 30, age >= 55],
        [np.where(u < 0.9, 0, 2), np.where(u < 0.8, 3, 2)],
        np.select([u < 0.4, u < 0.8], [0, 2], 3),
    )
    head = np.where(has_spouse[f], 1, np.where(skel.kind[f] == 3, np.where(u < 0.55, 3, 2), single_head))
    child = np.where(pos_child & skel.eldest_married[f], 1, np.where((age >= 25) & (u < 0.06), 2, 0))
    other = np.where(age < 20, 0, np.select([u < 0.4, u < 0.8], [0, 1], 3))
    return np.select(
        [role == 0, role == 1, role == 2, role == 3, role == 4, role == 5],
        [head, 1, child, 1, 0, np.where(n_parents[f] == 2, 1, 3)],
        other,
    ).astype(np.int8)


def _education(rng: np.random.Generator, latent: np.ndarray, birth_year: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Index into EDUCATION from an ordered latent (family welfare + cohort + noise), capped by age."""
    z = 0.75 * latent + 0.025 * (birth_year - 1975) + rng.normal(0, 0.75, len(latent))
    adults = age >= 25
    cuts = np.quantile(z[adults] if adults.any() else z, np.cumsum(EDUCATION_SHARES))
    level = np.searchsorted(cuts, z, side="right")
    cap = np.searchsorted(np.array([13, 16, 19, 21, 22, 24, 28]), age, side="right")
    return np.minimum(level, cap).astype(np.int8)


def _occupation(
    rng: np.random.Generator,
    role: np.ndarray,
    age: np.ndarray,
    female: np.ndarray,
    education: np.ndarray,
    urban: np.ndarray,
    latent: np.ndarray,
) -> np.ndarray:
    n = len(role)
    u = rng.random(n)
    group = np.select([education <= 1, education <= 3], [0, 1], 2) + 3 * urban
    probs = _WORK / _WORK.sum(1, keepdims=True)
    cum = np.cumsum(probs, 1)[group]
    work = 4 + np.minimum((rng.random(n)[:, None] > cum).sum(1), probs.shape[1] - 1)
    work = np.where(rng.random(n) < 0.05, 0, work)
    elder = np.where(
        (education >= 4) & (u < 0.6), 3, np.where(female, np.where(u < 0.8, 2, 0), np.where(~urban & (u < 0.5), 4, 0))
    )
    return np.select(
        [
            age < 5,
            age < 16,
            (age < 19) & ~((latent < -1) & (u < 0.4)),
            (age < 19),
            (age < 25) & (education >= 3) & (u < 0.45),
            age >= 60,
            female & (role != 0) & (u < 0.55),
        ],
        [0, 1, 1, 6, 1, elder, 2],
        work,
    ).astype(np.int8)
