"""Stable ids across runs (issue 3, section 2): known answers on both engines, and refusals."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.link.identity import Identities, assign_ids
from dtsen.link.previous import PreviousRunError, file_sha256, load_previous, write_manifest

Event = tuple[str, int, int | None, int]  # event, id, other_id, members


def _members(engine: Engine, clusters: dict[str, list[str]]) -> ir.Table:
    keys = [k for ks in clusters.values() for k in ks]
    labels = [c for c, ks in clusters.items() for _ in ks]
    return engine.from_arrow(pa.table({"member_key": keys, "cluster": labels}))


def _previous(engine: Engine, ids: dict[int, list[str]]) -> ir.Table:
    keys = [k for ks in ids.values() for k in ks]
    values = [i for i, ks in ids.items() for _ in ks]
    return engine.from_arrow(pa.table({"member_key": keys, "id": pa.array(values, pa.int64())}))


def _run(
    engine: Engine, clusters: dict[str, list[str]], previous: dict[int, list[str]] | None, next_id: int | None = None
) -> Identities:
    prev = None if previous is None else _previous(engine, previous)
    return assign_ids(_members(engine, clusters), prev, kind="person", next_id=next_id)


def _ids(result: Identities) -> dict[str, int]:
    return {r["cluster"]: r["id"] for r in result.ids.to_pyarrow().to_pylist()}


def _events(result: Identities, kind: str = "person") -> list[Event]:
    rows = result.events.to_pyarrow().to_pylist()
    assert all(r["kind"] == kind for r in rows)
    return sorted(((r["event"], r["id"], r["other_id"], r["members"]) for r in rows), key=repr)


@dataclass
class Scenario:
    clusters: dict[str, list[str]]
    previous: dict[int, list[str]] | None
    ids: dict[str, int]
    events: list[Event]
    next_id: int
    given_next: int | None = None
    note: str = field(default="")


SCENARIOS = {
    # first run: numbered by smallest member, whatever the labels or row order; no events
    # (k1 and k11 share a numbering bucket, their first two characters)
    "first_run": Scenario(
        {"x": ["k5", "k30"], "y": ["k1"], "z": ["k4", "k2"], "w": ["k11"]},
        None,
        {"y": 1, "w": 2, "z": 3, "x": 4},
        [],
        5,
    ),
    "first_run_from_next_id": Scenario({"x": ["k3"], "y": ["k1"]}, None, {"y": 10, "x": 11}, [], 12, given_next=10),
    # a carry-on keeps its id; a given next_id (from the manifest) survives a run with nothing new
    "carry_on": Scenario(
        {"c": ["k1", "k2"], "d": ["k3"]}, {7: ["k1", "k2"], 9: ["k3"]}, {"c": 7, "d": 9}, [], 12, given_next=12
    ),
    # the larger part keeps the id even though the smaller part has the smallest key
    "split": Scenario(
        {"big": ["k2", "k3", "k4"], "small": ["k1", "k5"]},
        {4: ["k1", "k2", "k3", "k4", "k5"]},
        {"big": 4, "small": 5},
        [("new", 5, None, 2), ("split", 4, 5, 2)],
        6,
    ),
    # equal parts: the part with the smallest member keeps the id
    "split_tie": Scenario(
        {"a": ["k3", "k4"], "b": ["k1", "k2"]},
        {3: ["k1", "k2", "k3", "k4"]},
        {"b": 3, "a": 4},
        [("new", 4, None, 2), ("split", 3, 4, 2)],
        5,
    ),
    # a merge keeps the older (smaller) id even when the newer one brings more members
    "merge": Scenario(
        {"m": ["k1", "k2", "k3", "k4", "k5"]},
        {2: ["k1", "k2"], 5: ["k3", "k4", "k5"]},
        {"m": 2},
        [("merge", 2, 5, 3)],
        6,
    ),
    # a previous id with no member left is removed; a cluster of unseen members is new; ids of
    # removed clusters are not handed out again
    "removed_and_new": Scenario(
        {"a": ["k1"], "b": ["k9", "k8"]},
        {1: ["k1"], 2: ["k2", "k3"]},
        {"a": 1, "b": 3},
        [("new", 3, None, 2), ("removed", 2, None, 2)],
        4,
    ),
    # split and merge at once: id 1 is split evenly (k1 < k3, so X is its heir), id 2 is absorbed
    # by X which keeps the older id 1; the part that left gets a new id
    "split_and_merge": Scenario(
        {"X": ["k1", "k2", "k5", "k6"], "Y": ["k3", "k4"], "Z": ["k9"]},
        {1: ["k1", "k2", "k3", "k4"], 2: ["k5", "k6"], 3: ["k7"]},
        {"X": 1, "Y": 4, "Z": 5},
        [("merge", 1, 2, 2), ("new", 4, None, 2), ("new", 5, None, 1), ("removed", 3, None, 1), ("split", 1, 4, 2)],
        6,
    ),
    # a member moving to a cluster that inherits another id: a split of its old id towards that id
    "member_moves": Scenario(
        {"p": ["k1", "k2", "k3"], "q": ["k4", "k5", "k6"]},
        {1: ["k1", "k2"], 2: ["k3", "k4", "k5", "k6"]},
        {"p": 1, "q": 2},
        [("split", 2, 1, 1)],
        3,
    ),
    # one source added: its records join existing clusters (s1, s2) or form a new one (s3, s4);
    # every old id stays
    "source_added": Scenario(
        {"a": ["k1", "k2", "s1"], "b": ["k3", "s2"], "c": ["k4"], "d": ["s4", "s3"]},
        {1: ["k1", "k2"], 2: ["k3"], 3: ["k4"]},
        {"a": 1, "b": 2, "c": 3, "d": 4},
        [("new", 4, None, 2)],
        5,
    ),
}


def _check(engine: Engine, s: Scenario) -> None:
    result = _run(engine, s.clusters, s.previous, next_id=s.given_next)
    assert _ids(result) == s.ids
    assert _events(result) == sorted(s.events, key=repr)
    assert result.next_id == s.next_id


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_assign_ids_known_answers(duck: Engine, name: str) -> None:
    _check(duck, SCENARIOS[name])


def test_assign_ids_on_every_engine(engine: Engine) -> None:
    # Spark is slow to start each query: the first-run path and the scenario with every kind of
    # event stand for the rest
    _check(engine, SCENARIOS["first_run"])
    _check(engine, SCENARIOS["split_and_merge"])


def test_shuffled_and_relabelled_members_get_the_same_ids(duck: Engine) -> None:
    clusters = {"X": ["k1", "k2", "k5", "k6"], "Y": ["k3", "k4"], "Z": ["k9"], "W": ["k0"]}
    previous = {1: ["k1", "k2", "k3", "k4"], 2: ["k5", "k6"], 3: ["k7"]}
    shuffled = {"c9": ["k4", "k3"], "a1": ["k6", "k5", "k2", "k1"], "b0": ["k0"], "z7": ["k9"]}

    def by_member(result: Identities, clusters: dict[str, list[str]]) -> dict[str, int]:
        ids = _ids(result)
        return {k: ids[c] for c, ks in clusters.items() for k in ks}

    one = _run(duck, clusters, previous)
    two = _run(duck, shuffled, {i: list(reversed(ks)) for i, ks in reversed(previous.items())})
    assert by_member(one, clusters) == by_member(two, shuffled)
    assert by_member(one, clusters) == {"k1": 1, "k2": 1, "k5": 1, "k6": 1, "k0": 4, "k3": 5, "k4": 5, "k9": 6}
    assert _events(one) == _events(two)
    assert one.next_id == two.next_id == 7


def test_new_ids_follow_the_smallest_member_across_many_buckets(duck: Engine) -> None:
    rng = random.Random(3)
    keys = [f"{rng.getrandbits(64):016x}" for _ in range(600)]
    clusters: dict[str, list[str]] = {}
    for key in keys:  # clusters of 1 to 3 members, labelled at random
        label = str(rng.randrange(400))
        clusters.setdefault(label, []).append(key)
    previous = {1: keys[:1]}  # its cluster keeps id 1; every other cluster is numbered from 2
    result = _run(duck, clusters, previous)
    ids = _ids(result)
    heir = next(c for c, ks in clusters.items() if keys[0] in ks)
    assert ids.pop(heir) == 1
    assert len(clusters) > 300
    order = sorted(ids, key=lambda c: min(clusters[c]))
    assert [ids[c] for c in order] == list(range(2, 2 + len(order)))
    assert result.next_id == 2 + len(order)


def test_second_run_on_the_first_runs_ids_changes_nothing(duck: Engine) -> None:
    clusters = {"x": ["k5", "k3"], "y": ["k1"], "z": ["k4", "k2"]}
    first = _run(duck, clusters, None)
    members = _members(duck, clusters)
    prev = members.join(first.ids, "cluster").select("member_key", "id")
    relabelled = {"a": ["k1"], "b": ["k2", "k4"], "c": ["k3", "k5"]}
    second = assign_ids(_members(duck, relabelled), prev, kind="family", next_id=first.next_id)
    assert _ids(second) == {"a": 1, "b": 2, "c": 3}
    assert _events(second, "family") == []
    assert second.next_id == 4


def test_a_floor_raises_the_first_new_id_and_carried_ids_keep_theirs(duck: Engine) -> None:
    """After a rollback the previous run's next id is 6, but releases after it handed out ids up
    to 8: new clusters start at the floor 9; a carried cluster keeps its id; a floor below the
    next id changes nothing."""
    clusters = {"a": ["k1"], "b": ["k7"], "c": ["k9"]}
    prev = _previous(duck, {5: ["k1"]})
    raised = assign_ids(_members(duck, clusters), prev, kind="person", next_id=6, floor=9)
    assert _ids(raised) == {"a": 5, "b": 9, "c": 10} and raised.next_id == 11
    assert ("new", 9, None, 1) in _events(raised)
    low = assign_ids(_members(duck, clusters), prev, kind="person", next_id=6, floor=3)
    assert _ids(low) == {"a": 5, "b": 6, "c": 7} and low.next_id == 8
    first = assign_ids(_members(duck, {"x": ["k2"]}), None, kind="family", floor=4)
    assert _ids(first) == {"x": 4} and first.next_id == 5
    nothing_new = assign_ids(_members(duck, {"a": ["k1"]}), prev, kind="person", next_id=6, floor=9)
    assert _ids(nothing_new) == {"a": 5} and nothing_new.next_id == 9


def test_id_floor_is_the_highest_next_ids_of_every_release(tmp_path: Path) -> None:
    from dtsen.link.previous import IdFloor
    from dtsen.release.build import id_floor
    from dtsen.release.store import ReleaseStore

    store = ReleaseStore(tmp_path / "releases")
    for rid, person, family in (("R0001", 4, 3), ("R0002", 9, 2), ("R0003", 7, 6)):
        run = store.root / rid / "link"
        run.mkdir(parents=True)
        (run / "manifest.json").write_text(json.dumps({"next_person_id": person, "next_family_id": family}))
    (store.root / "R0004" / "link").mkdir(parents=True)
    (store.root / "R0004" / "link" / "manifest.json").write_text("{not json")
    assert id_floor(store) == IdFloor(person=9, family=6)
    assert id_floor(ReleaseStore(tmp_path / "empty")) == IdFloor(1, 1)


def test_next_id_that_would_reuse_an_id_is_refused(duck: Engine) -> None:
    with pytest.raises(ValueError, match="next_id 3 would hand out an id again: the previous run already has id 5"):
        _run(duck, {"a": ["k1"], "b": ["k2"]}, {5: ["k1"]}, next_id=3)


def test_missing_columns_are_refused(duck: Engine) -> None:
    bad = duck.from_arrow(pa.table({"key": ["k1"], "cluster": ["a"]}))
    with pytest.raises(ValueError, match="members lacks column\\(s\\) member_key"):
        assign_ids(bad, None, kind="person")


# -- previous.py ----------------------------------------------------------------------------

LINKS = pa.table(
    {
        "record_key": ["r1", "r2", "r3", "r4", "f1"],
        "source": ["dukcapil"] * 4 + ["pln"],
        "level": ["person", "person", "person", "person", "family"],
        "person_id": pa.array([1, 1, 2, 3, None], pa.int64()),
        "family_id": pa.array([10, 10, 10, 11, 10], pa.int64()),
        "match_probability": [1.0, 1.0, 1.0, 1.0, 1.0],
        "method": ["nik", "nik", "single", "single", "kk"],
    }
)


def _release(directory: Path, links: pa.Table = LINKS, release: str = "R1", **extra: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(links, directory / "links.parquet")
    counters = {"next_person_id": 4, "next_family_id": 12, **extra}
    return write_manifest(directory, release, {"links": Path("links.parquet")}, counters)


def test_write_manifest_records_rows_and_checksum(tmp_path: Path) -> None:
    path = _release(tmp_path)
    manifest = json.loads(path.read_text())
    assert manifest["release_id"] == "R1"
    assert manifest["tables"] == {
        "links": {"file": "links.parquet", "rows": 5, "sha256": file_sha256(tmp_path / "links.parquet")}
    }
    assert (manifest["next_person_id"], manifest["next_family_id"]) == (4, 12)
    assert len(manifest["tables"]["links"]["sha256"]) == 64
    assert "created" in manifest


def test_load_previous_gives_the_mappings(engine: Engine, tmp_path: Path) -> None:
    _release(tmp_path)
    run = load_previous(engine, tmp_path, expect_release="R1")
    assert (run.release_id, run.next_person_id, run.next_family_id) == ("R1", 4, 12)
    persons = sorted((r["member_key"], r["id"]) for r in run.person_map.to_pyarrow().to_pylist())
    assert persons == [("r1", 1), ("r2", 1), ("r3", 2), ("r4", 3)]
    families = sorted((r["member_key"], r["id"]) for r in run.family_map.to_pyarrow().to_pylist())
    assert families == [("1", 10), ("2", 10), ("3", 11)]
    # the mapping feeds assign_ids: person 2 (r3) joins person 1, r5 is someone new
    members = _members(engine, {"a": ["r1", "r2", "r3"], "b": ["r4"], "c": ["r5"]})
    result = assign_ids(members, run.person_map, kind="person", next_id=run.next_person_id)
    assert _ids(result) == {"a": 1, "b": 3, "c": 4}
    assert _events(result) == [("merge", 1, 2, 1), ("new", 4, None, 1)]
    assert result.next_id == 5


def test_tampered_links_are_refused(duck: Engine, tmp_path: Path) -> None:
    _release(tmp_path)
    changed = LINKS.set_column(3, "person_id", pa.array([1, 1, 1, 3, None], pa.int64()))
    pq.write_table(changed, tmp_path / "links.parquet")  # same rows, one person id changed
    with pytest.raises(PreviousRunError) as err:
        load_previous(duck, tmp_path)
    text = str(err.value)
    assert (
        "links.parquet does not match manifest.json of release R1: it was changed or belongs to another release" in text
    )
    assert "sha256 is" in text


def test_links_of_another_release_are_refused(duck: Engine, tmp_path: Path) -> None:
    _release(tmp_path / "r1")
    _release(tmp_path / "r2", LINKS.slice(0, 3), release="R2")
    (tmp_path / "r2" / "links.parquet").replace(tmp_path / "r1" / "links.parquet")
    with pytest.raises(PreviousRunError, match=r"links\.parquet does not match manifest\.json of release R1"):
        load_previous(duck, tmp_path / "r1")


def test_wrong_release_is_refused(duck: Engine, tmp_path: Path) -> None:
    _release(tmp_path)
    with pytest.raises(PreviousRunError, match="is release R1, but release R0 was expected as the previous run"):
        load_previous(duck, tmp_path, expect_release="R0")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no_dir", "previous run directory .*gone does not exist"),
        ("no_manifest", "manifest.json is missing"),
        ("no_links", "links.parquet is missing \\(named in .*manifest.json of release R1\\)"),
        ("bad_json", "manifest.json is not valid JSON: Expecting .* at line 1 column"),
        ("lacks_keys", "manifest.json is not a valid manifest \\(3 problems\\)"),
        ("lacks_columns", "links.parquet lacks the column\\(s\\) family_id needed to carry ids on"),
        ("ids_reused", "would hand out ids again\n.*next_person_id is 3 but the links already hold person_id 3"),
    ],
)
def test_previous_run_refusals(duck: Engine, tmp_path: Path, damage: str, message: str) -> None:
    manifest = _release(tmp_path)
    target = tmp_path
    if damage == "no_dir":
        target = tmp_path / "gone"
    elif damage == "no_manifest":
        manifest.unlink()
    elif damage == "no_links":
        (tmp_path / "links.parquet").unlink()
    elif damage == "bad_json":
        manifest.write_text('{"release_id": "R1",')
    elif damage == "lacks_keys":
        manifest.write_text(json.dumps({"release_id": "R1", "tables": {}, "next_person_id": True}))
    elif damage == "lacks_columns":
        _release(tmp_path, LINKS.drop_columns(["family_id"]))
    elif damage == "ids_reused":
        _release(tmp_path, next_person_id=3)
    with pytest.raises(PreviousRunError, match=message) as err:
        load_previous(duck, target)
    assert isinstance(err.value, DtsenError)
    if damage == "lacks_keys":
        problems = {p.message for p in err.value.problems}
        assert problems == {
            "lacks key 'next_family_id'",
            "next_person_id must be a whole number of at least 1, not True",
            "tables lacks an entry 'links'",
        }


def test_write_manifest_refuses_files_outside_its_directory(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.parquet"
    pq.write_table(LINKS, outside)
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError, match="is not inside"):
        write_manifest(tmp_path / "run", "R1", {"links": outside}, {})
    with pytest.raises(ValueError, match="extra may not set release_id"):
        write_manifest(tmp_path / "run", "R1", {}, {"release_id": "R2"})
