"""What the queries return: plain typed objects with every field of the release.

The API trims them per caller and purpose with the policy module; nothing is left out here.
Every answer names the release it came from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Person(_Record):
    person_id: int
    nik: str | None = None
    kk: str | None = None
    family_id: int | None = None
    full_name: str | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    birth_place: str | None = None
    relationship: str | None = None
    marital_status: str | None = None
    education: str | None = None
    occupation: str | None = None
    disability: str | None = None
    region_code: str | None = None
    address: str | None = None
    rt: str | None = None
    rw: str | None = None
    is_deceased: bool | None = None
    death_date: dt.date | None = None
    kk_observed_at: dt.date | None = None
    sources: int | None = None
    records: int | None = None


class Family(_Record):
    family_id: int
    kk: str | None = None
    region_code: str | None = None
    address: str | None = None
    rt: str | None = None
    rw: str | None = None
    household_size: int | None = None
    floor_area: float | None = None
    floor_type: str | None = None
    wall_type: str | None = None
    roof_type: str | None = None
    ownership: str | None = None
    water_source: str | None = None
    sanitation: str | None = None
    lighting: str | None = None
    electricity_va: int | None = None
    electricity_kwh: float | None = None
    cooking_fuel: str | None = None
    has_motorbike: bool | None = None
    has_car: bool | None = None
    has_fridge: bool | None = None
    has_ac: bool | None = None
    has_land: bool | None = None
    livestock: int | None = None
    has_gold: bool | None = None
    pkh: bool | None = None
    bpnt: bool | None = None
    pbi_jk: bool | None = None
    consumption_per_capita: float | None = None
    size: int | None = None
    members_deceased: int | None = None
    children: int | None = None
    elderly: int | None = None
    dependants: int | None = None
    working_age: int | None = None
    disabled: int | None = None
    head_person_id: int | None = None
    head_sex: str | None = None
    all_deceased: bool | None = None
    family_status: str | None = Field(
        None, description="AKTIF, or TIDAK_DITEMUKAN / PINDAH when an approved field check retired the family")
    sources: int | None = None
    records: int | None = None
    province_code: str | None = None
    regency_code: str | None = None
    district_code: str | None = None
    urban: bool | None = None
    head_age: float | None = None
    head_education: str | None = None
    predicted_consumption: float | None = None
    decile: int | None = None
    decile_province: int | None = None
    decile_regency: int | None = None
    rank_province: int | None = None
    rank_regency: int | None = None
    poverty_line: float | None = None
    extreme_line: float | None = None
    poor: bool | None = None
    extreme_poor: bool | None = None
    model_id: str | None = None


class PersonRecord(BaseModel):
    release_id: str
    person: Person


class FamilyRecord(BaseModel):
    release_id: str
    family: Family
    members: list[Person] = Field(default_factory=list)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    release_id: str
    items: list[T]
    total: int
    offset: int
    limit: int


class Programmes(BaseModel):
    pkh: bool | None = None
    bpnt: bool | None = None
    pbi_jk: bool | None = None


class WelfareStatus(BaseModel):
    """A family's place in the ranking and its poverty flags."""

    release_id: str
    family_id: int
    region_code: str | None
    persons: int | None
    decile: int | None
    decile_province: int | None
    decile_regency: int | None
    rank_province: int | None
    rank_regency: int | None
    predicted_consumption: float | None
    poverty_line: float | None
    extreme_line: float | None
    poor: bool | None
    extreme_poor: bool | None
    ranked: bool
    model_id: str | None
    programmes: Programmes


class Contribution(BaseModel):
    predictor: str
    value: Any = None
    contribution: float
    average: float


class RankExplanation(BaseModel):
    """Why a family has its rank: each predictor's contribution to its predicted ln consumption
    per capita, next to the average over ranked families (`dtsen explain family`)."""

    release_id: str
    family_id: int
    model_id: str
    base: float
    predicted_consumption: float | None
    decile: int | None
    ranking: dict[str, Any]
    contributions: list[Contribution]


class Count(BaseModel):
    """A count as it may be shown: `value` is None when suppressed; `shown` is the text."""

    value: int | None
    shown: str


class DecileCount(BaseModel):
    decile: int
    families: Count
    persons: Count


class QualityIndicator(BaseModel):
    indicator: str
    numerator: Count
    denominator: Count
    value: float | None  # None when suppressed
    shown: str


class RegionSummary(BaseModel):
    release_id: str
    region: str  # "" for the whole country
    level: str
    threshold: int
    counts: dict[str, Count]
    deciles: list[DecileCount]
    quality: list[QualityIndicator]
    suppressed: list[str]  # names of the figures hidden


class ReleaseEntry(BaseModel):
    release_id: str
    current: bool
    served: bool
    indexed: bool
    manifest: dict[str, Any]


ChangeKind = Literal["register", "update", "delete", "link", "unlink"]


class Change(BaseModel):
    entity: Literal["person", "family"]
    id: int
    change: ChangeKind
    other_id: int | None = None
    fields: list[str] = Field(default_factory=list)
    region_code: str | None = None


class ChangeFeed(BaseModel):
    from_release: str
    to_release: str
    changes: list[Change]
    total: int
    offset: int
    limit: int
    summary: dict[str, Any] = Field(default_factory=dict)


class Condition(BaseModel):
    """One condition of a programme rule, evaluated for one family."""

    condition: str  # e.g. "deciles", "any_of", "minimum.head_age", "equals.head_sex", "regions", "ranked"
    required: Any
    value: Any = None
    met: bool | None  # None: not evaluated (the family is not ranked, so no rule takes it)


class Eligibility(BaseModel):
    release_id: str
    family_id: int
    programme: str
    eligible: bool
    decile: int | None
    conditions: list[Condition]
    reason: str
