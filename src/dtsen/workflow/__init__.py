"""The workflow of issue 16: ground checks, usul, sanggah and village reports moving through
village review, dinas sosial's verification and the kepala daerah's signed approval into the next
release, on the operational store; every transition audited and region-scoped.

    machine      the state machine as data (machine.toml), checked at start-up
    guards       what a transition may require (a reason, the minutes, an assigned officer, ...)
    cases        case rows, what is filed, what staff and citizens see; list filters
    changes      what a verified case changes, from a visit's answers; canonical JSON
    service      `Workflow`: create, read, list, overdue, transitions, evidence (the library the
                 API, the pages and the CLI call)
    bodies       what each action takes as its body
    overdue      cases past their deadline, per region
    approval     approval batches: compose, view, sign (Ed25519), verify
    citizens     prove who one is, family status, file usul and sanggah, follow one's cases
    evidence     images and PDF checked by content, kept outside served directories
    export       approved, verified batches -> the field-check sources of the next build
    provenance   from a release's provenance back to the cases
    sync         after a build: approved cases in the release -> released (or refused)
    build_step   the part `dtsen build` runs before ingest and after publishing
    visits       ODK / Kobo submissions recorded on their cases
    outbox, adapters, notices   notifications: the outbox table, its delivery, the channels
    registry     the release as the workflow sees it (families, members, candidates)
    names        names compared as people write them
    settings, errors            the `[workflow]` section; the errors

Public names are imported lazily, so that `dtsen.config` can import the settings alone.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Workflow": "service", "CaseDraft": "cases", "CaseView": "cases", "StatusView": "cases", "Filters": "cases",
    "Machine": "machine", "load_machine": "machine", "VisitAnswers": "changes", "Change": "changes",
    "compose": "approval", "sign": "approval", "verify": "approval", "export_approved": "export",
    "sync_release": "sync", "import_visits": "visits", "deliver": "outbox", "WorkflowSettings": "settings",
    "WorkflowError": "errors", "field_cases": "provenance",
}  # fmt: skip
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dtsen.workflow' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dtsen.workflow.{module}"), name)
