"""What changed between two releases: people and families, and whose decile moved.

persons   added (person_id only in B), removed (only in A), merged and split (the linkage's
          events of B, when B was built on A), newly deceased (alive in A, deceased in B), and
          the persons in both whose NIK changed (`nik_changed`: the NIK itself, or, when both
          releases are sealed (`vault.release`), its token: tokens are equal exactly when the
          NIKs are, under one token key version; left out when only one of the two is sealed,
          or the token key versions differ)
families  added, removed, and the families in both whose national decile moved: by how many
          deciles (B - A, negative = poorer), counted per regency and in total
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from dtsen.engine import Engine


@dataclass
class ReleaseDiff:
    a: str
    b: str
    persons: dict[str, int] = field(default_factory=dict)
    families: dict[str, int] = field(default_factory=dict)
    decile_moves: list[dict[str, Any]] = field(default_factory=list)  # move -> families
    by_regency: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "persons": self.persons, "families": self.families,
                "decile_moves": self.decile_moves, "by_regency": self.by_regency}


def _count(t: ir.Table) -> int:
    return int(t.count().execute())


def _token_version(release_dir: Path) -> Any:
    path = release_dir / "manifest.json"
    if not path.exists():
        return None
    vault = json.loads(path.read_text(encoding="utf-8")).get("vault") or {}
    return vault.get("token_version")


def _comparable(a_dir: Path, b_dir: Path, a: ir.Table, b: ir.Table, column: str) -> str | None:
    """The column both persons tables hold `column` in: itself, or its token when both releases
    are sealed under the same token key version; None when they cannot be compared."""
    if column in a.columns and column in b.columns:
        return column
    token = f"{column}_token"
    if token in a.columns and token in b.columns and _token_version(a_dir) == _token_version(b_dir):
        return token
    return None


def diff_releases(engine: Engine, a_dir: Path, b_dir: Path) -> ReleaseDiff:
    """Compare release A (older) with release B."""
    out = ReleaseDiff(a=a_dir.name, b=b_dir.name)
    pa_, pb = (engine.read_parquet(d / "persons.parquet") for d in (a_dir, b_dir))
    ka = pa_.select(_id=pa_.person_id, _dead_a=pa_.is_deceased.fill_null(False))
    kb = pb.select(person_id=pb.person_id, _dead_b=pb.is_deceased.fill_null(False))
    both = kb.inner_join(ka, kb.person_id == ka._id)
    out.persons = {
        "a": _count(pa_),
        "b": _count(pb),
        "added": _count(kb.anti_join(ka, kb.person_id == ka._id)),
        "removed": _count(ka.anti_join(kb, ka._id == kb.person_id)),
        "newly_deceased": _count(both.filter(both._dead_b & ~both._dead_a)),
    }
    nik = _comparable(a_dir, b_dir, pa_, pb, "nik")
    if nik is not None:
        na = pa_.select(_nid=pa_.person_id, _nik_a=pa_[nik].cast("string"))
        nb = pb.select(_pid=pb.person_id, _nik_b=pb[nik].cast("string"))
        n = nb.inner_join(na, nb._pid == na._nid)
        out.persons["nik_changed"] = _count(n.filter(n._nik_a.fill_null("") != n._nik_b.fill_null("")))
    events_path = b_dir / "events.parquet"
    if events_path.exists():
        ev = engine.read_parquet(events_path)
        ev = ev.filter(ev.kind == "person")
        out.persons["merged"] = _count(ev.filter(ev.event == "merge"))
        out.persons["split"] = _count(ev.filter(ev.event == "split"))

    fa, fb = (engine.read_parquet(d / "families.parquet") for d in (a_dir, b_dir))
    da = fa.select(_fid=fa.family_id, _decile_a=fa.decile)
    db = fb.select(family_id=fb.family_id, regency_code=fb.regency_code, _decile_b=fb.decile)
    j = db.inner_join(da, db.family_id == da._fid)
    j = j.filter(j._decile_a.notnull() & j._decile_b.notnull())
    j = j.mutate(move=(j._decile_b - j._decile_a).cast("int64"))
    out.families = {
        "a": _count(fa),
        "b": _count(fb),
        "added": _count(db.anti_join(da, db.family_id == da._fid)),
        "removed": _count(da.anti_join(db, da._fid == db.family_id)),
        "decile_moved": _count(j.filter(j.move != 0)),
    }
    moved = j.filter(j.move != 0)
    moves = moved.group_by("move").aggregate(families=moved.count()).order_by("move")
    out.decile_moves = [{k: int(v) for k, v in r.items()} for r in moves.to_pyarrow().to_pylist()]
    regency = moved.group_by("regency_code").aggregate(
        families_moved=moved.count(),
        poorer=(moved.move < 0).cast("int64").sum(),
        richer=(moved.move > 0).cast("int64").sum(),
        mean_move=moved.move.mean(),
    ).order_by("regency_code")
    out.by_regency = [
        {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
        for r in regency.to_pyarrow().to_pylist()
    ]
    return out

