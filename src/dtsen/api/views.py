"""What the data endpoints answer: one schema per resource, every field optional, and the rows
they are cut from.

A record is first turned into a flat row whose keys are the policy's field names
(`dtsen/security/policy.toml`, `[fields]`), then trimmed by the request's `Decision`
(`decision.project(row)`), then validated into its view with only the kept keys set; the
endpoints answer with `response_model_exclude_unset`, so a response carries exactly the fields
the purpose allows (a field that is allowed and empty is `null`, a field that is not allowed is
absent). Keys of the serving models that no policy field names (`sources`, `records`,
`kk_observed_at`, `consumption_per_capita`) are never answered.

Each response names the release its data came from (`release_id`) and the purpose it was
asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from dtsen.serve.models import Change, Eligibility, Family, Person, RankExplanation, RegionSummary, WelfareStatus
from dtsen.welfare.settings import ProgrammeRule

PERSON_FIELDS = (
    "person_id", "family_id", "nik", "kk", "full_name", "sex", "birth_date", "birth_place", "relationship",
    "marital_status", "education", "occupation", "disability", "region_code", "address", "rt", "rw", "is_deceased",
    "death_date",
)  # fmt: skip
_NOT_SHOWN = frozenset({"consumption_per_capita", "sources", "records"})
FAMILY_FIELDS = tuple(f for f in Family.model_fields if f not in _NOT_SHOWN)
WELFARE_FIELDS = (
    "family_id", "region_code", "persons", "decile", "decile_province", "decile_regency", "rank_province",
    "rank_regency", "predicted_consumption", "poverty_line", "extreme_line", "poor", "extreme_poor", "ranked",
    "model_id", "pkh", "bpnt", "pbi_jk",
)  # fmt: skip
EXPLANATION_FIELDS = ("family_id", "decile", "predicted_consumption", "model_id", "explanation")
ELIGIBILITY_FIELDS = ("family_id", "person_id", "programme", "eligible", "decile", "eligibility_rule",
                      "eligibility_reasons")
SUMMARY_FIELDS = ("region_code", "counts", "deciles", "poverty", "quality")
CHANGE_FIELDS = ("region_code",)
POVERTY_COUNTS = ("poor_families", "poor_persons", "extreme_families", "extreme_persons", "families_ranked",
                  "family_persons")


def _optional(name: str, model: type[BaseModel], fields: Iterable[str], doc: str) -> type[BaseModel]:
    defs: dict[str, Any] = {}
    for f in fields:
        annotation = model.model_fields[f].annotation
        defs[f] = (Optional[annotation], Field(None, description=model.model_fields[f].description))  # noqa: UP045
    return create_model(name, __doc__=doc, __config__=ConfigDict(extra="ignore"), **defs)


class _Welfare(BaseModel):
    family_id: int
    region_code: str | None
    persons: int | None = Field(description="Living members.")
    decile: int | None = Field(description="National welfare decile (1 = poorest tenth).")
    decile_province: int | None
    decile_regency: int | None
    rank_province: int | None
    rank_regency: int | None
    predicted_consumption: float | None = Field(description="PMT consumption per person per month (Rp).")
    poverty_line: float | None
    extreme_line: float | None
    poor: bool | None
    extreme_poor: bool | None
    ranked: bool | None = Field(description="Whether the family has a rank (a living member, and the PMT's data).")
    model_id: str | None
    pkh: bool | None
    bpnt: bool | None
    pbi_jk: bool | None


class _Explanation(BaseModel):
    family_id: int
    decile: int | None
    predicted_consumption: float | None
    model_id: str | None
    explanation: dict[str, Any] | None = Field(
        description="base (the model's intercept), ranking (provincial and regency deciles and ranks) and "
                    "contributions: each predictor's value, its contribution to the predicted ln consumption and "
                    "the average contribution over ranked families.")


class _Eligibility(BaseModel):
    family_id: int
    person_id: int | None = Field(description="The person asked about, when asked by NIK.")
    programme: str
    eligible: bool = Field(description="Whether the programme's rule takes the family (the quota not applied).")
    decile: int | None
    eligibility_rule: dict[str, Any] | None = Field(description="The programme's rule, as the project states it.")
    eligibility_reasons: dict[str, Any] | None = Field(
        description="Why: `reason`, and each condition of the rule with the value it was evaluated on.")


class _Summary(BaseModel):
    region_code: str
    counts: dict[str, Any] | None
    deciles: list[dict[str, Any]] | None
    poverty: dict[str, Any] | None
    quality: list[dict[str, Any]] | None


if TYPE_CHECKING:
    PersonView = BaseModel
    FamilyView = BaseModel
    WelfareView = BaseModel
    ExplanationView = BaseModel
    EligibilityView = BaseModel
    SummaryView = BaseModel
else:
    PersonView = _optional("PersonView", Person, PERSON_FIELDS, "A person, with the fields the purpose allows.")
    FamilyView = _optional("FamilyView", Family, FAMILY_FIELDS, "A family, with the fields the purpose allows.")
    WelfareView = _optional("WelfareView", _Welfare, WELFARE_FIELDS,
                            "A family's rank and poverty flags, with the fields the purpose allows.")
    ExplanationView = _optional("ExplanationView", _Explanation, EXPLANATION_FIELDS,
                                "Why a family has its rank, with the fields the purpose allows.")
    EligibilityView = _optional("EligibilityView", _Eligibility, ELIGIBILITY_FIELDS,
                                "A programme's verdict on a family, with the fields the purpose allows.")
    SummaryView = _optional("SummaryView", _Summary, SUMMARY_FIELDS,
                            "A region's figures as they may be shared (small counts suppressed).")


class _Answer(BaseModel):
    release_id: str = Field(description="The release the data came from.")
    purpose: str = Field(description="The purpose the request stated.")


class PersonAnswer(_Answer):
    person: PersonView


class FamilyAnswer(_Answer):
    family: FamilyView
    members: list[PersonView] = Field(description="The family's members (same fields as a person read).")


class WelfareAnswer(_Answer):
    welfare: WelfareView


class ExplanationAnswer(_Answer):
    explanation: ExplanationView


class EligibilityAnswer(_Answer):
    eligibility: EligibilityView


class SummaryAnswer(_Answer):
    region: str = Field(description="The region code prefix ('' for the whole country).")
    level: str
    threshold: int = Field(description="Counts from 1 to threshold - 1 are suppressed.")
    summary: SummaryView
    suppressed: list[str] = Field(description="Names of the figures hidden by the suppression rule.")


class ReleaseView(BaseModel):
    release_id: str
    current: bool = Field(description="Named in releases/CURRENT.")
    served: bool = Field(description="The release this service answers from now.")
    indexed: bool = Field(description="Has a serving index.")


class ReleaseList(BaseModel):
    served: str | None
    pending: str | None = Field(description="A current release whose serving index is not built yet.")
    releases: list[ReleaseView]


class ManifestAnswer(BaseModel):
    release_id: str
    manifest: dict[str, Any]


class ChangeView(BaseModel):
    entity: str
    id: int
    change: str
    other_id: int | None = None
    fields: list[str] = Field(default_factory=list, description="The tracked fields that changed (update).")
    region_code: str | None = None


class ChangeAnswer(BaseModel):
    purpose: str
    from_release: str
    to_release: str
    region: str | None = Field(description="The region prefix the feed is limited to (null: national).")
    changes: list[ChangeView]
    total: int
    offset: int
    limit: int


# -- rows: serving objects as flat rows named by the policy's fields ------------------------------


def person_row(p: Person) -> dict[str, Any]:
    return p.model_dump(include=set(PERSON_FIELDS))


def family_row(f: Family) -> dict[str, Any]:
    return f.model_dump(include=set(FAMILY_FIELDS))


def welfare_row(w: WelfareStatus) -> dict[str, Any]:
    row = w.model_dump(exclude={"programmes", "release_id"})
    row.update(w.programmes.model_dump())
    return row


def explanation_row(e: RankExplanation) -> dict[str, Any]:
    return {"family_id": e.family_id, "decile": e.decile, "predicted_consumption": e.predicted_consumption,
            "model_id": e.model_id,
            "explanation": {"base": e.base, "ranking": e.ranking,
                            "contributions": [c.model_dump() for c in e.contributions]}}


def eligibility_row(e: Eligibility, rule: ProgrammeRule, person_id: int | None = None) -> dict[str, Any]:
    return {"family_id": e.family_id, "person_id": person_id, "programme": e.programme, "eligible": e.eligible,
            "decile": e.decile, "eligibility_rule": rule.model_dump(mode="json", exclude={"quota", "benefit"}),
            "eligibility_reasons": {"reason": e.reason,
                                    "conditions": [c.model_dump(mode="json") for c in e.conditions]}}


def summary_row(s: RegionSummary) -> dict[str, Any]:
    counts = {k: v.model_dump() for k, v in s.counts.items() if k not in POVERTY_COUNTS}
    poverty = {k: s.counts[k].model_dump() for k in POVERTY_COUNTS if k in s.counts}
    return {"region_code": s.region, "counts": counts, "deciles": [d.model_dump() for d in s.deciles],
            "poverty": poverty, "quality": [q.model_dump() for q in s.quality]}


def change_row(c: Change, fields: frozenset[str]) -> dict[str, Any]:
    row = c.model_dump()
    if "region_code" not in fields:
        row.pop("region_code")
    return row


def trimmed(rows: Iterable[Mapping[str, Any]], fields: frozenset[str]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k in fields} for r in rows]


def jsonable(value: Any) -> Any:
    """Dates as ISO text (for rows that leave through a plain JSON response)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
