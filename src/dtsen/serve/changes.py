"""The change feed between two releases, record by record: what a subscriber is told.

One row per change, with `entity` ('person' or 'family'), `id`, `change`, `other_id`, `fields`
and `region_code` (where the record is in the newer release; for a deletion, where it was):

register  the id is in B and not in A (a new person or family, or a part split off);
          other_id: the person's family
delete    the id is in A and not in B (removed, or absorbed by a merge: other_id is the id
          that absorbed it, from B's linkage events)
update    the id is in both and tracked fields changed: `fields` names them (comma-joined),
          e.g. "is_deceased,death_date" or "decile,poor"
link      a person who is in both joined a family (other_id: the new family); and a merge of
          the linkage (id kept, other_id absorbed into it)
unlink    a person who is in both left a family (other_id: the old family); and a split of
          the linkage (id kept, other_id: the part that left)

Merges and splits come from the linkage events of the releases after A up to B (each release's
`events.parquet` holds its events against the release before it). `dtsen.release.diff` gives
the same comparison as counts; this is its record-level form.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine

CHANGES = ("register", "update", "delete", "link", "unlink")
PERSON_FIELDS = (
    "nik", "kk", "full_name", "sex", "birth_date", "birth_place", "relationship", "marital_status", "education",
    "occupation", "disability", "region_code", "address", "rt", "rw", "is_deceased", "death_date",
    # a sealed release (`vault.release`) carries tokens in place of the identifying values
    "nik_token", "kk_token", "full_name_token", "birth_date_token", "birth_place_token", "address_token",
)  # fmt: skip
FAMILY_FIELDS = (
    "kk", "region_code", "address", "rt", "rw", "size", "head_person_id", "decile", "poor", "extreme_poor",
    "pkh", "bpnt", "pbi_jk", "all_deceased", "kk_token", "address_token",
)  # fmt: skip
COLUMNS = ("entity", "id", "change", "other_id", "fields", "region_code")


def _shape(t: ir.Table, entity: str, change: str, id_: ir.Value, other: ir.Value | None,
           fields: ir.Value | None, region: ir.Value) -> ir.Table:
    return t.select(
        entity=ibis.literal(entity, type="string"),
        id=id_.cast("int64"),
        change=ibis.literal(change, type="string"),
        other_id=(other if other is not None else ibis.null("int64")).cast("int64"),
        fields=(fields if fields is not None else ibis.null("string")).cast("string"),
        region_code=region.cast("string"),
    )


def _snapshot(entity: str, a: ir.Table, b: ir.Table, key: str, tracked: tuple[str, ...],
              merged: ir.Table | None) -> list[ir.Table]:
    """register, delete and update rows of one entity."""
    common = [c for c in tracked if c in a.columns and c in b.columns]
    ka = a.select(_id=a[key], _region_a=a.region_code, **{f"_a_{c}": a[c] for c in common})
    kb = b.select(_id=b[key], _region=b.region_code, **{f"_b_{c}": b[c] for c in common},
                  _family=b.family_id if entity == "person" else ibis.null("int64"))
    added = kb.anti_join(ka, "_id")
    gone = ka.anti_join(kb, "_id")
    if merged is not None:
        gone = gone.left_join(merged, gone._id == merged._absorbed).drop("_absorbed")
        into: ir.Value | None = gone._into
    else:
        into = None
    both = kb.inner_join(ka, "_id")
    parts = [ibis.ifelse(~both[f"_a_{c}"].identical_to(both[f"_b_{c}"]), c, ibis.null("string")) for c in common]
    changed = ibis.literal(",").join(parts).nullif("") if parts else ibis.null("string")
    both = both.mutate(_fields=changed)
    updated = both.filter(both._fields.notnull())
    return [
        _shape(added, entity, "register", added._id, added._family, None, added._region),
        _shape(gone, entity, "delete", gone._id, into, None, gone._region_a),
        _shape(updated, entity, "update", updated._id, None, updated._fields, updated._region),
    ]


def record_changes(engine: Engine, a_dir: Path, b_dir: Path, events: list[Path] | None = None) -> ir.Table:
    """The change feed from release A (older) to release B (see the module docstring).

    `events`: the linkage event tables of the releases after A up to B (default: B's own, which
    is right when A is B's previous release)."""
    pa_, pb = (engine.read_parquet(Path(d) / "persons.parquet") for d in (a_dir, b_dir))
    fa, fb = (engine.read_parquet(Path(d) / "families.parquet") for d in (a_dir, b_dir))
    paths = [p for p in (events if events is not None else [Path(b_dir) / "events.parquet"]) if Path(p).exists()]
    ev = ibis.union(*(engine.read_parquet(p) for p in paths), distinct=False) if paths else None

    def merged(kind: str) -> ir.Table | None:
        if ev is None:
            return None
        m = ev.filter((ev.kind == kind) & (ev.event == "merge"))
        return m.group_by(_absorbed=m.other_id).aggregate(_into=m.id.min())

    parts = _snapshot("person", pa_, pb, "person_id", PERSON_FIELDS, merged("person"))
    parts += _snapshot("family", fa, fb, "family_id", FAMILY_FIELDS, merged("family"))

    # persons in both whose family changed: unlink from the old one, link to the new one
    a = pa_.select(_id=pa_.person_id, _fa=pa_.family_id)
    b = pb.select(_id=pb.person_id, _fb=pb.family_id, _region=pb.region_code)
    moved = b.inner_join(a, "_id")
    moved = moved.filter(~moved._fa.identical_to(moved._fb))
    left = moved.filter(moved._fa.notnull())
    joined = moved.filter(moved._fb.notnull())
    parts.append(_shape(left, "person", "unlink", left._id, left._fa, ibis.literal("family_id"), left._region))
    parts.append(_shape(joined, "person", "link", joined._id, joined._fb, ibis.literal("family_id"), joined._region))

    if ev is not None:
        regions = {
            "person": pb.select(_rid=pb.person_id, _region=pb.region_code),
            "family": fb.select(_rid=fb.family_id, _region=fb.region_code),
        }
        for kind, region in regions.items():
            for event, change in (("merge", "link"), ("split", "unlink")):
                e = ev.filter((ev.kind == kind) & (ev.event == event) & ev.other_id.notnull())
                e = e.left_join(region, e.id == region._rid)
                parts.append(_shape(e, kind, change, e.id, e.other_id, ibis.literal(event), e._region))
    out = ibis.union(*parts, distinct=False)
    return out.order_by(["entity", "id", "change", "other_id"])
