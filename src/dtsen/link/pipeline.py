"""The linkage job: ingested records -> persons, families, golden records, with stable ids.

Steps, each on the engine:

1. stack the ingested records of every source, one table per level, each with a record key;
2. the deterministic NIK pass (`deterministic.py`), which maps every record to a node;
3. the Splink model (`model.py`): trained on all records, scoring pairs among the nodes;
4. the NIK vetoes (`deterministic.veto_different_niks`), clerical-review decisions applied,
   clusters formed (`cluster.py`);
5. stable person ids (`identity.py`) against the previous run, if one is named;
6. golden persons with provenance (`dtsen.consolidate`), families from the chosen KK, stable
   family ids, family-level records attached (`families.py`), golden families;
7. the review file for the uncertain band, and every table written under `work/link/`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.config import Settings
from dtsen.consolidate import golden_families, golden_persons
from dtsen.engine import Engine
from dtsen.link import cluster, model
from dtsen.link.deterministic import (
    LINKING_METHODS,
    apart_within_clusters,
    nik_pass,
    source_rank,
    veto_different_niks,
)
from dtsen.link.families import attach_family_records, family_members
from dtsen.link.identity import assign_ids
from dtsen.link.previous import IdFloor, PreviousRun, file_sha256, load_previous, write_manifest
from dtsen.link.records import load_records, withheld
from dtsen.link.review import apply_decisions, read_decisions, write_review

REVIEW_FIELDS = ("nik", "full_name", "sex", "birth_date", "kk", "region_code", "address", "rt", "rw", "source")
OUTPUT_TABLES = ("links", "persons", "families", "provenance", "conflicts", "events", "nik_conflicts", "pairs")

Step = Callable[[str], None]


@dataclass
class LinkResult:
    """What a linkage run made, and how long each phase took."""

    out_dir: Path
    release_id: str
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    review_file: Path | None = None
    review_pairs: int = 0
    notes: list[str] = field(default_factory=list)


def link_dir(settings: Settings) -> Path:
    return settings.work_dir / "link"


def _trust(settings: Settings) -> dict[str, dict[str, float]]:
    return {name: dict(src.trust) for name, src in settings.sources.items()}


def link(engine: Engine, settings: Settings, step: Step | None = None, *, id_floor: IdFloor | None = None) -> LinkResult:
    """Run the whole linkage for the project; see the module docstring. `id_floor`: the least
    ids new persons and families may get (`dtsen build` passes the highest next ids of every
    release present, so that a rollback never hands an id out twice)."""
    say = step or (lambda _label: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    opts = settings.link
    previous: PreviousRun | None = None
    if opts.previous:
        previous = load_previous(engine, settings.path(opts.previous), expect_release=opts.previous_release)

    say("reading records")
    li = load_records(engine, settings)
    persons_in = li.person
    phase("read")

    say("deterministic NIK pass")
    trust = _trust(settings)
    decisions = _read_decisions(engine, settings, persons_in)
    ranks = source_rank({s: trust[s] for s in li.person_sources})
    det = nik_pass(persons_in, ranks)
    assignment = det.assignment if decisions is None else _detach(det.assignment, decisions)
    assignment = engine.materialize(assignment)
    node_rows = persons_in.join(assignment.filter(assignment.record_key == assignment.node_key), "record_key")
    node_rows = node_rows.mutate(nik=ibis.ifelse(node_rows.nik_conflict, ibis.null("string"), node_rows.nik))
    nodes = engine.materialize(model.features(node_rows).rename(unique_id="record_key"))
    tf = engine.materialize(model.name_frequencies(nodes))
    phase("deterministic")

    say("training the model (EM)")
    options = model.ModelOptions(u_max_pairs=opts.u_max_pairs, em_max_pairs=opts.em_max_pairs, seed=opts.seed)
    trained = model.train(engine, persons_in, tf, options)
    phase("train")

    say("scoring candidate pairs")
    scored = model.predict(engine, nodes, tf, trained, options, floor=opts.review_low)
    phase("predict")

    say("clustering")
    edges = scored.rename(record_key_l="unique_id_l", record_key_r="unique_id_r")
    registry = [src for src, rank in ranks.items() if rank == 0]
    edges = veto_different_niks(edges.mutate(method=ibis.literal("splink")), nodes, registry)
    edges = _with_nik_conflicts(edges, det.pairs)
    cannot = pa.table({"node_l": pa.array([], pa.string()), "node_r": pa.array([], pa.string())})
    if decisions is not None:
        node_decisions = _to_nodes(decisions, assignment)
        edges = apply_decisions(edges, node_decisions)
        cannot_t = node_decisions.filter(node_decisions.decision == "cannot_link")
        cannot = engine.con.to_pyarrow(cannot_t.select(node_l="record_key_l", node_r="record_key_r"))
    edges = engine.materialize(edges)
    graph = edges.filter(edges.method.isin(LINKING_METHODS)).rename(
        unique_id_l="record_key_l", unique_id_r="record_key_r"
    )
    clusters = cluster.components(engine, nodes.select(node_key="unique_id"), graph, opts.threshold)
    # two people by their NIKs and names stay two, even when a chain of other nodes joins them;
    # a reviewer's must-link decision overrides
    apart = apart_within_clusters(clusters, nodes, registry)
    if decisions is not None:
        must = node_decisions.filter(node_decisions.decision == "must_link")
        must = must.select(_must_l=ibis.least(must.record_key_l, must.record_key_r),
                           _must_r=ibis.greatest(must.record_key_l, must.record_key_r))
        apart = apart.select(node_l=ibis.least(apart.node_l, apart.node_r),
                             node_r=ibis.greatest(apart.node_l, apart.node_r))
        apart = apart.anti_join(must, [apart.node_l == must._must_l, apart.node_r == must._must_r])
    cannot = pa.concat_tables([cannot, engine.con.to_pyarrow(apart).cast(cannot.schema)])
    clusters = cluster.enforce_cannot_links(engine, clusters, graph, cannot, opts.threshold)
    phase("cluster")

    say("stable person ids")
    members = assignment.join(clusters, "node_key")
    person_ids = assign_ids(
        members.select(member_key=members.record_key, cluster=members.cluster),
        previous.person_map if previous else None,
        kind="person",
        next_id=previous.next_person_id if previous else None,
        floor=id_floor.person if id_floor else None,
    )
    person_links = _person_links(engine, members, person_ids.ids, graph, opts.threshold)
    phase("ids")

    say("golden persons")
    # materialized once: survivorship reads it once per field
    records = engine.materialize(persons_in.join(person_links.select("record_key", "person_id"), "record_key"))
    gp = golden_persons(records, settings.survivorship, trust, engine=engine)
    persons = engine.materialize(gp.table)
    phase("golden_persons")

    say("families")
    fam_ids = assign_ids(
        family_members(persons),
        previous.family_map if previous else None,
        kind="family",
        next_id=previous.next_family_id if previous else None,
        floor=id_floor.family if id_floor else None,
    )
    fm = family_members(persons).join(fam_ids.ids, "cluster")
    persons = engine.materialize(
        persons.join(fm.select(person_id=fm.member_key.cast("int64"), family_id=fm.id), "person_id")
    )
    pl_full = persons_in.select("record_key", "kk", "nik", "name", "region_code", "address", "rt", "rw").join(
        person_links.select("record_key", "person_id"), "record_key"
    )
    fam_links = engine.materialize(attach_family_records(li.family, pl_full, persons))
    fam_records = engine.materialize(li.family.join(fam_links.filter(fam_links.family_id.notnull()), "record_key"))
    as_of = max(src.as_of for src in settings.sources.values()) if settings.sources else dt.date.today()
    gf = golden_families(fam_records, persons, settings.survivorship, trust, as_of, engine=engine)
    families = engine.materialize(gf.table)
    phase("families")

    say("writing")
    links = _links_table(li, person_links, persons, fam_links)
    out = link_dir(settings)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    tables: dict[str, tuple[ir.Table, list[str]]] = {
        "links": (links, ["level", "source", "file", "sheet", "row"]),
        "persons": (persons, ["person_id"]),
        "families": (families, ["family_id"]),
        "provenance": (gp.provenance.union(gf.provenance), ["entity", "id", "field"]),
        "conflicts": (gp.conflicts.union(gf.conflicts), ["entity", "id", "field", "other_source", "other_value"]),
        "events": (person_ids.events.union(fam_ids.events), ["kind", "event", "id", "other_id"]),
        "nik_conflicts": (det.conflicts, ["nik"]),
        "pairs": (edges, ["record_key_l", "record_key_r"]),
    }
    counts, release_id = _write_tables(
        engine,
        tmp,
        tables,
        trained,
        {
            "next_person_id": person_ids.next_id,
            "next_family_id": fam_ids.next_id,
            "previous_release": previous.release_id if previous else None,
            "timings": timings,
        },
    )
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)

    review_path = settings.path(opts.review_file)
    n_review = _write_review(engine, persons_in, edges, opts.threshold, review_path)
    phase("write")
    counts["records_person"] = int(persons_in.count().execute())
    counts["records_family"] = int(li.family.count().execute())
    counts["nodes"] = int(nodes.count().execute())
    counts["family_unlinked"] = int(fam_links.filter(fam_links.family_id.isnull()).count().execute())
    return LinkResult(
        out, release_id, counts, timings, review_path if n_review else None, n_review, notes=list(trained.notes)
    )


def _with_nik_conflicts(edges: ir.Table, pairs: ir.Table) -> ir.Table:
    """Each NIK conflict (a record whose NIK group's anchor is someone else by name, birth date
    or sex) paired with that anchor, for clerical review, when Splink did not score the pair
    already: method 'nik_conflict', no probability, never a link unless a person decides so."""
    schema = edges.schema()
    p = pairs.select(
        _lo=ibis.least(pairs.record_key, pairs.anchor_key), _hi=ibis.greatest(pairs.record_key, pairs.anchor_key)
    ).distinct()
    e = edges.select(_el=ibis.least(edges.record_key_l, edges.record_key_r),
                     _eh=ibis.greatest(edges.record_key_l, edges.record_key_r))
    new = p.anti_join(e, [p._lo == e._el, p._hi == e._eh])
    fill: dict[str, ir.Value] = {
        "record_key_l": new._lo.cast(schema["record_key_l"]),
        "record_key_r": new._hi.cast(schema["record_key_r"]),
        "method": ibis.literal("nik_conflict"),
    }
    added = new.select(**{c: fill[c] if c in fill else ibis.null().cast(schema[c]) for c in schema.names})
    return edges.union(added, distinct=False)


def _read_decisions(engine: Engine, settings: Settings, records: ir.Table) -> ir.Table | None:
    """Every review decision file of the project, checked against the record keys."""
    if not settings.link.decisions:
        return None
    keys = set(engine.con.to_pyarrow(records.select("record_key"))["record_key"].to_pylist())
    decided = [read_decisions(settings.path(p), known_keys=keys) for p in settings.link.decisions]
    table = pa.concat_tables(decided).select(["record_key_l", "record_key_r", "decision"])
    return engine.from_arrow(table)


def _detach(assignment: ir.Table, decisions: ir.Table) -> ir.Table:
    """A person declared two records that share a NIK different: the one that is not the NIK
    group's anchor leaves the group, as a NIK conflict would, so the decision can be honoured."""
    cannot = decisions.filter(decisions.decision == "cannot_link")
    a1 = assignment.select(k1="record_key", n1="node_key")
    a2 = assignment.select(k2="record_key", n2="node_key")
    d = cannot.join(a1, cannot.record_key_l == a1.k1).join(a2, cannot.record_key_r == a2.k2)
    d = d.filter(d.n1 == d.n2)
    leaving = d.select(record_key=ibis.ifelse(d.k2 != d.n2, d.k2, d.k1)).distinct().mutate(_leaves=True)
    t = assignment.left_join(leaving, "record_key").drop("record_key_right")
    out = t._leaves.fill_null(False)
    return t.select(
        record_key=t.record_key,
        node_key=ibis.ifelse(out, t.record_key, t.node_key),
        method=ibis.ifelse(out, "alone", t.method),
        nik_conflict=t.nik_conflict | out,
    )


