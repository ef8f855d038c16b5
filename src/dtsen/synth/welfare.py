r"""Family welfare: housing, assets, true consumption, poverty and programme membership.

Data-generating process (one draw per family *f* in village *v* of regency *r*):

1. Latent welfare ``w_f = R_r + 0.30·urban_v + e_f``, with ``R_r ~ N(0, 0.25²)`` per regency
   and ``e_f ~ N(0, 1)``. Education of adults is drawn from the same latent (see population).
2. Attributes are noisy signals of ``w_f``. An ordered attribute is the category of
   ``w_f + s_u·urban + N(0, σ²)`` cut at in-sample quantiles so that its shares are:

   | attribute     | categories, low to high (share)                                            | σ   | s_u |
   |---------------|-----------------------------------------------------------------------------|-----|-----|
   | floor         | TANAH 4, BAMBU 2, KAYU 8, SEMEN 34, KERAMIK 52 %                          | 0.9 | 0.4 |
   | wall          | BAMBU 6, KAYU 12, TEMBOK 82 %                                               | 1.0 | 0.4 |
   | roof          | JERAMI 2, SENG 33, GENTENG 52, BETON 13 %                                   | 1.2 | 0.2 |
   | water         | SUNGAI 3, SUMUR_TIDAK_TERLINDUNG 8, SUMUR_TERLINDUNG 30, LEDENG 17, AIR_KEMASAN 42 % (then 3% LAINNYA) | 1.0 | 0.6 |
   | sanitation    | TIDAK_ADA 5, UMUM 3, BERSAMA 8, SENDIRI 84 %                                | 1.0 | 0.3 |
   | electricity   | none 0.3, NON_PLN 1.2, PLN_TANPA_METER 3, 450 VA 25, 900 VA 40, 1300 VA 18, 2200 VA 8, ≥3500 VA 4.5 % | 0.8 | 0.5 |
   | cooking fuel  | KAYU_BAKAR 12, MINYAK_TANAH 1, GAS 85, LISTRIK 2 % (1.5% of urban singles TIDAK_MEMASAK) | 0.9 | 0.8 |

   Floor area per capita: ``ln(m²/person) = 2.55 + 0.30·w - 0.15·urban + N(0, 0.35²)``.
   Assets: ``P(asset) = logistic(a + b·w + c·urban)`` with (a, b, c): motorbike (1.3, 1.1, 0),
   car (-2.6, 1.3, 0.3), fridge (0.3, 1.3, 0.5), AC (-3.5, 1.5, 1.2), land (0.2, 0.4, -1.5),
   gold (-1.0, 0.9, 0); livestock (large animals) ~ Poisson(exp(0.3 + 0.3·w)) for 35% of rural
   land owners. Ownership is categorical: rural MILIK_SENDIRI 88 / SEWA 4 / BEBAS_SEWA 6 /
   DINAS 1 / LAINNYA 1 %, urban 70 / 20 / 7 / 2 / 1 %. kWh per month = base(VA) ·
   exp(0.15·w + N(0, 0.25²)) with base 65/115/190/310/520 for 450/900/1300/2200/≥3500 VA.
3. Log per-capita monthly consumption::

       ln c_f = μ + a · I_f
       I_f = R_r + 0.15·urban + β_edu[head]·(1 + 0.6·urban) + 0.45·min(ln(m²/person), ln 20)
             + β_floor + β_wall + β_roof + β_water + β_sanitation + β_elec + β_cook
             + 0.12·motorbike + 0.35·car + 0.15·fridge + 0.25·AC·[≥ 1300 VA] + 0.05·AC·[< 1300 VA]
             + 0.15·land·rural - 0.05·land·urban + 0.04·min(livestock, 5)·rural + 0.12·gold
             - 0.45·ln(min(living, 4)) - 0.15·ln(max(living, 4) / 4)
             - 0.25·dependency ratio + ε_f,   ε_f ~ N(0, 0.30²)

   Returns are not the same everywhere, as in real consumption data: schooling pays more in
   towns, floor space stops mattering past 20 m² a person, land and livestock are wealth in
   villages but not in towns, an air conditioner on a small PLN connection is mostly a gift,
   and household economies of scale flatten past four members. A linear PMT misses these
   shapes; a flexible model can find them (issue 4 measures both).
   The scale ``a`` and shift ``μ`` are calibrated on the run itself so that, weighting each
   family by its living members, 9.0% of people fall below the poverty line (Rp 595,000 per
   person per month) and 1.5% below the extreme-poverty line (Rp 391,000). Consumption is
   rounded to Rp 100.
4. Welfare moves between the census (Regsosek, November three years before the run's date) and
   now. Each family has at most one change (``welfare_change`` in the truth), drawn from its own
   random stream, so that the rest of the population is the same with or without it:

   | change       | who                                             | ln c now vs then | what the sources see                      |
   |--------------|-------------------------------------------------|------------------|-------------------------------------------|
   | `death`      | a member aged 15-64 died after the census        | -0.25 (an earner) | Dukcapil reports the death; the census lists the member |
   | `job_loss`   | 5% of the rest whose head works and is under 60  | -0.45            | the head's occupation is now BELUM/TIDAK BEKERJA (Dukcapil); kWh ×0.7 (PLN); 30% sold the motorbike |
   | `new_earner` | 5% of the rest with a non-working member 18-59   | +0.40            | that member now works (Dukcapil); kWh ×1.3 (PLN); 50% moved one PLN band up; 30% bought a motorbike, 30% a fridge |
   | `move`       | the rest that moved house after the census       | 0                | the census describes the old dwelling (floor, wall, roof, area, water, toilet) |

   The truth's attributes and consumption are those of now; ``census`` holds the values the
   census saw (`census_welfare`), which `regsosek_keluarga` writes. A ranking from the census
   alone therefore misses these moves; current sources (Dukcapil, PLN, the survey) catch part of
   them, which `dtsen evaluate welfare` measures.
5. Programmes target on an old, noisy proxy ``p_f = ln c_f(census) + N(0, 0.45²)`` (the
   consumption at the census, before the changes above), so they carry
   realistic inclusion and exclusion errors: PKH for families with a child under 18, an elder
   65+ or a disabled member and ``p_f`` in the lowest 13% of families; BPNT/sembako for
   ``p_f + N(0, 0.15²)`` in the lowest 22% of families; PBI-JK for ``p_f + N(0, 0.2²)`` in the
   lowest 36% of people. Families whose members all died get nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dtsen.synth.geography import Geography
from dtsen.synth.population import Families, Persons

POVERTY_LINE = 595_000.0
EXTREME_LINE = 391_000.0
POOR_SHARE = 0.090
EXTREME_SHARE = 0.015

B_EDU = np.array([0.0, 0.05, 0.12, 0.22, 0.35, 0.45, 0.60, 0.70])
B_FLOOR = np.array([0.0, 0.03, 0.06, 0.10, 0.20])  # schema.FLOOR order
B_WALL = np.array([0.0, 0.04, 0.10])  # schema.WALL order
B_ROOF = np.array([0.0, 0.03, 0.06, 0.12])  # schema.ROOF order
B_WATER = np.array([0.10, 0.06, 0.03, 0.15, 0.0, 0.03])  # schema.WATER order
B_SANITATION = np.array([0.12, 0.05, 0.03, 0.0])  # schema.SANITATION order
B_ELEC = np.array([0.0, 0.0, 0.02, 0.05, 0.10, 0.20, 0.30, 0.40])  # electricity level
B_COOK = np.array([0.15, 0.08, 0.02, 0.0, 0.02, 0.08])  # schema.COOKING_FUEL order
VA_OF_LEVEL = np.array([0, 0, 0, 450, 900, 1300, 2200, 3500])
KWH_BASE = np.array([0, 0, 0, 65, 115, 190, 310, 520], dtype=float)
LIGHTING_OF_LEVEL = np.array(
    [3, 2, 1, 0, 0, 0, 0, 0]
)  # schema.LIGHTING: PLN_METER, PLN_TANPA_METER, NON_PLN, TIDAK_ADA
_ASSETS = {
    "motorbike": (1.3, 1.1, 0.0),
    "car": (-2.6, 1.3, 0.3),
    "fridge": (0.3, 1.3, 0.5),
    "ac": (-3.5, 1.5, 1.2),
    "land": (0.2, 0.4, -1.5),
    "gold": (-1.0, 0.9, 0.0),
}


CHANGES = ("death", "job_loss", "new_earner", "move")  # codes 1..4 of Welfare.change (0: none)
CHANGE_EFFECT = {"death": -0.25, "job_loss": -0.45, "new_earner": 0.40, "move": 0.0}
CHANGE_SHARE = {"job_loss": 0.05, "new_earner": 0.05}
NOT_WORKING = 0  # OCCUPATIONS index: BELUM/TIDAK BEKERJA
NEW_JOBS = np.array([6, 7, 8, 9])  # BURUH HARIAN LEPAS, WIRASWASTA, KARYAWAN SWASTA, PEDAGANG
_DWELLING = ("floor", "wall", "roof", "water", "sanitation", "floor_area")


@dataclass
class Welfare:
    latent: np.ndarray
    regional: np.ndarray
    floor_area: np.ndarray
    floor: np.ndarray  # index into schema.FLOOR
    wall: np.ndarray
    roof: np.ndarray
    ownership: np.ndarray
    water: np.ndarray
    sanitation: np.ndarray
    lighting: np.ndarray
    electricity_va: np.ndarray  # 0 without a PLN meter
    electricity_kwh: np.ndarray
    cooking: np.ndarray
    motorbike: np.ndarray
    car: np.ndarray
    fridge: np.ndarray
    ac: np.ndarray
    land: np.ndarray
    livestock: np.ndarray
    gold: np.ndarray
    consumption: np.ndarray  # Rp per person per month
    poor: np.ndarray
    extreme_poor: np.ndarray
    pkh: np.ndarray
    bpnt: np.ndarray
    pbi_jk: np.ndarray
    proxy: np.ndarray  # the programmes' noisy welfare proxy (log scale)
    change: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))  # 0 none, else CHANGES index + 1
    census: dict[str, np.ndarray] = field(default_factory=dict)  # attribute -> the value the census saw

    def at_census(self) -> Welfare:
        """The attributes as the census saw them (the same object where nothing changed)."""
        return replace(self, **self.census) if self.census else self  # type: ignore[arg-type]


def latent_welfare(rng: np.random.Generator, geo: Geography, village: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per family: (latent welfare w_f, regional effect R_r)."""
    effect = rng.normal(0.0, 0.25, len(geo.regency_code))
    regional = effect[geo.district_regency[geo.village_district[village]]]
    latent = regional + 0.30 * geo.urban[village] + rng.normal(0.0, 1.0, len(village))
    return latent, regional


