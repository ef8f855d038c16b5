"""The change feed between releases, record by record, and the list of releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtsen.engine import Engine
from dtsen.serve.changes import record_changes
from dtsen.serve.feed import ChangeFeedError, change_feed, list_releases
from dtsen.serve.models import Change
from dtsen.serve.releases import ServingReleases

EXPECTED = {
    ("family", 10, "update", None, ("size", "decile", "poor")),
    ("family", 12, "delete", None, ()),
    ("family", 13, "update", None, ("head_person_id",)),
    ("person", 3, "unlink", 10, ("family_id",)),
    ("person", 3, "link", 11, ("family_id",)),
    ("person", 3, "update", None, ("kk", "region_code")),
    ("person", 5, "update", None, ("is_deceased", "death_date")),
    ("person", 6, "delete", None, ()),
    ("person", 7, "delete", 8, ()),  # absorbed by 8 (the linkage's merge event)
    ("person", 8, "register", 13, ()),
    ("person", 8, "link", 7, ("merge",)),
}


def _keys(changes: list[Change]) -> set[tuple[object, ...]]:
    return {(c.entity, c.id, c.change, c.other_id, tuple(c.fields)) for c in changes}


def test_stored_change_feed(releases: ServingReleases) -> None:
    feed = change_feed(releases, "R0001", "R0002")
    assert (feed.from_release, feed.to_release, feed.total) == ("R0001", "R0002", len(EXPECTED))
    assert _keys(feed.changes) == EXPECTED


def test_computed_change_feed_equals_the_stored_one(project: Path) -> None:
    engine = Engine.duckdb(memory_limit="1GB", threads=1)
    try:
        t = record_changes(engine, project / "releases" / "R0001", project / "releases" / "R0002")
        rows = t.to_pyarrow().to_pylist()
    finally:
        engine.close()
    got = {(r["entity"], r["id"], r["change"], r["other_id"], tuple(f for f in (r["fields"] or "").split(",") if f))
           for r in rows}
    assert got == EXPECTED


def test_feed_by_region_kind_and_page(releases: ServingReleases) -> None:
    regional = change_feed(releases, "R0001", "R0002", region="33")
    assert {(c.entity, c.id, c.change) for c in regional.changes} == {
        ("family", 13, "update"), ("person", 7, "delete"), ("person", 8, "register"), ("person", 8, "link")}
    deaths = change_feed(releases, "R0001", "R0002", kinds=["delete"])
    assert {(c.entity, c.id) for c in deaths.changes} == {("family", 12), ("person", 6), ("person", 7)}
    page = change_feed(releases, "R0001", "R0002", offset=2, limit=3)
    assert page.total == len(EXPECTED) and len(page.changes) == 3


def test_feed_with_the_summary_counts(releases: ServingReleases) -> None:
    feed = change_feed(releases, "R0001", "R0002", summary=True, limit=1)
    assert feed.summary["persons"]["added"] == 1 and feed.summary["persons"]["removed"] == 2
    assert feed.summary["persons"]["newly_deceased"] == 1 and feed.summary["families"]["decile_moved"] == 1


def test_feed_refuses_unknown_or_backward_releases(releases: ServingReleases) -> None:
    with pytest.raises(ChangeFeedError, match="no release"):
        change_feed(releases, "R0001", "R0009")
    with pytest.raises(ChangeFeedError, match="older release to a newer"):
        change_feed(releases, "R0002", "R0001")
    with pytest.raises(ChangeFeedError, match="unknown change kind"):
        change_feed(releases, "R0001", "R0002", kinds=["explode"])


def test_list_releases(releases: ServingReleases) -> None:
    with releases.acquire():
        entries = list_releases(releases)
    assert [(e.release_id, e.current, e.served, e.indexed) for e in entries] == [
        ("R0001", True, True, True), ("R0002", False, False, True)]
    assert entries[1].manifest["previous"] == "R0001"


def test_feed_computed_when_not_stored(project: Path, tmp_path: Path) -> None:
    """Without R0002's stored feed (no index here), the feed is computed from the releases."""
    releases = ServingReleases(project / "releases", tmp_path / "serving", check_interval=0)
    feed = change_feed(releases, "R0001", "R0002")
    assert feed.total == len(EXPECTED) and _keys(feed.changes) == EXPECTED
    regional = change_feed(releases, "R0001", "R0002", region="32.04.02", kinds=["update", "link"])
    assert {(c.entity, c.id, c.change) for c in regional.changes} == {
        ("person", 3, "update"), ("person", 3, "link"), ("person", 5, "update")}
