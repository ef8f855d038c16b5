"""What each action of people takes as its body (the approval is given by signing a batch:
`dtsen.workflow.approval`), and reading one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dtsen.errors import Problem
from dtsen.workflow.changes import VisitAnswers
from dtsen.workflow.errors import InvalidCaseInput, TransitionRefused


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonBody(_Body):
    reason: str = Field(min_length=3, max_length=2000, description="Why (shown to the case's handlers).")


class NoteBody(_Body):
    note: str | None = Field(None, max_length=2000)


class MusdesBody(_Body):
    """The record of a musyawarah desa/kelurahan."""

    held_on: dt.date
    place: str = Field(min_length=1, max_length=200)
    attendees: list[str] = Field(min_length=1, max_length=300, description="Who attended (names or roles).")
    decisions: str = Field(min_length=3, max_length=4000, description="What the meeting decided about the case.")
    minutes_evidence_id: int = Field(ge=1, description="The uploaded signed minutes (evidence of kind 'minutes').")


class AssignBody(_Body):
    officer: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$",
                         description="The username of the field officer (or dinas sosial operator).")


ACTION_BODIES: dict[str, type[BaseModel]] = {
    "accept": NoteBody, "forward": NoteBody, "musdes": MusdesBody, "assign": AssignBody, "visit": VisitAnswers,
    "verify": NoteBody, "return": ReasonBody, "reject": ReasonBody,
}
"""The body each action takes (approve is given by signing a batch: dtsen.workflow.approval)."""


def _validation_problems(exc: ValidationError) -> list[Problem]:
    return [Problem(str(e.get("msg", "")), where=".".join(str(x) for x in e.get("loc", ()))) for e in exc.errors()]


def parse_body(action: str, body: Mapping[str, Any]) -> BaseModel:
    model = ACTION_BODIES.get(action)
    if model is None:
        raise TransitionRefused(f"tindakan {action!r} tidak dikenal / unknown action {action!r}; "
                                f"actions: {', '.join(ACTION_BODIES)}")
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        raise InvalidCaseInput(f"isian untuk {action} tidak sah / the body of {action} is not valid",
                               _validation_problems(exc)) from None


