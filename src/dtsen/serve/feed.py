"""The releases and their manifests, and the change feed between two of them.

The change feed from a release to the next one is in the newer release's serving index
(`changes`, computed when it was built). Between releases further apart it is computed from
their Parquet tables on DuckDB (with the linkage events of every release in between), which is
a batch read, not a lookup; `dtsen.release.diff` adds the counts when asked.
"""

from __future__ import annotations

from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.serve.changes import CHANGES, record_changes
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.lookups import check_page
from dtsen.serve.models import Change, ChangeFeed, ReleaseEntry
from dtsen.serve.regions import prefix_range
from dtsen.serve.releases import ServingReleases


class ChangeFeedError(DtsenError):
    """The change feed cannot be given for these releases."""


def list_releases(releases: ServingReleases) -> list[ReleaseEntry]:
    """Every published release, oldest first, with its manifest."""
    served = releases.current_id
    return [
        ReleaseEntry(release_id=r.release_id, current=r.current, served=r.release_id == served,
                     indexed=releases.indexed(r.release_id), manifest=r.manifest)
        for r in releases.store.releases()
    ]


def _rows_to_changes(rows: list[dict[str, object]]) -> list[Change]:
    return [
        Change.model_validate({**r, "fields": [f for f in str(r.get("fields") or "").split(",") if f]})
        for r in rows
    ]


def change_feed(
    releases: ServingReleases,
    a: str,
    b: str,
    *,
    offset: int = 0,
    limit: int = 1000,
    region: str | None = None,
    kinds: list[str] | None = None,
    summary: bool = False,
    max_limit: int = 10_000,
) -> ChangeFeed:
    """What changed from release `a` to the later release `b`, a page at a time, optionally only
    in a region (code prefix) and only some kinds of change."""
    check_page(offset, limit, max_limit)
    known = [r.release_id for r in releases.store.releases()]
    for rid in (a, b):
        if rid not in known:
            raise ChangeFeedError(f"no release {rid!r}; known: {', '.join(known) or 'none'}")
    if a >= b:
        raise ChangeFeedError(f"the change feed runs from an older release to a newer one, not {a} -> {b}")
    wanted = list(kinds or CHANGES)
    bad = [k for k in wanted if k not in CHANGES]
    if bad:
        raise ChangeFeedError(f"unknown change kind(s) {', '.join(bad)}; known: {', '.join(CHANGES)}")
    lo, hi = prefix_range(region)
    stored = releases.indexed(b)
    handle: ReleaseHandle | None = releases.open(b) if stored else None
    try:
        if handle is not None and handle.meta.get("changes_from") == a and handle.has_table("changes"):
            where = f"region_code >= ? AND region_code < ? AND change IN ({', '.join('?' * len(wanted))})"
            if not region:
                where = f"(region_code IS NULL OR (region_code >= ? AND region_code < ?)) AND change IN ({', '.join('?' * len(wanted))})"
            params = [lo, hi, *wanted]
            total = int(handle.scalar(f"SELECT count(*) FROM changes WHERE {where}", params))
            rows = handle.rows(f"SELECT * FROM changes WHERE {where} ORDER BY entity, id, change, other_id "
                               "LIMIT ? OFFSET ?", [*params, limit, offset])
            changes = _rows_to_changes(rows)
        else:
            changes, total = _computed(releases, known, a, b, lo, hi, bool(region), wanted, offset, limit)
    finally:
        if handle is not None:
            handle.close()
    feed = ChangeFeed(from_release=a, to_release=b, changes=changes, total=total, offset=offset, limit=limit)
    if summary:
        from dtsen.release.diff import diff_releases

        eng = Engine.duckdb(memory_limit="1GB")
        try:
            feed.summary = diff_releases(eng, releases.store.path(a), releases.store.path(b)).to_dict()
        finally:
            eng.close()
    return feed


def _computed(releases: ServingReleases, known: list[str], a: str, b: str, lo: str, hi: str, regional: bool,
              wanted: list[str], offset: int, limit: int) -> tuple[list[Change], int]:
    between = [r for r in known if a < r <= b]
    events = [releases.store.path(r) / "events.parquet" for r in between]
    eng = Engine.duckdb(memory_limit="1GB")
    try:
        t = record_changes(eng, releases.store.path(a), releases.store.path(b), events=events)
        inside = (t.region_code >= lo) & (t.region_code < hi)
        t = t.filter(inside.fill_null(False) if regional else (t.region_code.isnull() | inside))
        t = eng.materialize(t.filter(t.change.isin(wanted)))
        total = int(t.count().execute())
        page = t.order_by(["entity", "id", "change", "other_id"]).limit(limit, offset=offset)
        rows = page.to_pyarrow().to_pylist()
    finally:
        eng.close()
    return _rows_to_changes(rows), total
