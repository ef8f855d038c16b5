"""Stable identities: give this run's clusters the ids of the previous run's (issue 3, section 2).

Clustering hands out temporary labels that mean nothing from one run to the next. This module
turns them into `person_id` / `family_id` values that persist across releases, one generic
function serving both: for persons the members are record keys, for families the members are
person ids (cast to string).

The rules, all decided on member keys and counts, never on row order or on the temporary labels:

- Ids are int64 handed out in increasing order, so a smaller id is an older one. They are
  opaque counters, not derived from the NIK or any other personal data.
- The *heir* of a previous id is the current cluster holding most of its members (ties: the
  cluster whose smallest member key is smallest).
- A cluster inherits, among the previous ids whose heir it is, the oldest (smallest). So a
  cluster that carries on keeps its id; a split keeps the id on the larger part; a merge keeps
  the older id.
- Clusters that inherit nothing get new ids, numbered from `next_id` (or from `floor`, when
  that is higher) in the order of their smallest member key. `floor` is the highest next id any
  release present ever handed out: after a rollback to an older release, ids that the newer
  releases handed out are never given to other people.

Every change is recorded in the events table (only when a previous run is given):

- ``split``: members of previous id ``id`` are now in a cluster other than its heir;
  ``other_id`` is the id of that cluster (a new id when the part left on its own), ``members``
  how many of ``id``'s members went there.
- ``merge``: previous id ``other_id`` was absorbed by the cluster that keeps the older ``id``;
  ``members`` is how many of ``other_id``'s members went with it.
- ``new``: ``id`` was handed out in this run (a new cluster, or a part that split off);
  ``members`` is the cluster's size.
- ``removed``: none of previous id ``id``'s members is present anymore; ``members`` is how many
  it had.

So every previous id either carries on (it is in `ids`), is absorbed (a merge event) or is
removed, and every id in `ids` is either carried on or new.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

EVENT_KINDS = ("split", "merge", "new", "removed")


@dataclass(frozen=True)
class Identities:
    """The stable ids of one run's clusters, what changed, and the next id to hand out."""

    ids: ir.Table  # cluster, id (int64): one row per current cluster
    events: ir.Table  # kind, event, id, other_id, members
    next_id: int  # the first id not handed out yet, after this run


