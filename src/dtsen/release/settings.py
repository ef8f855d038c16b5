"""The `[release]`, `[quality]` and `[verify]` sections of the project file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ReleaseSettings(_Section):
    dir: str = Field("releases", description="Where releases are published (one directory per release id).")


class QualitySettings(_Section):
    suppress_below: int = Field(
        10, ge=0, description="Counts under this are shown as '<N' on shareable pages (small-count suppression)."
    )
    worst_villages: int = Field(10, ge=1, description="How many of the worst villages a regency scorecard names.")
    stale_after_days: int = Field(
        730, ge=1, description="A family whose newest observation is older than this many days counts as stale."
    )


class VerifySettings(_Section):
    visits_per_village: int = Field(5, ge=0, description="Ground-check capacity: families visited per village.")
    random_share: float = Field(
        0.2, ge=0, le=1, description="Share of each village's visits drawn at random, so the effect can be measured."
    )
    seed: int = Field(42, description="Seed of the random draw.")
    weights: dict[str, float] = Field(
        default_factory=dict, description="Per risk signal, its weight in the risk score (default weights otherwise)."
    )
    export_regions: list[str] = Field(
        default_factory=list,
        description="Region code prefixes whose village lists and forms a build writes; empty: all, up to export_max_villages.",
    )
    export_max_villages: int = Field(
        2000, ge=0, description="With no export_regions, a build writes the lists of all villages only up to this many."
    )
    officers: str | None = Field(
        None, description="CSV of field officers and their villages (officer,region_code) for checking field results."
    )