def _write_tables(
    engine: Engine,
    tmp: Path,
    tables: dict[str, tuple[ir.Table, list[str]]],
    trained: model.Trained,
    extra: dict[str, object],
) -> tuple[dict[str, int], str]:
    """Every output table, the model and the manifest, into the directory being built."""
    paths: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for name, (table, order) in tables.items():
        paths[name] = tmp / f"{name}.parquet"
        if name == "links":
            # one file, whose checksum the next run verifies (previous.py)
            data = engine.con.to_pyarrow(table.order_by(order))
            pq.write_table(data, paths[name])
            counts[name] = data.num_rows
        else:
            # streamed by the engine: a directory of Parquet parts, which pyarrow reads as one table
            engine.write_parquet(table, paths[name], order_by=order)
            counts[name] = pq.ParquetDataset(paths[name]).read(columns=[]).num_rows
    (tmp / "model.json").write_text(canonical_model_json(trained.model), encoding="utf-8")
    release_id = "L" + file_sha256(paths["links"])[:12]
    write_manifest(
        tmp, release_id, {"links": paths["links"]}, {"rows": counts, "training_notes": trained.notes, **extra}
    )
    return counts, release_id


def canonical_model_json(model: dict[str, Any]) -> str:
    """The trained Splink model as JSON that the same inputs reproduce byte for byte: EM's sums
    differ in their last bits from run to run (threads add in another order), so every float is
    written to 12 significant digits, and the random `linker_uid` is replaced by one derived from
    the content."""

    def tidy(value: Any) -> Any:
        if isinstance(value, float):
            return float(f"{value:.12g}")
        if isinstance(value, dict):
            return {k: tidy(v) for k, v in value.items() if k != "linker_uid"}
        if isinstance(value, list):
            return [tidy(v) for v in value]
        return value

    body = tidy(json.loads(json.dumps(model, default=str)))
    uid = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:8]
    if isinstance(body, dict) and "linker_uid" in model:
        body = {"linker_uid": "d" + uid[:7], **body}
    return json.dumps(body, indent=1)


