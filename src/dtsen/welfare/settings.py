"""The `[welfare]` and `[programmes.NAME]` sections of the project file.

The PMT model, the poverty lines and the programme rules are data: small typed objects loaded
from `dtsen.toml`, turned into Ibis expressions in one place (`dtsen.welfare.model`,
`dtsen.welfare.ranking`, `dtsen.welfare.targeting`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EXTREME_LINE = 391_000.0
POVERTY_LINE = 595_000.0


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class BoostedSettings(_Section):
    start: Literal["ols", "zero"] = Field(
        "ols",
        description="Where the trees start: from the OLS prediction (they learn what OLS misses) or from zero.",
    )
    rounds: int = Field(200, ge=1, description="Boosting rounds of the gradient-boosted model.")
    learning_rate: float = Field(0.02, gt=0, le=1, description="Learning rate of the gradient-boosted model.")
    leaves: int = Field(7, ge=2, description="Leaves per tree of the gradient-boosted model.")
    min_leaf: int = Field(40, ge=1, description="Fewest survey families in a leaf.")
    batch_rows: int = Field(200_000, ge=1_000, description="Families scored per streamed batch.")


class WelfareSettings(_Section):
    survey: str = Field("susenas", description="The source whose measured consumption_per_capita trains the model.")
    predictors: list[str] = Field(
        default_factory=list, description="PMT predictors (names from `dtsen pmt predictors`); empty: all of them."
    )
    model: Literal["auto", "ols", "boosted", "asset_index", "blend", "external"] = Field(
        "auto",
        description="Which model ranks the families: 'auto' (chosen on held-out regions: the blend unless another "
        "model is clearly better), OLS, the gradient-boosted model, the asset index, the blend of OLS and the "
        "index, or external coefficients.",
    )
    coefficients: Path | None = Field(
        None, description="A coefficient table (predictor,category,weight) a ministry estimated, for model = 'external'."
    )
    region_level: Literal["none", "province", "regency"] = Field(
        "province", description="Regional effects of the OLS model: one intercept shift per province or regency."
    )
    min_region_families: int = Field(
        30, ge=1, description="A region with fewer survey families has no effect of its own: it takes the pooled model."
    )
    ridge: float | Literal["auto"] = Field(
        "auto", description="OLS penalty on standardised weights: 0 for plain OLS, 'auto' for the one that minimises GCV."
    )
    folds: int = Field(5, ge=2, description="Cross-validation folds; families are split by region.")
    seed: int = Field(42, description="Seed of the fold assignment and the boosted model.")
    poverty_line: float = Field(POVERTY_LINE, gt=0, description="National poverty line, Rp per person per month.")
    extreme_line: float = Field(EXTREME_LINE, gt=0, description="Extreme-poverty line, Rp per person per month.")
    poverty_lines: Path | None = Field(
        None,
        description="CSV of lines by province and area: province,area,poverty_line,extreme_line (area URBAN/RURAL/ALL).",
    )
    flags: Literal["calibrated", "threshold"] = Field(
        "calibrated",
        description="How families are flagged poor and extremely poor: 'calibrated' (per regency, the most likely "
        "poor until the estimated headcount is reached) or 'threshold' (predicted consumption under the line).",
    )
    headcounts: Path | None = Field(
        None,
        description="CSV of official headcounts: region,year,poor_share,extreme_share (region a province or "
        "regency code, shares as fractions or percentages); they take precedence over the survey's estimate.",
    )
    headcount_max_rse: float = Field(
        0.10, gt=0, le=1,
        description="A survey headcount is used for a region only when its relative standard error is at most "
        "this; otherwise the model's expected count is (benchmarked to the nearest larger region that has one).",
    )
    boosted: BoostedSettings = Field(
        default_factory=lambda: BoostedSettings(), description="Settings of the gradient-boosted model."
    )

    @model_validator(mode="after")
    def _lines(self) -> WelfareSettings:
        if self.extreme_line > self.poverty_line:
            raise ValueError(f"extreme_line ({self.extreme_line}) is above poverty_line ({self.poverty_line})")
        return self


class ProgrammeRule(_Section):
    """Who a programme takes, as data: every condition must hold; `any_of` needs one to."""

    description: str = Field("", description="What the programme is.")
    deciles: tuple[int, int] = Field((1, 10), description="Inclusive national decile range, e.g. [1, 4].")
    unit: Literal["family", "person"] = Field("family", description="Whom the benefit and the quota count.")
    any_of: list[str] = Field(
        default_factory=list, description="Family count fields of which at least one must be above zero."
    )
    minimum: dict[str, float] = Field(default_factory=dict, description="Field -> smallest allowed value.")
    maximum: dict[str, float] = Field(default_factory=dict, description="Field -> largest allowed value.")
    equals: dict[str, str | bool | int] = Field(default_factory=dict, description="Field -> required value.")
    regions: list[str] = Field(
        default_factory=list, description="Region code prefixes (e.g. '32.04'); empty: everywhere."
    )
    quota: int | None = Field(None, ge=0, description="Most families (or persons, when unit = 'person') taken.")
    benefit: float = Field(0.0, ge=0, description="Rp per unit per year, for the cost of the simulation.")

    @model_validator(mode="after")
    def _range(self) -> ProgrammeRule:
        lo, hi = self.deciles
        if not 1 <= lo <= hi <= 10:
            raise ValueError(f"deciles [{lo}, {hi}] must satisfy 1 <= first <= last <= 10")
        return self


# The ranked-family fields a programme rule may name, with their kind. `dtsen.welfare.ranking`
# writes every one of them; the project file is checked against this list.
RULE_FIELDS: dict[str, Literal["count", "number", "text", "bool"]] = {
    "size": "count",
    "children": "count",
    "elderly": "count",
    "dependants": "count",
    "working_age": "count",
    "disabled": "count",
    "members_deceased": "count",
    "head_age": "number",
    "predicted_consumption": "number",
    "decile_province": "number",
    "decile_regency": "number",
    "head_sex": "text",
    "head_education": "text",
    "urban": "bool",
    "poor": "bool",
    "extreme_poor": "bool",
    "p_poor": "number",
    "p_extreme": "number",
    "pkh": "bool",
    "bpnt": "bool",
    "pbi_jk": "bool",
}
