"""Clustering: nodes joined by links at or above the threshold become one person.

Edges are the scored Splink pairs at or above the threshold plus the must-link decisions of
clerical review; cannot-link decisions remove their edge. Connected components (Splink's, on
the same engine) make the clusters. A chain of strong links can still join two records a person
declared different (A=B, B=C, A!=C is refused in a decisions file, but a chain through records
nobody reviewed is not): such clusters, few and small, are rebuilt edge by edge from the
strongest down, skipping any edge that would join a cannot-link pair.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.engine import Engine


def components(engine: Engine, nodes: ir.Table, edges: ir.Table, threshold: float) -> ir.Table:
    """node_key -> cluster (the smallest node_key of its component) for edges >= threshold."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    db = engine.splink_db_api()
    kept = edges.filter(edges.match_probability >= threshold).select("unique_id_l", "unique_id_r", "match_probability")
    n = engine.materialize(nodes.select("node_key"))
    e = engine.materialize(kept)
    out = cluster_pairwise_predictions_at_threshold(
        db.register(engine.physical_name(n)),
        db.register(engine.physical_name(e)),
        db_api=db,
        node_id_column_name="node_key",
        edge_id_column_name_left="unique_id_l",
        edge_id_column_name_right="unique_id_r",
        threshold_match_probability=threshold,
    )
    t = engine.con.table(out.physical_name)
    w = ibis.window(group_by=t.cluster_id)
    return engine.materialize(t.select(node_key=t.node_key, cluster=t.node_key.min().over(w)))


def enforce_cannot_links(
    engine: Engine, clusters: ir.Table, edges: ir.Table, cannot: pa.Table, threshold: float
) -> ir.Table:
    """Split the clusters that hold both sides of a cannot-link pair (node keys in `cannot`)."""
    if cannot.num_rows == 0:
        return clusters
    pairs = engine.from_arrow(cannot.select(["node_l", "node_r"]))
    cl, cr = clusters.view(), clusters.view()
    bad = (
        pairs.join(cl, pairs.node_l == cl.node_key)
        .join(cr, pairs.node_r == cr.node_key)
        .filter(lambda t: t.cluster == t.cluster_right)
        .select(cluster="cluster")
        .distinct()
    )
    bad_arrow = engine.con.to_pyarrow(bad)
    if bad_arrow.num_rows == 0:
        return clusters
    bad_t = engine.from_arrow(bad_arrow)
    members = engine.con.to_pyarrow(clusters.join(bad_t, "cluster").select("node_key", "cluster"))
    e = edges.filter(edges.match_probability >= threshold)
    keys = engine.from_arrow(members.select(["node_key"]))
    inner = e.join(keys, e.unique_id_l == keys.node_key).select("unique_id_l", "unique_id_r", "match_probability")
    inner_edges = engine.con.to_pyarrow(inner).to_pylist()
    relabel = _resolve(
        members.to_pylist(), inner_edges, zip(cannot["node_l"].to_pylist(), cannot["node_r"].to_pylist(), strict=True)
    )
    fix = engine.from_arrow(pa.table({"node_key": list(relabel), "new_cluster": list(relabel.values())}))
    out = clusters.left_join(fix, "node_key")
    return engine.materialize(out.select(node_key=out.node_key, cluster=out.new_cluster.fill_null(out.cluster)))


def _resolve(
    members: list[dict[str, str]], edges: list[dict[str, object]], cannot: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Greedy union of the strongest edges first, never joining a cannot-link pair.

    Runs only on the few clusters that broke a decision, so a Python loop is proportionate."""
    parent = {m["node_key"]: m["node_key"] for m in members}
    apart: dict[str, set[str]] = {k: set() for k in parent}
    for a, b in cannot:
        if a in parent and b in parent:
            apart[a].add(b)
            apart[b].add(a)
    groups = {k: {k} for k in parent}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    ordered = sorted(
        edges,
        key=lambda e: (
            -float(e["match_probability"]),  # type: ignore[arg-type]
            str(e["unique_id_l"]),
            str(e["unique_id_r"]),
        ),
    )
    for edge in ordered:
        a, b = str(edge["unique_id_l"]), str(edge["unique_id_r"])
        if a not in parent or b not in parent:
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if any(apart[x] & groups[rb] for x in groups[ra]):
            continue
        parent[rb] = ra
        groups[ra] |= groups.pop(rb)
    return {k: min(groups[find(k)]) for k in parent}