def assign_welfare(
    rng: np.random.Generator,
    fam: Families,
    per: Persons,
    latent: np.ndarray,
    regional: np.ndarray,
    census_day: int | None = None,
) -> Welfare:
    """Housing, assets, consumption, poverty and programmes per family (see the module docstring).

    With `census_day` (days since the epoch) welfare changes between the census and now (item 4
    of the module docstring); the occupations of `per` are updated in place where a job was lost
    or found."""
    n = len(latent)
    w, urban = latent, fam.urban.astype(float)
    floor = _ordered(rng, w + 0.4 * urban, 0.9, [0.04, 0.02, 0.08, 0.34, 0.52])
    wall = _ordered(rng, w + 0.4 * urban, 1.0, [0.06, 0.12, 0.82])
    roof = _ordered(rng, w + 0.2 * urban, 1.2, [0.02, 0.33, 0.52, 0.13])
    water = np.array([4, 2, 1, 0, 3])[_ordered(rng, w + 0.6 * urban, 1.0, [0.03, 0.08, 0.30, 0.17, 0.42])]
    water = np.where(rng.random(n) < 0.03, 5, water)
    sanitation = np.array([3, 2, 1, 0])[_ordered(rng, w + 0.3 * urban, 1.0, [0.05, 0.03, 0.08, 0.84])]
    level = _ordered(rng, w + 0.5 * urban, 0.8, [0.003, 0.012, 0.03, 0.25, 0.40, 0.18, 0.08, 0.045])
    va = np.where(level == 7, rng.choice([3500, 4400, 5500], size=n, p=[0.6, 0.25, 0.15]), VA_OF_LEVEL[level])
    kwh = np.round(KWH_BASE[level] * np.exp(0.15 * w + rng.normal(0, 0.25, n)), 1)
    cooking = np.array([3, 2, 1, 0])[_ordered(rng, w + 0.8 * urban, 0.9, [0.12, 0.01, 0.85, 0.02])]
    no_cook = (fam.size == 1) & fam.urban & (rng.random(n) < 0.015)
    cooking = np.where(no_cook, 5, cooking)
    own_p = np.where(fam.urban[:, None], [0.70, 0.20, 0.07, 0.02, 0.01], [0.88, 0.04, 0.06, 0.01, 0.01])
    ownership = np.minimum((rng.random(n)[:, None] > np.cumsum(own_p, 1)).sum(1), 4)
    size = np.maximum(fam.size, 1)
    fapc = np.exp(2.55 + 0.30 * w - 0.15 * urban + rng.normal(0, 0.35, n))
    floor_area = np.maximum(9.0, np.round(fapc * size))
    assets = {k: rng.random(n) < 1.0 / (1.0 + np.exp(-(a + b * w + c * urban))) for k, (a, b, c) in _ASSETS.items()}
    herd = assets["land"] & ~fam.urban & (rng.random(n) < 0.35)
    livestock = np.where(herd, rng.poisson(np.exp(0.3 + 0.3 * w)), 0)
    change = np.zeros(n, np.int8)
    census: dict[str, np.ndarray] = {}
    level_then = level
    if census_day is not None:
        # its own stream: the draws above and below are those of a population without changes
        events = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])  # type: ignore[attr-defined]
        dwelling = {"floor": floor, "wall": wall, "roof": roof, "water": water, "sanitation": sanitation,
                    "floor_area": floor_area}
        kwh, level, va, census, level_then = _changes(
            events, fam, per, w, census_day, change, assets, level, va, kwh, dwelling
        )
    # consumption
    alive = ~per.deceased
    f = per.family
    young_old = np.bincount(f, weights=alive & ((per.age < 15) | (per.age >= 65)), minlength=n)
    working = np.bincount(f, weights=alive & (per.age >= 15) & (per.age < 65), minlength=n)
    dependency = young_old / np.maximum(working, 1.0)
    living = np.maximum(fam.living, 1)
    head_edu = per.education[fam.head]
    index = (
        regional
        + 0.15 * urban
        + B_EDU[head_edu] * (1.0 + 0.6 * urban)
        + 0.45 * np.minimum(np.log(floor_area / size), np.log(20.0))
        + B_FLOOR[floor]
        + B_WALL[wall]
        + B_ROOF[roof]
        + B_WATER[water]
        + B_SANITATION[sanitation]
        + B_ELEC[level]
        + B_COOK[cooking]
        + 0.12 * assets["motorbike"]
        + 0.35 * assets["car"]
        + 0.15 * assets["fridge"]
        + np.where(va >= 1300, 0.25, 0.05) * assets["ac"]
        + np.where(fam.urban, -0.05, 0.15) * assets["land"]
        + 0.04 * np.minimum(livestock, 5) * (1.0 - urban)
        + 0.12 * assets["gold"]
        - 0.45 * np.log(np.minimum(living, 4))
        - 0.15 * np.log(np.maximum(living, 4) / 4.0)
        - 0.25 * dependency
        + rng.normal(0, 0.30, n)
    )
    # the census-era index: without the change's own effect, with the dwelling, PLN band and
    # assets of then
    now = {"floor": floor, "wall": wall, "roof": roof, "water": water, "sanitation": sanitation,
           "floor_area": floor_area, "level": level, "motorbike": assets["motorbike"], "fridge": assets["fridge"]}
    then = {**{k: census.get(k, v) for k, v in now.items()}, "level": level_then}
    before = index - _changing_terms(now, size) + _changing_terms(then, size)
    index = index + np.array([0.0, *(CHANGE_EFFECT[c] for c in CHANGES)])[change]
    weight = fam.living.astype(float)
    q_poor = _weighted_quantile(index, weight, POOR_SHARE)
    q_ext = _weighted_quantile(index, weight, EXTREME_SHARE)
    a = (np.log(POVERTY_LINE) - np.log(EXTREME_LINE)) / max(q_poor - q_ext, 1e-9)
    mu = np.log(POVERTY_LINE) - a * q_poor
    consumption = np.round(np.exp(mu + a * index) / 100.0) * 100.0
    poor = consumption < POVERTY_LINE
    extreme = consumption < EXTREME_LINE
    # programmes
    has_family = fam.living > 0
    proxy = mu + a * before + rng.normal(0, 0.45, n)  # ln consumption at the census, plus noise
    component = (
        np.bincount(f, weights=alive & ((per.age < 18) | (per.age >= 65) | (per.disability > 0)), minlength=n) > 0
    )
    rank_f = np.where(has_family, proxy, np.inf)
    pkh = has_family & component & (rank_f <= _weighted_quantile(rank_f[has_family], np.ones(has_family.sum()), 0.13))
    p2 = rank_f + rng.normal(0, 0.15, n)
    bpnt = has_family & (p2 <= _weighted_quantile(p2[has_family], np.ones(has_family.sum()), 0.22))
    p3 = rank_f + rng.normal(0, 0.20, n)
    pbi = has_family & (p3 <= _weighted_quantile(p3[has_family], weight[has_family], 0.36))
    return Welfare(
        latent=latent,
        regional=regional,
        floor_area=floor_area,
        floor=floor.astype(np.int8),
        wall=wall.astype(np.int8),
        roof=roof.astype(np.int8),
        ownership=ownership.astype(np.int8),
        water=water.astype(np.int8),
        sanitation=sanitation.astype(np.int8),
        lighting=LIGHTING_OF_LEVEL[level].astype(np.int8),
        electricity_va=va.astype(np.int64),
        electricity_kwh=kwh,
        cooking=cooking.astype(np.int8),
        motorbike=assets["motorbike"],
        car=assets["car"],
        fridge=assets["fridge"],
        ac=assets["ac"],
        land=assets["land"],
        livestock=livestock.astype(np.int64),
        gold=assets["gold"],
        consumption=consumption,
        poor=poor,
        extreme_poor=extreme,
        pkh=pkh,
        bpnt=bpnt,
        pbi_jk=pbi,
        proxy=proxy,
        change=change,
        census=census,
    )


