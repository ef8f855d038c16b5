"""What the workflow's pages show, from the workflow library (`dtsen.workflow`): the case queue,
one case with the forms of the actions the viewer may take next, the cases about a family, and
how a page's form becomes an action's body. The rules (who may do what, in which state, with
which requirements) stay in the library; this module only asks it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dtsen import schema
from dtsen.web.viewer import Viewer
from dtsen.workflow.cases import CaseView, Filters
from dtsen.workflow.changes import FAMILY_CHANGE_FIELDS
from dtsen.workflow.errors import InvalidCaseInput, WorkflowError
from dtsen.workflow.service import Workflow

CASE_PURPOSE = "case_work"

# What staff file from the dashboard: "<case type>:<kind>" and the catalogue key of its label.
FILING_KINDS: tuple[tuple[str, str], ...] = (
    ("usul:data_change", "kind.data_change"),
    ("usul:missing_person", "kind.missing_person"),
    ("usul:missing_family", "kind.missing_family"),
    ("usul:pbi_reactivation", "kind.pbi_reactivation"),
    ("sanggah:not_eligible", "kind.not_eligible"),
    ("village_report:death", "kind.death"),
    ("village_report:move", "kind.move"),
)


def workflow_of(viewer: Viewer) -> Workflow:
    wf: Workflow = viewer.state.workflow()
    return wf


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def typed_value(field: str, text: str) -> Any:
    """A family field's value typed as the schema says (a form sends text); text the library
    then refuses, with the reason, when it is not one."""
    spec = schema.FIELDS["family"].get(field)
    kind = spec.dtype if spec is not None else "str"
    try:
        if kind == "bool" and text.lower() in ("ya", "yes", "true", "1", "tidak", "no", "false", "0"):
            return text.lower() in ("ya", "yes", "true", "1")
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text.replace(",", "."))
    except ValueError:
        pass
    return text


def action_body(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The body of `action` (`dtsen.workflow.bodies`) from the case page's form fields; the
    library checks it."""
    if action in ("return", "reject"):
        return {"reason": _text(form, "alasan")}
    if action in ("accept", "forward", "verify"):
        return {"note": _text(form, "catatan") or None}
    if action == "assign":
        return {"officer": _text(form, "petugas")}
    if action == "musdes":
        attendees = [line.strip() for line in _text(form, "hadir").splitlines() if line.strip()]
        return {"held_on": _text(form, "tanggal") or None, "place": _text(form, "tempat"), "attendees": attendees,
                "decisions": _text(form, "keputusan"), "minutes_evidence_id": form.get("berita_acara")}
    if action == "visit":
        visited = _text(form, "tanggal") or None
        body: dict[str, Any] = {"visited_on": visited, "found": _text(form, "ditemukan") != "tidak",
                                "notes": _text(form, "catatan"), "form": "web"}
        deceased = form.get("meninggal") or []
        if deceased:
            body["deceased"] = [{"person_id": int(p), "death_date": visited} for p in deceased]
        field = _text(form, "kolom")
        if field:
            if field not in FAMILY_CHANGE_FIELDS:
                raise InvalidCaseInput(f"kolom {field!r} tidak dapat diubah / field {field!r} cannot be changed")
            body["family_fields"] = {field: typed_value(field, _text(form, "nilai"))}
        return body
    raise InvalidCaseInput(f"tindakan {action!r} tidak dikenal / unknown action {action!r}")


def _row(viewer: Viewer, c: CaseView) -> dict[str, Any]:
    return {"c": c, "region_name": viewer.state.region_name(c.region_code)}


def queue_context(viewer: Viewer, filters: Filters) -> dict[str, Any]:
    """The case queue: the cases within the viewer's region (the library scopes and audits the
    list), the states to filter on, and the overdue counts per village."""
    wf = workflow_of(viewer)
    rows = [_row(viewer, c) for c in wf.cases(viewer.access, CASE_PURPOSE, filters)]
    overdue = []
    if viewer.can("case.overdue", CASE_PURPOSE):
        for r in wf.overdue(viewer.access, CASE_PURPOSE, level="village"):
            overdue.append({**r, "region_name": viewer.state.region_name(str(r["region"]))})
    return {**viewer.page_context(), "rows": rows, "filters": filters, "overdue": overdue,
            "states": [(k, s.label) for k, s in wf.machine.states.items()],
            "can_file": viewer.can("case.create", CASE_PURPOSE),
            "next_after": rows[-1]["c"].id if len(rows) == filters.limit else None}


def case_page_context(viewer: Viewer, case_id: int) -> dict[str, Any]:
    """One case as the viewer may see it, with what each action they may take next needs."""
    wf = workflow_of(viewer)
    case = wf.get(viewer.access, CASE_PURPOSE, case_id)
    officers: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    if "assign" in case.actions:
        officers = wf.officers(case.region_code)
    if "visit" in case.actions and case.family_id is not None:
        try:
            _, family = wf.family(case.family_id)
            members = [{"person_id": m.person_id, "relationship": m.relationship} for m in family.members]
        except WorkflowError:
            members = []
    minutes = [e for e in (case.evidence or []) if e.kind == "minutes"]
    return {**viewer.page_context(), "case": case, "region_name": viewer.state.region_name(case.region_code),
            "officers": officers, "members": members, "minutes": minutes, "family_fields": FAMILY_CHANGE_FIELDS,
            "today": dt.date.today().isoformat(),
            "can_upload": "musdes" in case.actions or "visit" in case.actions}


def family_cases(viewer: Viewer, family_id: int) -> list[CaseView] | None:
    """The cases about a family (None when the viewer may not list cases)."""
    if not viewer.can("case.list", CASE_PURPOSE):
        return None
    wf = workflow_of(viewer)
    return wf.cases(viewer.access, CASE_PURPOSE, Filters(family_id=family_id, limit=200))


CHILD_LEVEL = {0: "province", 2: "regency", 5: "district", 8: "village"}


def overdue_below(viewer: Viewer, region: str) -> list[dict[str, Any]] | None:
    """The overdue cases per region directly below `region` (within the viewer's scope; the
    library scopes and audits), for the region overview; None when the viewer has no case work."""
    level = CHILD_LEVEL.get(len(region))
    if level is None or not viewer.can("case.overdue", CASE_PURPOSE):
        return None
    wf = workflow_of(viewer)
    rows = wf.overdue(viewer.access, CASE_PURPOSE, level=level)
    inside = [r for r in rows if not region or str(r["region"]).startswith(region + ".")]
    return [{**r, "region_name": viewer.state.region_name(str(r["region"]))} for r in inside]
