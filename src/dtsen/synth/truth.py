"""The ground truth of a run: geography, families, persons and welfare, and its Parquet tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

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
from dtsen.synth.geography import Geography
from dtsen.synth.names import NamePools
from dtsen.synth.population import KINDS, OCCUPATIONS, Families, Persons, complete, draw_skeleton
from dtsen.synth.render import EPOCH, choose, padded, pick, take, to_days
from dtsen.synth.welfare import CHANGES, Welfare, assign_welfare, latent_welfare


@dataclass
class Truth:
    geo: Geography
    fam: Families
    per: Persons
    wel: Welfare
    pools: NamePools
    as_of: dt.date

    @property
    def today(self) -> int:
        return int(to_days(np.array([np.datetime64(self.as_of)]))[0])

    def days(self, d: dt.date) -> int:
        return int(to_days(np.array([np.datetime64(d)]))[0])

    def village_text(self, village: np.ndarray, dotted: bool = True) -> pa.StringArray:
        codes = self.geo.village_code if dotted else np.char.replace(self.geo.village_code, ".", "")
        return pick(codes, village)


@dataclass
class Shown:
    """Where a source sees a family: its current place, or the previous one when the source is older than the move."""

    village: np.ndarray
    address: pa.StringArray
    rt: np.ndarray
    rw: np.ndarray
    kk: np.ndarray
    stale: np.ndarray


def shown(t: Truth, family: np.ndarray, as_of_days: int) -> Shown:
    f = t.fam
    stale = f.moved[family] & (f.moved_on[family] > as_of_days)
    return Shown(
        village=np.where(stale, f.prev_village[family], f.village[family]),
        address=choose(stale, take(f.prev_address, family), take(f.address, family)),
        rt=np.where(stale, f.prev_rt[family], f.rt[family]),
        rw=np.where(stale, f.prev_rw[family], f.rw[family]),
        kk=np.where(stale, f.prev_kk[family], f.kk[family]),
        stale=stale,
    )


def present(t: Truth, as_of_days: int) -> np.ndarray:
    """Persons alive and born on a date."""
    p = t.per
    return (p.birth <= as_of_days) & ~(p.deceased & (p.death <= as_of_days))


def build_truth(rng: np.random.Generator, geo: Geography, pools: NamePools, persons: int, as_of: dt.date) -> Truth:
    skel = draw_skeleton(rng, geo, persons)
    latent, regional = latent_welfare(rng, geo, skel.village)
    fam, per = complete(rng, skel, latent, geo, pools, as_of)
    from dtsen.synth.regsosek import census_date  # here: regsosek imports this module

    census_day = int(to_days(np.array([np.datetime64(census_date(as_of))]))[0])
    wel = assign_welfare(rng, fam, per, latent, regional, census_day)
    return Truth(geo=geo, fam=fam, per=per, wel=wel, pools=pools, as_of=as_of)


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Days since 1970-01-01 (negative before) as date32, null where `missing`."""
    d = (EPOCH + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")).astype("datetime64[D]")
    return pa.array(d, pa.date32(), mask=missing)


def persons_table(t: Truth) -> pa.Table:
    p, f, g = t.per, t.fam, t.geo
    village = f.village[p.family]
    return pa.table(
        {
            "person_id": p.person_id,
            "family_id": f.family_id[p.family],
            "nik": padded(p.nik, 16),
            "kk": padded(f.kk[p.family], 16),
            "full_name": p.full_name,
            "sex": pick(("L", "P"), p.female.astype(np.int64)),
            "birth_date": _dates(p.birth),
            "age": p.age,
            "birth_place": p.birth_place,
            "relationship": pick(RELATIONSHIP, p.relationship),
            "marital_status": pick(MARITAL_STATUS, p.marital),
            "education": pick(EDUCATION, p.education),
            "occupation": pick(OCCUPATIONS, p.occupation),
            "disability": pick(DISABILITY, p.disability),
            "region_code": pick(g.village_code, village),
            "address": take(f.address, p.family),
            "rt": padded(f.rt[p.family], 3),
            "rw": padded(f.rw[p.family], 3),
            "nik_district": pick(g.district_code, p.nik_district),
            "is_deceased": p.deceased,
            "death_date": _dates(p.death, ~p.deceased),
        }
    )


def families_table(t: Truth) -> pa.Table:
    f, w, g, p = t.fam, t.wel, t.geo, t.per
    moved = f.moved
    prev_kk = padded(f.prev_kk, 16)
    return pa.table(
        {
            "family_id": f.family_id,
            "kk": padded(f.kk, 16),
            "kk_issued": _dates(f.kk_issued),
            "kind": pick(KINDS, f.kind),
            "head_person_id": p.person_id[f.head],
            "head_nik": padded(p.nik[f.head], 16),
            "region_code": pick(g.village_code, f.village),
            "urban": f.urban,
            "address": f.address,
            "rt": padded(f.rt, 3),
            "rw": padded(f.rw, 3),
            "household_size": f.size,
            "living_members": f.living,
            "moved": moved,
            "moved_on": _dates(f.moved_on, ~f.moved),
            "prev_kk": pa.array(prev_kk.to_numpy(zero_copy_only=False), pa.string(), mask=~moved),
            "prev_region_code": pa.array(
                pick(g.village_code, f.prev_village).to_numpy(zero_copy_only=False), pa.string(), mask=~moved
            ),
            "prev_address": pa.array(f.prev_address.to_numpy(zero_copy_only=False), pa.string(), mask=~moved),
            "welfare_latent": w.latent,
            "regional_effect": w.regional,
            "floor_area": w.floor_area,
            "floor_type": pick(FLOOR, w.floor),
            "wall_type": pick(WALL, w.wall),
            "roof_type": pick(ROOF, w.roof),
            "ownership": pick(OWNERSHIP, w.ownership),
            "water_source": pick(WATER, w.water),
            "sanitation": pick(SANITATION, w.sanitation),
            "lighting": pick(LIGHTING, w.lighting),
            "electricity_va": w.electricity_va,
            "electricity_kwh": w.electricity_kwh,
            "cooking_fuel": pick(COOKING_FUEL, w.cooking),
            "has_motorbike": w.motorbike,
            "has_car": w.car,
            "has_fridge": w.fridge,
            "has_ac": w.ac,
            "has_land": w.land,
            "livestock": w.livestock,
            "has_gold": w.gold,
            "consumption_per_capita": w.consumption,
            "poor": w.poor,
            "extreme_poor": w.extreme_poor,
            "welfare_change": pa.array(
                np.array(["", *CHANGES])[w.change], pa.string(), mask=w.change == 0
            ) if len(w.change) else pa.nulls(len(f.kk), pa.string()),
            "pkh": w.pkh,
            "bpnt": w.bpnt,
            "pbi_jk": w.pbi_jk,
        }
    )
