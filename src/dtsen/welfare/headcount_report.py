"""The headcounts as a regency's scorecard shows them: estimate, source and flagged, side by side.

`headcounts.parquet` (`dtsen.welfare.headcounts`, written by `dtsen rank` under work/welfare/)
holds the figures; `regency_rows` turns one regency's into the rows of the scorecard section
`quality/templates/_headcounts.html.j2` (Bahasa Indonesia), with the scorecards' small-count
suppression (`dtsen.quality.suppress`): a count under the threshold is shown as "<10".

The hook, for the release build and the scorecard (not wired here, those files are another
part's): copy `work/welfare/headcounts.parquet` into the release, pass its frame to
`write_scorecards(..., headcounts=frame)`, put `"headcounts": regency_rows(frame, regency,
threshold)` into each regency page's context, and `{% include "_headcounts.html.j2" %}` in
`scorecard.html.j2`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dtsen.quality.suppress import DASH, format_count, suppress

LINE_WORDS = {"poor": "Miskin", "extreme": "Miskin ekstrem"}
SOURCE_WORDS = {
    "official": "Angka resmi BPS",
    "survey": "Susenas (tertimbang)",
    "model": "Model PMT",
    "mixed": "Campuran",
}


def _count(value: Any, threshold: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return suppress(round(float(value)), threshold)


def regency_rows(headcounts: pd.DataFrame, regency: str, threshold: int) -> list[dict[str, str]]:
    """Per line (poor, extreme): the regency's estimate, its source, the survey's estimate with its
    standard error, the model's expected count and the persons and families flagged, as text."""
    part = headcounts[(headcounts["level"] == "regency") & (headcounts["region"] == regency)]
    rows: list[dict[str, str]] = []
    for line in ("poor", "extreme"):
        found = part[part["line"] == line].to_dict("records")
        if not found:
            continue
        r = {str(k): v for k, v in found[0].items()}
        survey = _count(r.get("survey_estimate"), threshold)
        se = r.get("survey_standard_error")
        if survey not in (DASH,) and se is not None and not (isinstance(se, float) and math.isnan(se)):
            survey = f"{survey} ± {format_count(round(float(se)))}"
        rows.append({
            "line": LINE_WORDS[line],
            "persons": format_count(round(float(r["persons"]))),
            "estimate": _count(r["estimate"], threshold),
            "source": SOURCE_WORDS.get(str(r["source"]), str(r["source"])),
            "survey": survey,
            "survey_families": format_count(int(r.get("survey_families") or 0)),
            "model": _count(r.get("model_estimate"), threshold),
            "flagged": _count(r.get("flagged_persons"), threshold),
            "flagged_families": _count(r.get("flagged_families"), threshold),
        })
    return rows
