"""The PMT predictors: family variables and member variables aggregated to the family.

DTSEN's proxy means test uses about 39 variables of this kind. Each predictor here is one
column of the family feature table that `family_features` builds on the engine from the
golden families and persons; a project picks its predictors by name (`[welfare] predictors`).

numeric      a number (null when unknown)
categorical  one of a fixed list of categories, the first being the reference (null: unknown)
boolean      true / false (null: unknown)

A categorical predictor's categories come from the canonical vocabularies of `dtsen.schema`,
so a model trained on one release applies to the next.

The head's predictors (`head_age`, `head_female`, `head_education`) are the golden head
person's (`head_person_id`); where that value is null (no living member known, or the head's
birth date, sex or education unknown) they fall back on the head as a family record states it
(`reported_head_age`, `reported_head_sex`, `reported_head_education`, mapped from a survey).
The reported age is in completed years on the date of the report: given `reported_as_of` (the
as-of date of the sources that state it, `reported_head_as_of`), it is aged by the whole years
from that date to `as_of`; without it, it is taken as it stands. The golden family does not carry
each value's own date, so a source whose rows carry their own `observed_at` is aged from its
as-of date all the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from dtsen.consolidate.families import age_on
from dtsen.errors import DtsenError
from dtsen.schema import COOKING_FUEL, EDUCATION, FLOOR, LIGHTING, OWNERSHIP, ROOF, SANITATION, SEX, WALL, WATER

Kind = Literal["numeric", "categorical", "boolean"]

ELECTRICITY = ("TANPA_PLN", "450", "900", "1300", "2200", "3500_PLUS")
OCCUPATION_GROUPS = ("TIDAK_BEKERJA", "PERTANIAN", "BURUH", "USAHA", "FORMAL", "PENSIUNAN", "LAINNYA")
# Free-text occupation -> group, by the first pattern that matches (Dukcapil's wording).
_OCCUPATION_PATTERNS: tuple[tuple[str, str], ...] = (
    ("TIDAK_BEKERJA", "BELUM|TIDAK BEKERJA|PELAJAR|MAHASISWA|MENGURUS RUMAH TANGGA"),
    ("PENSIUNAN", "PENSIUN"),
    ("PERTANIAN", "PETANI|TANI|KEBUN|NELAYAN|PERIKANAN|TERNAK"),
    ("BURUH", "BURUH|TUKANG|SOPIR|PEMBANTU"),
    ("USAHA", "WIRASWASTA|PEDAGANG|DAGANG"),
    ("FORMAL", "KARYAWAN|PEGAWAI|PNS|GURU|DOSEN|TNI|POLRI|PERANGKAT|DOKTER|BIDAN|PERAWAT"),
)

# The columns every feature table carries besides the predictors.
KEY_COLUMNS: tuple[str, ...] = (
    "family_id",
    "region_code",
    "province_code",
    "regency_code",
    "district_code",
    "persons",
)


class PredictorError(DtsenError):
    """A predictor named in the project file or a coefficient table is not known."""


@dataclass(frozen=True)
class Predictor:
    name: str
    kind: Kind
    description: str
    categories: tuple[str, ...] = ()


PREDICTORS: dict[str, Predictor] = {
    p.name: p
    for p in (
        Predictor("log_size", "numeric", "ln of the living members"),
        Predictor("dependency_ratio", "numeric", "children under 15 and elders 60+ per member aged 15-59"),
        Predictor("share_children", "numeric", "share of living members under 15"),
        Predictor("has_disabled", "boolean", "a living member has a disability"),
        Predictor("head_age", "numeric", "age of the head of the family"),
        Predictor("head_female", "boolean", "the head of the family is a woman"),
        Predictor("head_education", "categorical", "highest education of the head", EDUCATION),
        Predictor("head_occupation", "categorical", "work of the head, grouped", OCCUPATION_GROUPS),
        Predictor("max_education", "categorical", "highest education of any member aged 18+", EDUCATION),
        Predictor("urban", "boolean", "the village is a kelurahan or lies in a kota"),
        Predictor("log_floor_area_pc", "numeric", "ln of the floor area per living member (m2)"),
        Predictor("floor_type", "categorical", "widest floor", FLOOR),
        Predictor("wall_type", "categorical", "widest wall", WALL),
        Predictor("roof_type", "categorical", "widest roof", ROOF),
        Predictor("ownership", "categorical", "ownership of the dwelling", OWNERSHIP),
        Predictor("water_source", "categorical", "drinking water", WATER),
        Predictor("sanitation", "categorical", "toilet", SANITATION),
        Predictor("lighting", "categorical", "source of lighting", LIGHTING),
        Predictor("electricity", "categorical", "PLN connection by VA band", ELECTRICITY),
        Predictor("log_kwh", "numeric", "ln(1 + monthly electricity use in kWh)"),
        Predictor("cooking_fuel", "categorical", "cooking fuel", COOKING_FUEL),
        Predictor("has_motorbike", "boolean", "owns a motorbike"),
        Predictor("has_car", "boolean", "owns a car"),
        Predictor("has_fridge", "boolean", "owns a fridge"),
        Predictor("has_ac", "boolean", "owns an air conditioner"),
        Predictor("has_land", "boolean", "owns land"),
        Predictor("has_gold", "boolean", "owns gold or jewellery of 10 g or more"),
        Predictor("livestock", "numeric", "large livestock, head (capped at 20)"),
        Predictor("district_fridge", "numeric", "share of the district's families owning a fridge"),
        Predictor("district_motorbike", "numeric", "share of the district's families owning a motorbike"),
        Predictor("district_ceramic", "numeric", "share of the district's families with a ceramic floor"),
        Predictor("district_floor_area", "numeric", "mean ln floor area per member in the district"),
    )
}
# Area predictors: means over every registry family of the district (kecamatan). The registry
# covers everyone, so these carry the local level of living that the survey's few families in
# a district cannot; PMTs have long used community variables for this.
AREA_PREDICTORS: dict[str, tuple[str, str | None]] = {
    "district_fridge": ("has_fridge", None),
    "district_motorbike": ("has_motorbike", None),
    "district_ceramic": ("floor_type", "KERAMIK"),
    "district_floor_area": ("log_floor_area_pc", None),
}
assert all(p.categories for p in PREDICTORS.values() if p.kind == "categorical")


def select_predictors(names: list[str] | tuple[str, ...], where: str = "") -> tuple[Predictor, ...]:
    """The named predictors in catalogue order (all of them when `names` is empty)."""
    if not names:
        return tuple(PREDICTORS.values())
    unknown = [n for n in names if n not in PREDICTORS]
    if unknown:
        raise PredictorError(
            f"{where + ': ' if where else ''}unknown predictor(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(PREDICTORS)}"
        )
    chosen = set(names)
    return tuple(p for p in PREDICTORS.values() if p.name in chosen)


def _occupation_group(occupation: ir.StringValue) -> ir.StringValue:
    text = occupation.upper()
    expr: ir.StringValue = ibis.literal("LAINNYA")
    for group, pattern in reversed(_OCCUPATION_PATTERNS):
        expr = text.re_search(pattern).ifelse(ibis.literal(group), expr)
    return occupation.isnull().ifelse(ibis.null("string"), expr)


def _electricity(lighting: ir.StringValue, va: ir.IntegerValue) -> ir.StringValue:
    band = (
        ibis.cases(
            (va <= 0, "TANPA_PLN"),
            (va <= 450, "450"),
            (va <= 900, "900"),
            (va <= 1300, "1300"),
            (va <= 2200, "2200"),
            else_="3500_PLUS",
        )
    )
    no_meter = lighting.isin(["NON_PLN", "TIDAK_ADA", "PLN_TANPA_METER"])
    return va.isnull().ifelse(no_meter.ifelse(ibis.literal("TANPA_PLN"), ibis.null("string")), band)


def _education_rank(education: ir.StringValue) -> ir.IntegerValue:
    return education.cases(*((e, i) for i, e in enumerate(EDUCATION)), else_=None).cast("int64")


def _member_features(persons: ir.Table, as_of: dt.date) -> ir.Table:
    """Per family: the highest education of a living member aged 18 or more."""
    p = persons.filter(persons.family_id.notnull())
    living = p.is_deceased.fill_null(False) == ibis.literal(False)
    adult = age_on(p.birth_date, as_of) >= 18
    p = p.filter(living & adult)
    best = p.group_by("family_id").aggregate(_max_edu=_education_rank(p.education).max())
    best = best.mutate(
        max_education=best._max_edu.cases(*((i, e) for i, e in enumerate(EDUCATION)), else_=None)
    ).drop("_max_edu")
    return best


def _area_means(t: ir.Table) -> ir.Table:
    """Add the AREA_PREDICTORS: district means over the families with a living member."""
    window = ibis.window(group_by=t.district_code)
    columns = {}
    for name, (source, category) in AREA_PREDICTORS.items():
        col = t[source]
        value = (col == category) if category is not None else col
        value = value.cast("float64")
        counted = (t.persons > 0) & col.notnull()
        columns[name] = counted.ifelse(value, ibis.null("float64")).mean().over(window)
    return t.mutate(**columns)


def _reported_head(families: ir.Table) -> dict[str, ir.Value]:
    """The head's age, sex and education as the family's records state them (null columns
    for a families table without them, e.g. of an older release)."""
    types = {"age": "float64", "sex": "string", "education": "string"}
    return {
        what: families[f"reported_head_{what}"].cast(kind) if f"reported_head_{what}" in families.columns
        else ibis.null(kind)
        for what, kind in types.items()
    }


def whole_years(since: dt.date, until: dt.date) -> int:
    """Completed years from `since` to `until` (0 when `until` is earlier)."""
    years = until.year - since.year - ((until.month, until.day) < (since.month, since.day))
    return max(years, 0)


def family_features(
    families: ir.Table, persons: ir.Table, as_of: dt.date, reported_as_of: dt.date | None = None
) -> ir.Table:
    """One row per golden family: the key columns, every predictor, the survey target and the
    survey's sampling weight (null outside the survey, or when the survey has none).

    `families` and `persons` are the golden tables of the linkage (`families.parquet`,
    `persons.parquet`); `as_of` is the date ages are counted on; `reported_as_of` the date the
    head ages the family records state were counted on (None: they are taken as they stand).
    """
    f = families
    heads = persons.select(
        head_person_id=persons.person_id,
        _head_birth=persons.birth_date,
        _head_education=persons.education,
        _head_occupation=persons.occupation,
    )
    j = f.left_join(heads, "head_person_id").drop("head_person_id_right")
    best = _member_features(persons, as_of)
    j = j.left_join(best, "family_id").drop("family_id_right")
    reported = _reported_head(j)
    if reported_as_of is not None:
        reported["age"] = reported["age"] + whole_years(reported_as_of, as_of)
    size = j["size"].fill_null(0)
    members = ibis.greatest(size, 1).cast("float64")
    region = j.region_code
    urban = (region.substr(9, 1) == "1") | (region.substr(3, 2).cast("int64") >= 71)
    area_pc = (j.floor_area > 0).ifelse(j.floor_area / members, ibis.null("float64"))
    base = j.select(
        family_id=j.family_id,
        region_code=region,
        province_code=region.substr(0, 2),
        regency_code=region.substr(0, 5),
        district_code=region.substr(0, 8),
        persons=size.cast("int64"),
        log_size=members.ln(),
        dependency_ratio=j.dependants.fill_null(0).cast("float64") / ibis.greatest(j.working_age.fill_null(0), 1),
        share_children=j.children.fill_null(0).cast("float64") / members,
        has_disabled=j.disabled.fill_null(0) > 0,
        head_age=age_on(j._head_birth, as_of).cast("float64").fill_null(reported["age"]),
        head_female=j.head_sex.fill_null(reported["sex"]) == SEX[1],
        head_education=j._head_education.fill_null(reported["education"]),
        head_occupation=_occupation_group(j._head_occupation),
        max_education=j.max_education,
        urban=region.isnull().ifelse(ibis.null("boolean"), urban),
        log_floor_area_pc=area_pc.ln(),
        floor_type=j.floor_type,
        wall_type=j.wall_type,
        roof_type=j.roof_type,
        ownership=j.ownership,
        water_source=j.water_source,
        sanitation=j.sanitation,
        lighting=j.lighting,
        electricity=_electricity(j.lighting, j.electricity_va),
        log_kwh=(j.electricity_kwh.cast("float64").clip(lower=0) + 1.0).ln(),
        cooking_fuel=j.cooking_fuel,
        has_motorbike=j.has_motorbike,
        has_car=j.has_car,
        has_fridge=j.has_fridge,
        has_ac=j.has_ac,
        has_land=j.has_land,
        has_gold=j.has_gold,
        livestock=j.livestock.cast("float64").clip(lower=0, upper=20),
        consumption_per_capita=j.consumption_per_capita.cast("float64"),
        survey_weight=j.survey_weight.cast("float64") if "survey_weight" in j.columns else ibis.null("float64"),
    )
    return _area_means(base).select(*KEY_COLUMNS, *PREDICTORS, "consumption_per_capita", "survey_weight")