def _require(table: ir.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; it has {', '.join(table.columns)}")


def _scalar_int(expr: ir.Scalar) -> int | None:
    value = expr.to_pyarrow().as_py()
    return None if value is None else int(value)


def _numbered(table: ir.Table, start: int) -> ir.Table:
    """Add `id`: start, start + 1, ... in the order of `first_key`.

    One row_number over the whole table would pull every row into one Spark partition; so the
    rows are numbered within buckets of the key's first two characters (truncating a string
    keeps its order), and each bucket is shifted by the sizes of the buckets before it.
    """
    keyed = table.mutate(_bucket=table.first_key.substr(0, 2).fill_null(""))
    sizes = keyed.group_by("_bucket").agg(_n=keyed.count())
    before = sizes._n.sum().over(ibis.window(order_by=sizes._bucket, preceding=None, following=0)) - sizes._n
    sizes = sizes.select("_bucket", _offset=before)
    keyed = keyed.join(sizes, "_bucket")
    rank = ibis.row_number().over(group_by=keyed._bucket, order_by=keyed.first_key)
    numbered = keyed.mutate(id=(rank + keyed._offset + start).cast("int64"))
    return numbered.drop("_bucket", "_offset")


def _event_rows(
    table: ir.Table,
    kind: str,
    event: str,
    id_: ir.Value,
    other_id: ir.Value | None,
    members: ir.Value,
) -> ir.Table:
    """One shape for every kind of event, so that they can be stacked."""
    return table.select(
        kind=ibis.literal(kind, type="string"),
        event=ibis.literal(event, type="string"),
        id=id_.cast("int64"),
        other_id=(other_id if other_id is not None else ibis.null()).cast("int64"),
        members=members.cast("int64"),
    )


def assign_ids(
    members: ir.Table,
    previous: ir.Table | None,
    *,
    kind: str,
    next_id: int | None = None,
    floor: int | None = None,
) -> Identities:
    """Give every cluster of `members` a stable id, carrying on the ids of `previous`.

    `members` has one row per member: member_key (string, unique) and cluster (a temporary
    label). `previous` has member_key and id (int64) from the previous run, or is None for a
    first run. `kind` ('person', 'family') is written into the events. `next_id` is the first
    id the previous run had not handed out (its manifest says; ids of removed clusters are never
    handed out again); by default max(previous id) + 1, or 1 on a first run. `floor`, when given,
    is the least id new clusters may get (the highest next id of every release present).

    Two small scalar queries run here (the highest previous id, the count of new ids); `ids`
    and `events` stay lazy. On large data, materialize `members` and `previous` first, and
    `ids` before using it more than once.
    """
    _require(members, ("member_key", "cluster"), "members")
    mem = members.select(member_key=members.member_key.cast("string"), cluster=members.cluster)
    clusters = mem.group_by("cluster").agg(first_key=mem.member_key.min(), size=mem.count())

    if previous is None:
        start = 1 if next_id is None else next_id
        if start < 1:
            raise ValueError(f"next_id must be at least 1, not {start}")
        start = max(start, floor or 1)
        ids = _numbered(clusters, start).select("cluster", "id")
        n_new = _scalar_int(clusters.count()) or 0
        no_events = _event_rows(clusters.filter(ibis.literal(False)), kind, "new", clusters.size, None, clusters.size)
        return Identities(ids=ids, events=no_events, next_id=start + n_new)

    _require(previous, ("member_key", "id"), "previous")
    prev = previous.select(member_key=previous.member_key.cast("string"), prev_id=previous.id.cast("int64"))
    max_prev = _scalar_int(prev.prev_id.max())
    least = 1 if max_prev is None else max_prev + 1
    start = least if next_id is None else next_id
    if start < least:
        raise ValueError(f"next_id {start} would hand out an id again: the previous run already has id {least - 1}")
    start = max(start, floor or 1)

    # How many members of each previous id each current cluster holds.
    joined = mem.join(prev, "member_key")
    overlap = joined.group_by(["prev_id", "cluster"]).agg(n=joined.count())
    overlap = overlap.join(clusters.select("cluster", "first_key"), "cluster")
    heir_rank = ibis.row_number().over(group_by=overlap.prev_id, order_by=[overlap.n.desc(), overlap.first_key])
    overlap = overlap.mutate(heir_rank=heir_rank)

    # Each previous id goes to its heir; each heir keeps the oldest of the ids it is heir of.
    heirs = overlap.filter(overlap.heir_rank == 0)
    heirs = heirs.mutate(kept=heirs.prev_id.min().over(group_by=heirs.cluster))
    inherited = heirs.filter(heirs.prev_id == heirs.kept).select("cluster", id=heirs.prev_id)
    absorbed = heirs.filter(heirs.prev_id != heirs.kept)

    # Clusters that inherit nothing get new ids, in the order of their smallest member.
    fresh = clusters.anti_join(inherited, "cluster")
    fresh = _numbered(fresh, start)
    ids = ibis.union(inherited.select("cluster", "id"), fresh.select("cluster", "id"), distinct=False)

    left = overlap.filter(overlap.heir_rank > 0).select("prev_id", "cluster", "n")
    left = left.join(ids.select(cluster="cluster", to_id="id"), "cluster")
    gone = prev.group_by("prev_id").agg(n=prev.count())
    gone = gone.anti_join(overlap.select("prev_id").distinct(), "prev_id")

    events = ibis.union(
        _event_rows(left, kind, "split", left.prev_id, left.to_id, left.n),
        _event_rows(absorbed, kind, "merge", absorbed.kept, absorbed.prev_id, absorbed.n),
        _event_rows(fresh, kind, "new", fresh.id, None, fresh.size),
        _event_rows(gone, kind, "removed", gone.prev_id, None, gone.n),
        distinct=False,
    )
    n_new = _scalar_int(fresh.count()) or 0
    return Identities(ids=ids, events=events, next_id=start + n_new)