def _changing_terms(x: dict[str, np.ndarray], size: np.ndarray) -> np.ndarray:
    """The terms of the consumption index in the attributes that a change between the census and
    now may alter (dwelling, PLN band, motorbike, fridge)."""
    return (
        0.45 * np.minimum(np.log(x["floor_area"] / size), np.log(20.0))
        + B_FLOOR[x["floor"]]
        + B_WALL[x["wall"]]
        + B_ROOF[x["roof"]]
        + B_WATER[x["water"]]
        + B_SANITATION[x["sanitation"]]
        + B_ELEC[x["level"]]
        + 0.12 * x["motorbike"]
        + 0.15 * x["fridge"]
    )


def _changes(
    rng: np.random.Generator,
    fam: Families,
    per: Persons,
    w: np.ndarray,
    census_day: int,
    change: np.ndarray,
    assets: dict[str, np.ndarray],
    level: np.ndarray,
    va: np.ndarray,
    kwh: np.ndarray,
    dwelling: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Draw the changes since the census (module docstring, item 4): fill `change`, update the
    occupations of `per` and the assets in `assets` to now, and return (kWh, PLN level, VA) of now,
    the census-era values of the Welfare fields that may differ, and the census-era PLN level."""
    n = len(change)
    code = {c: i + 1 for i, c in enumerate(CHANGES)}
    alive_fam = fam.living > 0
    working_age = (per.age >= 15) & (per.age < 65)
    earner_died = per.deceased & (per.death > census_day) & working_age
    died = np.bincount(per.family, weights=earner_died, minlength=n) > 0
    change[died & alive_fam] = code["death"]
    head = fam.head
    head_works = (per.occupation[head] >= 4) & (per.age[head] < 60) & ~per.deceased[head]
    u = rng.random(n)
    lost = (change == 0) & alive_fam & head_works & (u < CHANGE_SHARE["job_loss"])
    change[lost] = code["job_loss"]
    idle = ~per.deceased & (per.age >= 18) & (per.age < 60) & np.isin(per.occupation, (0, 2))
    # the first idle adult of each family (persons are ordered by family)
    idle_idx = np.flatnonzero(idle)
    first_idle = np.full(n, -1, np.int64)
    fams, at = np.unique(per.family[idle_idx], return_index=True)
    first_idle[fams] = idle_idx[at]
    found = (change == 0) & alive_fam & (first_idle >= 0) & (rng.random(n) < CHANGE_SHARE["new_earner"])
    change[found] = code["new_earner"]
    moved = (change == 0) & alive_fam & fam.moved & (fam.moved_on > census_day)
    change[moved] = code["move"]
    # occupations now
    per.occupation[head[lost]] = NOT_WORKING
    per.occupation[first_idle[found]] = rng.choice(NEW_JOBS, size=int(found.sum())).astype(per.occupation.dtype)
    census: dict[str, np.ndarray] = {}
    # electricity: use follows income; a new earner often moved one PLN band up since the census
    kwh = np.round(kwh * np.where(lost, 0.7, np.where(found, 1.3, 1.0)), 1)
    up = found & (level >= 3) & (level < 7) & (rng.random(n) < 0.5)
    new_level = np.where(up, level + 1, level)
    new_va = np.where(up, np.where(new_level == 7, 3500, VA_OF_LEVEL[np.minimum(new_level, 7)]), va)
    census["electricity_va"] = va.copy()
    # assets: sold after a job loss, bought with a new income
    sold = lost & assets["motorbike"] & (rng.random(n) < 0.3)
    bike = found & ~assets["motorbike"] & (rng.random(n) < 0.3)
    fridge = found & ~assets["fridge"] & (rng.random(n) < 0.3)
    census["motorbike"] = assets["motorbike"].copy()
    census["fridge"] = assets["fridge"].copy()
    assets["motorbike"] = (assets["motorbike"] & ~sold) | bike
    assets["fridge"] = assets["fridge"] | fridge
    # a move: the census saw the old dwelling, drawn afresh from the same welfare
    urban = fam.urban.astype(float)
    m = np.flatnonzero(moved)
    for name, values in dwelling.items():
        census[name] = values.astype(np.float64 if name == "floor_area" else np.int8)
    if len(m):
        wm, um = w[m], urban[m]
        census["floor"][m] = _ordered(rng, wm + 0.4 * um, 0.9, [0.04, 0.02, 0.08, 0.34, 0.52])
        census["wall"][m] = _ordered(rng, wm + 0.4 * um, 1.0, [0.06, 0.12, 0.82])
        census["roof"][m] = _ordered(rng, wm + 0.2 * um, 1.2, [0.02, 0.33, 0.52, 0.13])
        census["water"][m] = np.array([4, 2, 1, 0, 3])[
            _ordered(rng, wm + 0.6 * um, 1.0, [0.03, 0.08, 0.30, 0.17, 0.42])
        ]
        census["sanitation"][m] = np.array([3, 2, 1, 0])[_ordered(rng, wm + 0.3 * um, 1.0, [0.05, 0.03, 0.08, 0.84])]
        size = np.maximum(fam.size[m], 1)
        census["floor_area"][m] = np.maximum(9.0, np.round(np.exp(2.55 + 0.30 * wm - 0.15 * um
                                                                  + rng.normal(0, 0.35, len(m))) * size))
    return kwh, new_level, new_va, census, level


def _ordered(rng: np.random.Generator, score: np.ndarray, sd: float, shares: list[float]) -> np.ndarray:
    """Ordered categories of score + noise, cut at in-sample quantiles to give `shares`."""
    x = score + rng.normal(0.0, sd, len(score))
    cuts = np.quantile(x, np.cumsum(shares)[:-1]) if len(x) else np.zeros(len(shares) - 1)
    return np.searchsorted(cuts, x, side="right")


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The value below which a share q of the total weight lies."""
    if len(values) == 0:
        return 0.0
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    i = int(np.searchsorted(cum, q * cum[-1], side="left"))
    lo = values[order][min(i, len(values) - 1)]
    hi = values[order][min(i + 1, len(values) - 1)]
    return float((lo + hi) / 2.0)
