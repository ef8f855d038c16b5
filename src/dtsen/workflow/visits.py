"""Ground-check submissions (ODK Central / KoboToolbox exports of the visit form) recorded on
their cases, so that what the officer found goes through the same approval as everything else.

    import_visits(wf, Path("kunjungan.csv"), style="odk")   # -> VisitImport

Each submission is for one family (`keluarga`, a family id of the release); it is recorded on
that family's open case in `verification` (the oldest one), as the visit's answers
(`dtsen.workflow.changes.VisitAnswers`):

ditemukan = tidak          the family was not found: it is retired (family_status TIDAK_DITEMUKAN)
pindah = ya                the family moved away: family_status PINDAH
jumlah_meninggal, nama_meninggal   each name is matched to one member of the family (same name
                           once spaces, case and punctuation are set aside, or the same words in
                           another order): that member is marked deceased. A name that matches
                           no member or several, or fewer names than the count, stays
                           `unresolved`: dinas sosial names the member in the web form before the
                           case can be verified
F_hasil                    the value the visit settles for each welfare field F

The visit's form is `odk`, and its officer the form's `petugas`. A submission whose
family has no open case in verification is not recorded; `VisitImport.skipped` names its row and
why (never silently dropped). Recording is dtsen's own transition (`system = true`), audited as
`system:import` with the export's file name.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from dtsen.errors import DtsenError
from dtsen.ingest.readers import stage_file
from dtsen.store.tables import cases
from dtsen.verify.field_results import FORM_COLUMNS, ExportStyle, column_name
from dtsen.verify.xlsform import NO, WELFARE_FIELDS, YES
from dtsen.workflow.changes import MemberDeath, Moved, VisitAnswers, changes_from_visit, dump_changes
from dtsen.workflow.names import name_key
from dtsen.workflow.registry import FamilyRecord, PersonRecord
from dtsen.workflow.service import Workflow

ACTOR = "system:import"


@dataclass
class VisitImport:
    recorded: dict[int, int] = field(default_factory=dict)  # spreadsheet row -> case id
    unresolved: dict[int, list[str]] = field(default_factory=dict)  # case id -> what needs a person
    skipped: dict[int, str] = field(default_factory=dict)  # spreadsheet row -> why


def match_deaths(names: str, count: int, family: FamilyRecord) -> tuple[list[PersonRecord], list[str]]:
    """The living members the form's names point to, and what cannot be settled."""
    given = [n.strip() for n in re.split(r"[,;\n]+", names or "") if n.strip()]
    living = [m for m in family.members if not m.is_deceased and m.full_name]
    keys = [(m, *name_key(str(m.full_name))) for m in living]
    found: list[PersonRecord] = []
    unresolved: list[str] = []
    for i, name in enumerate(given, start=1):
        flat, words = name_key(name)
        hits = [m for m, f, w in keys if f == flat] or [m for m, f, w in keys if w == words]
        if len(hits) == 1 and hits[0] not in found:
            found.append(hits[0])
        else:
            unresolved.append(f"nama meninggal ke-{i} tidak cocok dengan satu anggota / deceased name {i} matches "
                              f"{'no' if not hits else 'more than one'} member")
    if count > len(given):
        unresolved.append(f"{count - len(given)} anggota meninggal tanpa nama / deceased members without a name")
    return found, unresolved


def _date(text: str) -> dt.date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    if text.isdigit():  # an Excel serial number
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    raise ValueError("not a date")


def _value(kind: str, text: str) -> Any:
    if kind == "bool":
        return text.strip().lower() == YES
    if kind == "integer":
        return int(float(text))
    return text.strip().upper()


def answers_of(row: dict[str, Any], style: ExportStyle, family: FamilyRecord) -> VisitAnswers:
    """The visit answers of one submission (raises ValueError with the reason when unreadable)."""
    group = dict(FORM_COLUMNS)

    def get(name: str) -> str:
        value = row.get(column_name(name, group.get(name, ""), style))
        return "" if value is None else str(value)

    found = get("ditemukan").strip().lower() != NO
    moved = get("pindah").strip().lower() == YES
    fields: dict[str, Any] = {}
    deaths: list[MemberDeath] = []
    unresolved: list[str] = []
    if found and not moved:
        for f in WELFARE_FIELDS:
            text = get(f"{f.name}_hasil")
            if text.strip():
                fields[f.name] = _value(f.kind, text)
        count = int(get("jumlah_meninggal") or 0)
        if count or get("nama_meninggal").strip():
            members, unresolved = match_deaths(get("nama_meninggal"), count, family)
            deaths = [MemberDeath(person_id=m.person_id) for m in members]
    return VisitAnswers(visited_on=_date(get("tanggal_kunjungan")), found=found,
                        moved=Moved() if found and moved else None, deceased=deaths, family_fields=fields,
                        unresolved=unresolved, notes=get("catatan")[:2000], form="odk",
                        officer=get("petugas")[:64] or None)


def import_visits(wf: Workflow, path: Path, style: ExportStyle = "plain") -> VisitImport:
    """Record every submission of an export on its family's open case (see the module docstring)."""
    out = VisitImport()
    registry = wf.registry()
    with tempfile.TemporaryDirectory(prefix="dtsen-visits-") as tmp:
        staged = stage_file(Path(path), Path(tmp))
        rows = pq.read_table(staged.staged).to_pylist()
    ref_column = column_name("keluarga", "", style)
    if rows and ref_column not in rows[0]:
        raise DtsenError(f"{path}: no column {ref_column!r}; is this an export of the dtsen visit form "
                         f"(style {style})?")
    for row in rows:
        number = int(row["_row"])
        ref = str(row.get(ref_column) or "").strip()
        if not ref.isdigit():
            out.skipped[number] = "family_ref_missing"
            continue
        family = registry.family(int(ref))
        if family is None:
            out.skipped[number] = "family_unknown"
            continue
        with wf.store.reading() as conn:
            case = conn.execute(sa.select(cases).where(cases.c.family_id == int(ref), cases.c.state == "verification")
                                .order_by(cases.c.id).limit(1)).mappings().first()
        if case is None:
            out.skipped[number] = "no open case in verification for this family"
            continue
        try:
            answers = answers_of(row, style, family)
        except (ValueError, TypeError) as exc:
            out.skipped[number] = f"unreadable answers ({type(exc).__name__})"
            continue
        visit = answers.model_dump(mode="json")
        try:
            changes = dump_changes(changes_from_visit(answers.model_copy(update={"unresolved": []}), family))
        except DtsenError as exc:
            out.skipped[number] = f"answers do not fit the family ({len(exc.problems)} problems)"
            continue
        with wf.store.writing() as conn:
            wf.system_act(conn, dict(case), "visit", f"{ACTOR}:{Path(path).name[:40]}",
                          {"visit": visit, "changes": [] if answers.unresolved else changes})
        out.recorded[number] = int(case["id"])
        if answers.unresolved:
            out.unresolved[int(case["id"])] = answers.unresolved
    return out