def _to_nodes(decisions: ir.Table, assignment: ir.Table) -> ir.Table:
    """Record-level decisions as node-level ones (a decision on a record is on its node)."""
    a1 = assignment.select(k1="record_key", n1="node_key")
    a2 = assignment.select(k2="record_key", n2="node_key")
    d = decisions.join(a1, decisions.record_key_l == a1.k1).join(a2, decisions.record_key_r == a2.k2)
    d = d.filter(d.n1 != d.n2)
    return d.select(
        record_key_l=ibis.least(d.n1, d.n2), record_key_r=ibis.greatest(d.n1, d.n2), decision=d.decision
    ).distinct()


def _person_links(engine: Engine, members: ir.Table, ids: ir.Table, graph: ir.Table, threshold: float) -> ir.Table:
    """record_key -> person_id, match_probability, method."""
    strong = graph.filter(graph.match_probability >= threshold)
    ends = strong.select(node_key="unique_id_l", p="match_probability", m="method").union(
        strong.select(node_key="unique_id_r", p="match_probability", m="method")
    )
    best = ends.group_by("node_key").agg(p=ends.p.max(), review=(ends.m == "review").any())
    t = members.join(ids, "cluster").left_join(best, "node_key")
    is_node = t.record_key == t.node_key
    method = ibis.cases(
        (~is_node, ibis.literal("nik")),
        (t.review.fill_null(False), ibis.literal("review")),
        (t.p.notnull(), ibis.literal("splink")),
        (t.method == "nik", ibis.literal("nik")),
        else_=ibis.literal("single"),
    )
    prob = ibis.ifelse(is_node & t.p.notnull(), t.p, 1.0)
    return engine.materialize(t.select(record_key=t.record_key, person_id=t.id, match_probability=prob, method=method))


