"""The family page's view model: the golden record as the policy lets this viewer see it, its
members, where each value came from (provenance), and the family's decile and flags over the
releases.

The route asks the policy (`Decision` for the family) and hands the decision in; everything here
is trimmed to `decision.fields`, release by release (a family that lay outside the viewer's
region in an earlier release shows nothing for that release).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from dtsen.security.policy import Decision, Resource, Scope
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import family_by_id
from dtsen.serve.models import FamilyRecord
from dtsen.web.charts import Chart, decile_history_spec
from dtsen.web.messages import Translator
from dtsen.web.state import WebState

# What the page shows of a family, in order, in groups (each shown only when allowed).
FAMILY_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("group.identity", ("family_id", "kk", "region_code", "address", "rt", "rw", "size", "household_size",
                        "children", "elderly", "disabled", "members_deceased")),
    ("group.welfare", ("decile", "decile_regency", "decile_province", "predicted_consumption", "poverty_line",
                       "extreme_line", "poor", "extreme_poor", "model_id")),
    ("group.programmes", ("pkh", "bpnt", "pbi_jk")),
    ("group.dwelling", ("floor_area", "floor_type", "wall_type", "roof_type", "ownership", "water_source",
                        "sanitation", "lighting", "electricity_va", "electricity_kwh", "cooking_fuel")),
    ("group.assets", ("has_motorbike", "has_car", "has_fridge", "has_ac", "has_land", "livestock", "has_gold")),
)
MEMBER_FIELDS: tuple[str, ...] = ("person_id", "full_name", "nik", "sex", "birth_date", "relationship",
                                  "marital_status", "education", "occupation", "disability", "is_deceased",
                                  "death_date")
HISTORY_FIELDS: tuple[str, ...] = ("decile", "poor", "extreme_poor", "pkh", "bpnt", "pbi_jk")
PROVENANCE = "provenance"


@dataclass
class Provenance:
    entity: str  # family or person
    id: int
    field: str
    value: str
    source: str
    observed_at: dt.date | None
    agreeing: int | None
    candidates: int | None


@dataclass
class HistoryRow:
    release_id: str
    values: dict[str, Any]  # trimmed; empty when the family is absent or outside the viewer's scope
    present: bool
    in_scope: bool


@dataclass
class FamilyPage:
    release_id: str
    family_id: int
    region_code: str | None
    region_name: str
    purpose: str
    fields: frozenset[str]
    groups: list[tuple[str, list[tuple[str, Any]]]]
    members: list[dict[str, Any]]
    member_fields: list[str]
    provenance: dict[tuple[str, int], list[Provenance]] | None  # None: the purpose does not see provenance
    history: list[HistoryRow]
    charts: dict[str, Chart] = field(default_factory=dict)
    from_cases: dict[tuple[str, int, str], tuple[int, int]] = field(default_factory=dict)  # (case, batch)


def provenance_dataset(state: WebState, h: ReleaseHandle) -> ds.Dataset | None:
    """The release's provenance table as a dataset (sorted by entity and id, so a filter on them
    reads only the row groups that hold them)."""

    def open_dataset() -> ds.Dataset | None:
        path = h.release_dir / "provenance.parquet" if h.release_dir is not None else None
        if path is None or not path.exists():
            return None
        return ds.dataset(str(path), format="parquet")

    found: ds.Dataset | None = state.memo(h.release_id, "provenance", open_dataset)
    return found


def provenance_of(state: WebState, h: ReleaseHandle, family_id: int, person_ids: list[int],
                  fields: frozenset[str]) -> dict[tuple[str, int], list[Provenance]]:
    """Where each allowed value of the family and its members came from."""
    dataset = provenance_dataset(state, h)
    out: dict[tuple[str, int], list[Provenance]] = {}
    if dataset is None:
        return out
    entity, ident = ds.field("entity"), ds.field("id")
    wanted = (entity == "family") & (ident == family_id)
    if person_ids:
        wanted = wanted | ((entity == "person") & ident.isin(pa.array(person_ids, pa.int64())))
    table = dataset.to_table(filter=wanted)
    for row in table.sort_by([("entity", "ascending"), ("id", "ascending"), ("field", "ascending")]).to_pylist():
        if row["field"] not in fields:
            continue
        out.setdefault((row["entity"], int(row["id"])), []).append(Provenance(
            entity=row["entity"], id=int(row["id"]), field=row["field"], value=str(row["value"]),
            source=str(row["source"]), observed_at=row.get("observed_at"), agreeing=row.get("agreeing_sources"),
            candidates=row.get("candidate_sources")))
    return out


def cases_behind(state: WebState, h: ReleaseHandle, provenance: dict[tuple[str, int], list[Provenance]]
                 ) -> dict[tuple[str, int, str], tuple[int, int]]:
    """(entity, id, field) -> (case, batch) for the values an approved case gave
    (`dtsen.workflow.provenance`); empty when no value came from one."""
    from dtsen.workflow.export import SOURCES
    from dtsen.workflow.provenance import field_cases

    out: dict[tuple[str, int, str], tuple[int, int]] = {}
    if h.release_dir is None:
        return out
    for (entity, ident), rows in provenance.items():
        if any(r.source in SOURCES for r in rows):  # field_cases has no id column: one record at a time
            for fc in field_cases(state.settings, h.release_dir, entity, [ident]):
                out.setdefault((entity, ident, fc.field), (fc.case_id, fc.batch_id))
    return out


def history_of(state: WebState, h: ReleaseHandle, family_id: int, scope: Scope) -> list[HistoryRow]:
    """The family's decile, flags and programmes in each served release up to `h`'s."""
    rows: list[HistoryRow] = []
    for rid in state.release_ids():
        if rid > h.release_id:
            continue
        handle = h if rid == h.release_id else state.earlier(rid)
        record = family_by_id(handle, family_id)
        if record is None:
            rows.append(HistoryRow(rid, {}, present=False, in_scope=True))
            continue
        f = record.family
        decision = scope.decide(Resource(f.region_code, f.family_id))
        if not decision.allowed:
            rows.append(HistoryRow(rid, {}, present=True, in_scope=False))
            continue
        values = {k: v for k, v in decision.project(f.model_dump()).items() if k in HISTORY_FIELDS}
        rows.append(HistoryRow(rid, values, present=True, in_scope=True))
    return rows


def build_family_page(state: WebState, h: ReleaseHandle, record: FamilyRecord, decision: Decision, scope: Scope,
                      purpose: str, t: Translator) -> FamilyPage:
    f = record.family
    fields = decision.fields
    data = decision.project(f.model_dump())
    groups = []
    for key, names in FAMILY_GROUPS:
        shown = [(name, data[name]) for name in names if name in data]
        if shown:
            groups.append((key, shown))
    members = [decision.project(m.model_dump()) for m in record.members]
    member_fields = [name for name in MEMBER_FIELDS if name in fields]
    provenance = None
    from_cases: dict[tuple[str, int, str], tuple[int, int]] = {}
    if PROVENANCE in fields:
        provenance = provenance_of(state, h, f.family_id, [m.person_id for m in record.members], fields)
        from_cases = cases_behind(state, h, provenance)
    history = history_of(state, h, f.family_id, scope)
    page = FamilyPage(release_id=h.release_id, family_id=f.family_id, region_code=f.region_code,
                      region_name=state.region_name(f.region_code or ""), purpose=purpose, fields=fields,
                      groups=groups, members=members, member_fields=member_fields, provenance=provenance,
                      history=history, from_cases=from_cases)
    if "decile" in fields:
        points = [{"rilis": r.release_id, "desil": r.values["decile"]} for r in history
                  if r.values.get("decile") is not None]
        releases = [r.release_id for r in history]
        if points:
            page.charts["history"] = state.charts.render(
                decile_history_spec(points, releases, t("chart.history_title")),
                t("chart.history_alt", family=f.family_id))
    return page
