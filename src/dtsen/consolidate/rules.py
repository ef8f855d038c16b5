"""Survivorship rules: which source's value a golden record keeps, declared per field.

The rules are data (section `[survivorship]` of `dtsen.toml`), turned into one ranking in
`dtsen.consolidate.survivorship`. For each entity and field, the non-null values of its source
records are ranked by:

1. a decisive value (built in: a death reported by a source named in `deaths_from`);
2. `above_all`: sources whose values win over everything when present (field checks: by
   default the source `cek_lapangan`), in the order listed;
3. the field's rule: `source_order` (position of the source in `order`; sources not listed come
   after, among themselves by recency) or `most_recent` (the latest `observed_at`);
4. tie-breakers: recency, then agreement (how many distinct sources hold the same value), then
   the position in `order`, the source name and the record key (so that the result never
   depends on the order of the input).

Rules given in the project file are laid over the built-in defaults field by field: naming one
field keeps the defaults of all the others; `default` is the rule of every field not named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from dtsen.errors import DtsenError
from dtsen.schema import FIELDS, Level

RuleKind = Literal["source_order", "most_recent"]

DEFAULT_KEY = "default"


class SurvivorshipError(DtsenError):
    """Golden records cannot be built: a required column is missing from the records."""


class FieldRule(BaseModel):
    """How the surviving value of one field is chosen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: RuleKind = Field(
        "most_recent",
        description="'source_order': the first source in `order` that has a value; "
        "'most_recent': the value with the latest observed_at.",
    )
    order: list[str] = Field(
        default_factory=list,
        description="Source names, best first. Sources not listed rank after, among themselves by recency. "
        "With 'most_recent' the order only breaks ties between values observed on the same date.",
    )

    @model_validator(mode="after")
    def _order_needed(self) -> FieldRule:
        if self.rule == "source_order" and not self.order:
            raise ValueError("rule 'source_order' needs a non-empty `order` (source names, best first)")
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"`order` names a source twice: {self.order}")
        return self


# -- built-in defaults, for the synthetic sources (dukcapil, dtks, regsosek_*, bpjs, p3ke, pln, ...) --
_IDENTITY_ORDER = ["dukcapil", "bpjs", "regsosek_art", "dtks"]


def _order(*sources: str) -> FieldRule:
    return FieldRule(rule="source_order", order=list(sources))


_RECENT = FieldRule(rule="most_recent")

DEFAULT_PERSON_RULES: dict[str, FieldRule] = {
    DEFAULT_KEY: _RECENT,
    # identity: the civil registry first, then the sources that copy it most faithfully
    "nik": _order(*_IDENTITY_ORDER),
    "full_name": _order(*_IDENTITY_ORDER),
    "sex": _order(*_IDENTITY_ORDER),
    "birth_date": _order(*_IDENTITY_ORDER),
    "birth_place": _order(*_IDENTITY_ORDER),
    # identity that changes over time: the civil registry, else the latest observation
    "kk": _order("dukcapil"),
    "relationship": _order("dukcapil"),
    "is_deceased": _order("dukcapil"),
    "death_date": _order("dukcapil"),
    # address, region, education, occupation, marital status, disability: the default (most recent)
}

DEFAULT_FAMILY_RULES: dict[str, FieldRule] = {
    DEFAULT_KEY: _RECENT,
    # dwelling, assets, address: the default (most recent); the authorities for their own field:
    "electricity_va": _order("pln"),
    "electricity_kwh": _order("pln"),
    "pkh": _order("pkh"),
    "bpnt": _order("sembako"),
    "consumption_per_capita": _order("susenas"),
}


def _check_key(level: Level, key: str) -> str:
    known = [f for f in FIELDS[level] if f != "observed_at"]
    if key != DEFAULT_KEY and key not in known:
        raise ValueError(f"unknown {level} field {key!r}; known: {DEFAULT_KEY}, {', '.join(known)}")
    return key


def _person_key(key: str) -> str:
    return _check_key("person", key)


def _family_key(key: str) -> str:
    return _check_key("family", key)


# dict keys checked one by one, so that every unknown field is reported at once
PersonField = Annotated[str, AfterValidator(_person_key)]
FamilyField = Annotated[str, AfterValidator(_family_key)]

# The field-check source (ODK / KoboToolbox exports, `dtsen.verify.field_results`): its name is
# the ground-check folder's, and what the quality indicators count as a field check.
DEFAULT_ABOVE_ALL = ["cek_lapangan"]
DEFAULT_DEATHS_FROM = ["dukcapil"]


class SurvivorshipSettings(BaseModel):
    """Section `[survivorship]` of the project file: per-field rules for golden records."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    above_all: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ABOVE_ALL),
        description="Sources whose values win over every other source when present (field checks), best first.",
    )
    deaths_from: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DEATHS_FROM),
        description="Sources whose report of a death marks the person deceased, whatever the other sources say.",
    )
    person: dict[PersonField, FieldRule] = Field(
        default_factory=lambda: dict(DEFAULT_PERSON_RULES),
        description="Per person field (or `default`): the survivorship rule; laid over the built-in rules.",
    )
    family: dict[FamilyField, FieldRule] = Field(
        default_factory=lambda: dict(DEFAULT_FAMILY_RULES),
        description="Per family field (or `default`): the survivorship rule; laid over the built-in rules.",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for level, defaults in (("person", DEFAULT_PERSON_RULES), ("family", DEFAULT_FAMILY_RULES)):
            given = out.get(level)
            if isinstance(given, Mapping):
                out[level] = {**defaults, **given}
        return out

    def rule_for(self, level: Level, field: str) -> FieldRule:
        """The rule of one field: its own, else the level's `default`."""
        rules = self.person if level == "person" else self.family
        return rules.get(field) or rules.get(DEFAULT_KEY) or _RECENT


def unknown_source_refs(settings: SurvivorshipSettings, known: set[str]) -> list[tuple[tuple[str, ...], str]]:
    """Source names the project does not declare, with where they stand (path under
    `survivorship`). Built-in defaults are not reported: a default naming a source the project
    lacks is harmless (it never matches); only what the project file changed is checked."""
    refs: list[tuple[tuple[str, ...], str]] = []
    for key, default in (("above_all", DEFAULT_ABOVE_ALL), ("deaths_from", DEFAULT_DEATHS_FROM)):
        names: list[str] = getattr(settings, key)
        if names != default:
            refs += [((key,), n) for n in names if n not in known]
    for level, defaults in (("person", DEFAULT_PERSON_RULES), ("family", DEFAULT_FAMILY_RULES)):
        rules: dict[str, FieldRule] = getattr(settings, level)
        for name, rule in rules.items():
            if defaults.get(name) == rule:
                continue
            refs += [((level, name, "order"), s) for s in rule.order if s not in known]
    return refs


def unknown_sources(settings: SurvivorshipSettings, known: set[str]) -> list[str]:
    """One message per source name in the survivorship rules that is not a declared source."""
    listing = ", ".join(sorted(known)) or "(none)"
    return [
        f"survivorship.{'.'.join(path)} names unknown source {name!r} (known: {listing})"
        for path, name in unknown_source_refs(settings, known)
    ]
