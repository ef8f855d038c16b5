"""Why a family has its decile (`dtsen explain family` through the serving layer), as a table and
a chart: each predictor's contribution to the family's predicted ln consumption per capita
against the average ranked family's, largest differences first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dtsen.engine import Engine
from dtsen.security.policy import Decision
from dtsen.serve import welfare
from dtsen.serve.handle import ReleaseHandle
from dtsen.web.charts import Chart, contribution_spec
from dtsen.web.messages import Translator
from dtsen.web.pages import NotFound
from dtsen.web.state import WebState
from dtsen.welfare.artefact import ModelArtefactError
from dtsen.welfare.explain import ExplainFamilyError

FIELD = "explanation"
CHART_ROWS = 12


@dataclass
class ExplanationRow:
    predictor: str
    value: Any
    contribution: float
    average: float
    difference: float


@dataclass
class ExplanationView:
    release_id: str
    model_id: str
    decile: int | None
    predicted_consumption: float | None
    base: float
    rows: list[ExplanationRow]
    charts: dict[str, Chart] = field(default_factory=dict)


def explanation_view(state: WebState, h: ReleaseHandle, family_id: int, decision: Decision, t: Translator,
                     engine: Engine | None = None) -> ExplanationView:
    if FIELD not in decision.fields:
        raise NotFound("penjelasan tidak tersedia untuk tujuan ini / no explanation for this purpose")
    try:
        ex = welfare.explain_rank(h, family_id, engine=engine)
    except (ExplainFamilyError, ModelArtefactError):
        raise NotFound("keluarga ini tidak diperingkat di rilis ini / this family is not ranked in this release") \
            from None
    rows = [ExplanationRow(c.predictor, c.value, c.contribution, c.average, c.contribution - c.average)
            for c in ex.contributions]
    rows.sort(key=lambda r: (-abs(r.difference), r.predictor))
    view = ExplanationView(release_id=h.release_id, model_id=ex.model_id, decile=ex.decile,
                           predicted_consumption=ex.predicted_consumption, base=ex.base, rows=rows)
    top = [{"prediktor": f"{r.predictor} = {r.value}", "selisih": round(r.difference, 4)} for r in rows[:CHART_ROWS]]
    if top:
        view.charts["contributions"] = state.charts.render(
            contribution_spec(top, t("chart.explain_title"), t("chart.explain_axis")),
            t("chart.explain_alt", family=family_id))
    return view
