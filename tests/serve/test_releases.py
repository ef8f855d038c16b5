"""Release switching: a request sees one release; the switch happens between requests; old
releases close when their last request lets go."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from dtsen.serve.lookups import family_by_id, person_by_id
from dtsen.serve.releases import NoReleaseError, ServingReleases
from tests.serve.fakes import set_current


def test_serves_the_current_release_and_switches(project: Path, releases: ServingReleases) -> None:
    with releases.acquire() as h:
        assert h.release_id == "R0001"
        first = h
    set_current(project / "releases", "R0002")
    try:
        with releases.acquire() as h:
            assert h.release_id == "R0002"
            p = person_by_id(h, 5)
            assert p is not None and p.person.is_deceased is True
        assert first.closed  # retired, and nobody held it any more
    finally:
        set_current(project / "releases", "R0001")


def test_a_request_keeps_its_release_while_the_switch_happens(project: Path, releases: ServingReleases) -> None:
    with releases.acquire() as h:
        before = person_by_id(h, 5)
        set_current(project / "releases", "R0002")
        try:
            assert releases.refresh() == "R0002"
            assert releases.current_id == "R0002"
            during = person_by_id(h, 5)  # the same request, after the switch: still R0001
            assert h.release_id == "R0001" and not h.closed
            assert before == during and during is not None and during.person.is_deceased is False
        finally:
            set_current(project / "releases", "R0001")
    assert h.closed  # its last request let go
    with releases.acquire() as later:
        assert later.release_id == "R0001"  # switched back on the next request


def test_a_release_without_an_index_is_pending(project: Path, tmp_path: Path) -> None:
    serving = tmp_path / "serving"
    shutil.copytree(project / "serving" / "R0001", serving / "R0001")
    set_current(project / "releases", "R0002")
    releases = ServingReleases(project / "releases", serving, check_interval=0)
    try:
        with releases.acquire() as h:
            assert h.release_id == "R0001"  # R0002 has no index here: the earlier release is served
        assert releases.pending == "R0002"
        shutil.copytree(project / "serving" / "R0002", serving / "R0002")  # now it is indexed
        with releases.acquire() as h:
            assert h.release_id == "R0002"
        assert releases.pending is None
        releases.close()
        empty = ServingReleases(project / "releases", tmp_path / "nothing", check_interval=0)
        with pytest.raises(NoReleaseError, match="dtsen index build"), empty.acquire():
            pass
    finally:
        set_current(project / "releases", "R0001")


def test_concurrent_readers_never_see_two_releases(project: Path, releases: ServingReleases) -> None:
    """Readers run requests of several queries while the current release flips back and forth;
    every request sees the answers of exactly one release, and they are the right ones."""
    expected = {"R0001": (False, 3, 10), "R0002": (True, 2, 11)}  # person 5 deceased, family 10 size, RINA's family
    errors: list[str] = []
    seen: dict[str, int] = {"R0001": 0, "R0002": 0}
    stop = threading.Event()
    lock = threading.Lock()
    handles = set()

    def reader() -> None:
        try:
            read()
        except Exception as exc:  # a closed handle in use, say: the test fails with it
            with lock:
                errors.append(repr(exc))

    def read() -> None:
        while not stop.is_set():
            with releases.acquire() as h:
                handles.add(h)
                p5 = person_by_id(h, 5)
                f10 = family_by_id(h, 10)
                p3 = person_by_id(h, 3)
                rid = h.scalar("SELECT json_extract(value, '$') FROM meta WHERE key = 'release_id'")
                got = (p5.person.is_deceased if p5 else None, f10.family.size if f10 else None,
                       p3.person.family_id if p3 else None)
                answers = {p5.release_id if p5 else "", f10.release_id if f10 else "", rid}
                with lock:
                    if len(answers) != 1 or got != expected.get(rid):
                        errors.append(f"{answers} {got}")
                    seen[rid] = seen.get(rid, 0) + 1

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            set_current(project / "releases", "R0002" if i % 2 == 0 else "R0001")
            releases.refresh()
            with lock:
                target = sum(seen.values()) + 5
            deadline = time.monotonic() + 10
            while sum(seen.values()) < target and not errors and time.monotonic() < deadline:
                stop.wait(0.001)  # let some requests run on each release
    finally:
        stop.set()
        for t in threads:
            t.join()
        set_current(project / "releases", "R0001")
    assert not errors, errors[:5]
    assert seen["R0001"] > 20 and seen["R0002"] > 20
    releases.close()
    assert all(h.closed for h in handles)  # every handle closed once its last request let go


def test_a_damaged_current_keeps_the_served_release(project: Path, releases: ServingReleases,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from dtsen.release.store import ReleaseError

    with releases.acquire() as h:
        assert h.release_id == "R0001"

    def broken() -> str | None:
        raise ReleaseError("CURRENT is empty")

    monkeypatch.setattr(releases.store, "current", broken)
    with releases.acquire() as h:
        assert h.release_id == "R0001" and not h.closed
    assert releases.problem == "CURRENT is empty"
