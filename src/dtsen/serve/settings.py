"""The `[serving]` section of the project file: where serving indexes live, how bulk matching decides."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    dir: str = Field("serving", description="Where the serving index of each release is written (one directory per release id).")
    match_threshold: float = Field(
        0.9, gt=0, lt=1,
        description="Bulk matching: a candidate at or above this match probability matches (as link.threshold).",
    )
    ambiguity_margin: float = Field(
        5.0, ge=0,
        description="Bulk matching: with several candidates above the threshold, the best one is taken only when its "
                    "match weight leads the next by at least this many bits; otherwise the row is ambiguous.",
    )
    index_on_build: bool = Field(
        True, description="`dtsen build` writes the serving index of the new release right after publishing it "
                          "(step `index`); without it, run `dtsen index build`.",
    )
    max_page_size: int = Field(1000, ge=1, description="Most records one list or search query returns per page.")
    check_interval: float = Field(
        1.0, ge=0, description="Seconds between two looks at releases/CURRENT while serving (0: every request).",
    )
