"""The release store: one build at a time, atomic publish, leftovers of dead builds cleared."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dtsen.release.store import CURRENT, BuildLockedError, ReleaseError, ReleaseStore


def _publish(store: ReleaseStore, content: str) -> str:
    with store.lock():
        store.clear_leftovers()
        rid = store.next_id()
        staging = store.begin(rid)
        (staging / "manifest.json").write_text(f'{{"release_id": "{rid}", "x": "{content}"}}')
        store.publish(staging, rid)
    return rid


def test_releases_are_numbered_published_and_listed(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path / "releases")
    assert store.current() is None and store.releases() == []
    assert _publish(store, "a") == "R0001"
    assert _publish(store, "b") == "R0002"
    assert store.current() == "R0002"
    assert [(r.release_id, r.current) for r in store.releases()] == [("R0001", False), ("R0002", True)]
    assert store.manifest("R0001")["x"] == "a"
    with pytest.raises(ReleaseError, match=r"no release 'R0009'.*known: R0001, R0002"):
        store.manifest("R0009")


def test_a_published_release_is_never_overwritten(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    rid = _publish(store, "a")
    with store.lock():
        staging = store.begin(rid)
        with pytest.raises(ReleaseError, match="never overwritten"):
            store.publish(staging, rid)


def _hold_lock(root: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event) -> None:
    with ReleaseStore(Path(root)).lock():
        ready.set()
        release.wait(30)


def test_a_second_build_is_refused_while_one_runs(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with (
            pytest.raises(BuildLockedError, match=rf"another build is running .*pid {holder.pid}"),
            ReleaseStore(tmp_path).lock(),
        ):
            pass
    finally:
        release.set()
        holder.join(30)
    with ReleaseStore(tmp_path).lock():  # free again once the first build ends
        pass


def test_a_build_killed_while_holding_the_lock_frees_it(tmp_path: Path) -> None:
    code = (
        "import time, sys; from pathlib import Path; from dtsen.release.store import ReleaseStore\n"
        f"s = ReleaseStore(Path({str(tmp_path)!r}))\n"
        "with s.lock():\n    print('locked', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    proc.kill()
    proc.wait()
    with ReleaseStore(tmp_path).lock():  # the OS released the dead process's lock
        pass


def test_leftovers_of_dead_builds_are_cleared_and_current_stays(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    with store.lock():
        half = store.begin("R0002")
        (half / "persons.parquet").write_bytes(b"half a file")
        orphan = tmp_path / "R0003"  # renamed into place, but CURRENT never switched
        orphan.mkdir()
        (orphan / "manifest.json").write_text('{"release_id": "R0003"}')
        (tmp_path / (CURRENT + ".tmp")).write_text("R0003\n")
    assert store.current() == "R0001"
    with store.lock():
        removed = store.clear_leftovers()
    assert {p.name for p in removed} >= {half.name, "R0003"}
    assert not half.exists() and not orphan.exists()
    assert [r.release_id for r in store.releases()] == ["R0001"]
    assert _publish(store, "b") == "R0002"


def test_current_switches_atomically(tmp_path: Path) -> None:
    """A reader polling CURRENT while releases are published never sees an empty or partial id."""
    store = ReleaseStore(tmp_path)
    _publish(store, "first")
    code = (
        "import sys; from pathlib import Path\n"
        f"p = Path({str(tmp_path / CURRENT)!r}); seen = set()\n"
        "for _ in range(20000):\n"
        "    t = p.read_text()\n"
        "    if not t.endswith('\\n') or not t.startswith('R'): sys.exit('torn: ' + repr(t))\n"
        "    seen.add(t.strip())\n"
        "print(len(seen))\n"
    )
    reader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while reader.poll() is None and time.time() < deadline:
        _publish(store, "more")
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert int(out) >= 1
    assert os.path.exists(tmp_path / str(store.current()) / "manifest.json")
