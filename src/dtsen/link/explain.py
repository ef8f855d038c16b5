"""Why a person is who they are: the source records behind them and the links between those.

Reads a linkage run's output (`work/link/`): the person's golden values with their provenance,
every source record linked to them, and for each link either the deterministic reason (the same
NIK, with birth date, sex and name agreeing) or Splink's verdict field by field: the comparison
level each field reached and its match weight.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dtsen.errors import DtsenError

SHOWN = (
    "source",
    "file",
    "row",
    "nik",
    "full_name",
    "sex",
    "birth_date",
    "kk",
    "region_code",
    "address",
    "observed_at",
)


class ExplainError(DtsenError):
    """The person or the run to explain does not exist."""


@dataclass(frozen=True)
class PairReason:
    record_l: str
    record_r: str
    probability: float
    weight: float
    fields: list[tuple[str, str, float]]  # comparison, level reached, match weight


@dataclass(frozen=True)
class PersonExplanation:
    person_id: int
    golden: dict[str, Any]
    provenance: list[dict[str, Any]]
    records: list[dict[str, Any]]  # each with record_key, method, match_probability and SHOWN fields
    pairs: list[PairReason]


def _read(link_dir: Path, name: str) -> pa.Table:
    path = link_dir / f"{name}.parquet"
    if not path.exists():
        raise ExplainError(f"no linkage output at {link_dir} ({path.name} missing): run `dtsen link` first")
    return pq.read_table(path)


def _levels(model: dict[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """comparison -> (label, match weight) of each level, from the trained m and u."""
    out: dict[str, list[tuple[str, float]]] = {}
    for comp in model.get("comparisons", []):
        levels = []
        for lv in comp["comparison_levels"]:
            label = str(lv.get("label_for_charts") or lv.get("sql_condition"))
            m, u = lv.get("m_probability"), lv.get("u_probability")
            if lv.get("is_null_level"):
                levels.append(("missing on one side", 0.0))
            elif m and u:
                levels.append((label, math.log2(m / u)))
        out[comp["output_column_name"]] = levels
    return out


def _level_of(levels: list[tuple[str, float]], weight: float) -> str:
    """The level whose weight Splink gave (the output keeps weights, not level numbers)."""
    if not levels:
        return "?"
    label, w = min(levels, key=lambda lw: abs(lw[1] - weight))
    return label if abs(w - weight) < 1e-6 else "?"


def explain_person(link_dir: Path, person_id: int, records: pa.Table) -> PersonExplanation:
    """Everything known about one person. `records` are the person-level source records with
    their record_key (from `dtsen.link.records.load_records`), to show the values they hold."""
    links = _read(link_dir, "links")
    mine = links.filter(pc.equal(links["person_id"], person_id))
    if mine.num_rows == 0:
        raise ExplainError(f"person {person_id} is not in the run at {link_dir}")
    persons = _read(link_dir, "persons")
    golden = persons.filter(pc.equal(persons["person_id"], person_id)).to_pylist()
    prov = _read(link_dir, "provenance")
    prov = prov.filter(pc.and_(pc.equal(prov["entity"], "person"), pc.equal(prov["id"], person_id)))
    keys = mine["record_key"]
    held = records.filter(pc.is_in(records["record_key"], keys))
    shown = [c for c in SHOWN if c in held.column_names]
    values = {r["record_key"]: r for r in held.select(["record_key", *shown]).to_pylist()}
    rows = []
    for link in mine.sort_by([("source", "ascending"), ("row", "ascending")]).to_pylist():
        rows.append(
            {
                "record_key": link["record_key"],
                "method": link["method"],
                "match_probability": link["match_probability"],
                **values.get(link["record_key"], {}),
            }
        )
    pairs = _pairs(link_dir, set(keys.to_pylist()))
    return PersonExplanation(person_id, golden[0] if golden else {}, prov.to_pylist(), rows, pairs)


def _pairs(link_dir: Path, keys: set[str]) -> list[PairReason]:
    table = _read(link_dir, "pairs")
    mask = pc.and_(
        pc.is_in(table["record_key_l"], pa.array(sorted(keys))), pc.is_in(table["record_key_r"], pa.array(sorted(keys)))
    )
    model_path = link_dir / "model.json"
    levels = _levels(json.loads(model_path.read_text(encoding="utf-8"))) if model_path.exists() else {}
    out = []
    for row in table.filter(mask).sort_by([("match_probability", "descending")]).to_pylist():
        fields = []
        for comp, labels in levels.items():
            weight = float(row.get(f"mw_{comp}") or 0.0)
            label = _level_of(labels, weight)
            tf = row.get(f"mw_tf_adj_{comp}")
            if tf:
                weight += float(tf)
                label += f" (term frequency {float(tf):+.2f})"
            fields.append((comp, label, round(weight, 2)))
        out.append(
            PairReason(
                row["record_key_l"],
                row["record_key_r"],
                float(row["match_probability"] or 0.0),  # a NIK-conflict pair for review has none
                float(row["match_weight"] or 0.0),
                fields,
            )
        )
    return out