def _links_table(li: object, person_links: ir.Table, persons: ir.Table, fam_links: ir.Table) -> ir.Table:
    from dtsen.link.records import LinkInput

    assert isinstance(li, LinkInput)
    p = li.person.select("record_key", "source", "file", "sheet", "row", "flags").join(person_links, "record_key")
    p = p.join(persons.select("person_id", "family_id"), "person_id")
    p = p.select(
        "record_key",
        "source",
        "file",
        "sheet",
        "row",
        level=ibis.literal("person"),
        person_id="person_id",
        family_id="family_id",
        match_probability="match_probability",
        method="method",
        withheld=withheld(p.flags),
    )
    f = li.family.select("record_key", "source", "file", "sheet", "row", "flags").join(fam_links, "record_key")
    f = f.select(
        "record_key",
        "source",
        "file",
        "sheet",
        "row",
        level=ibis.literal("family"),
        person_id=ibis.null("int64"),
        family_id=f.family_id.cast("int64"),
        match_probability=ibis.ifelse(f.family_id.notnull(), 1.0, ibis.null("float64")),
        method="method",
        withheld=withheld(f.flags),
    )
    return p.union(f)


def _write_review(engine: Engine, records: ir.Table, edges: ir.Table, threshold: float, path: Path) -> int:
    """Pairs in the uncertain band, and pairs of two registry NIKs that look like one person, the
    two records side by side, for a person to decide."""
    uncertain = (edges.match_probability < threshold) & (edges.method == "splink")
    band = edges.filter(uncertain | edges.method.isin(["two_registry_niks", "nik_conflict"]))
    cols = [c for c in REVIEW_FIELDS if c in records.columns]
    left = records.select("record_key", "row", *cols).rename(**{f"{c}_l": c for c in ["record_key", "row", *cols]})
    right = records.select("record_key", "row", *cols).rename(**{f"{c}_r": c for c in ["record_key", "row", *cols]})
    t = band.join(left, "record_key_l").join(right, "record_key_r")
    weights = {f"weight_{c[3:]}": t[c] for c in band.columns if c.startswith("mw_")}
    t = t.select(
        "record_key_l",
        "record_key_r",
        "match_probability",
        "match_weight",
        *[f"{c}_{s}" for c in ["row", *cols] for s in ("l", "r")],
        **weights,
    )
    data = engine.con.to_pyarrow(t.order_by([ibis.desc("match_probability"), "record_key_l", "record_key_r"]))
    if data.num_rows == 0:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_review(data, path, [c for c in cols if c != "source"])
