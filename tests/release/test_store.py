"""The release store: one writer at a time, atomic publish, leftovers of dead builds cleared, and
published releases never deleted or reused (a missing, empty or unknown CURRENT is an error; a
rollback is `use`, recorded in the history)."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dtsen.release.history import HISTORY, read_history
from dtsen.release.manifest import file_entries, write_manifest
from dtsen.release.store import (
    CURRENT,
    BuildLockedError,
    CurrentReleaseError,
    ManifestError,
    ReleaseError,
    ReleaseIdError,
    ReleasePathError,
    ReleaseStore,
    copy_private,
)


def _publish(store: ReleaseStore, content: str) -> str:
    """A small but whole release: one data file, and a manifest listing it, that verifies."""
    with store.lock():
        store.clear_leftovers()
        rid = store.next_id()
        previous = store.current()
        staging = store.begin(rid)
        (staging / "data.txt").write_text(content)
        write_manifest(staging, {
            "release_id": rid, "previous": previous, "x": content, "created": f"2025-01-01T00:00:{len(content):02d}",
            "accounting": {"sources": {"s": {"rows_read": 3, "accepted": 2, "quarantined": 1}}},
            "tables": {}, "files": file_entries(staging),
        })  # fmt: skip
        store.publish(staging, rid)
    return rid


def _six(tmp_path: Path) -> ReleaseStore:
    store = ReleaseStore(tmp_path / "releases")
    for i in range(6):
        _publish(store, f"release {i + 1}")
    return store


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name not in (".build.lock",)}


def test_releases_are_numbered_published_and_listed(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path / "releases")
    assert store.current() is None and store.releases() == []
    assert _publish(store, "a") == "R0001"
    assert _publish(store, "b") == "R0002"
    assert store.current() == "R0002"
    assert [(r.release_id, r.current, r.status) for r in store.releases()] == [
        ("R0001", False, "earlier"), ("R0002", True, "current")]
    assert store.manifest("R0001")["x"] == "a"
    with pytest.raises(ReleaseError, match=r"no release 'R0009'.*known: R0001, R0002"):
        store.manifest("R0009")
    events, problems = store.history()
    assert problems == []
    assert [(e.event, e.from_release, e.to_release) for e in events] == [("publish", None, "R0001"),
                                                                          ("publish", "R0001", "R0002")]


def test_a_published_release_is_never_overwritten(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    rid = _publish(store, "a")
    with store.lock():
        staging = store.begin(rid)
        with pytest.raises(ReleaseError, match="never overwritten"):
            store.publish(staging, rid)


def test_writing_needs_the_lock(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    for call in (store.clear_leftovers, lambda: store.begin("R0002"), lambda: store.use("R0001")):
        with pytest.raises(ReleaseError, match="needs the project lock"):
            call()


def _hold_lock(root: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event) -> None:
    with ReleaseStore(Path(root)).lock("dtsen ingest"):
        ready.set()
        release.wait(30)


def test_a_second_command_is_refused_while_one_runs(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with (
            pytest.raises(BuildLockedError, match=rf"another dtsen command is writing .*pid {holder.pid}, dtsen ingest"),
            ReleaseStore(tmp_path).lock(),
        ):
            pass
    finally:
        release.set()
        holder.join(30)
    with ReleaseStore(tmp_path).lock():  # free again once the first command ends
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


def test_only_leftovers_of_dead_builds_are_cleared(tmp_path: Path) -> None:
    """`.building-*` and CURRENT.tmp go; a release renamed into place whose switch to CURRENT
    never happened (crash point publish:renamed) stays, as "never current", and its id is not
    handed out again."""
    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    with store.lock():
        half = store.begin("R0002")
        (half / "persons.parquet").write_bytes(b"half a file")
    orphan = tmp_path / "R0003"  # renamed into place, but CURRENT never switched
    orphan.mkdir()
    (orphan / "manifest.json").write_text('{"release_id": "R0003", "previous": "R0001"}')
    (tmp_path / (CURRENT + ".tmp")).write_text("R0003\n")
    assert store.current() == "R0001"
    with store.lock():
        removed = store.clear_leftovers()
    assert {p.name for p in removed} == {half.name, CURRENT + ".tmp"}
    assert not half.exists() and (orphan / "manifest.json").exists()
    assert [(r.release_id, r.status) for r in store.releases()] == [("R0001", "current"), ("R0003", "never current")]
    assert _publish(store, "b") == "R0004"
    assert [(r.release_id, r.status) for r in store.releases()] == [
        ("R0001", "earlier"), ("R0003", "never current"), ("R0004", "current")]


def test_a_missing_current_is_an_error_and_deletes_nothing(tmp_path: Path) -> None:
    """The probe: `rm releases/CURRENT` on a store of six releases; before, the next build
    removed all six and published a new R0001."""
    store = _six(tmp_path)
    (store.root / CURRENT).unlink()
    before = _tree(store.root)
    with pytest.raises(CurrentReleaseError) as err:
        store.current()
    text = str(err.value)
    assert "CURRENT is missing" in text and "dtsen releases use ID" in text
    for i in range(1, 7):
        assert f"R{i:04d} (" in text
    with store.lock():
        assert store.clear_leftovers() == []
    assert _tree(store.root) == before  # nothing removed, nothing changed
    assert store.next_id() == "R0007"
    with pytest.raises(CurrentReleaseError):
        _publish(store, "next")  # a build asks for the current release first: refused
    assert _tree(store.root) == before


@pytest.mark.parametrize(("content", "said"), [
    ("", "is empty"), ("\n", "is empty"), ("R0009\n", "names R0009, which is not in the store"),
    ("../../etc\n", "not a release id"), ("r0002\n", "not a release id"), ("\udcff", "cannot be read"),
])  # fmt: skip
def test_an_empty_or_unknown_current_is_an_error(tmp_path: Path, content: str, said: str) -> None:
    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    _publish(store, "b")
    (tmp_path / CURRENT).write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(CurrentReleaseError, match=said):
        store.current()
    assert [r.release_id for r in store.releases()] == ["R0001", "R0002"]  # listing still works
    assert store.current_state().problem is not None


def test_a_hand_made_rollback_deletes_nothing_and_the_next_id_continues(tmp_path: Path) -> None:
    """The probe: CURRENT set by hand to R0003 of six; before, the next build removed R0004-R0006."""
    store = _six(tmp_path)
    (store.root / CURRENT).write_text("R0003\n")
    assert _publish(store, "seventh") == "R0007"
    assert [r.release_id for r in store.releases()] == [f"R{i:04d}" for i in range(1, 8)]
    assert store.manifest("R0007")["previous"] == "R0003"
    assert all((store.root / f"R{i:04d}" / "data.txt").read_text() == f"release {i}" for i in range(1, 7))


def test_use_rolls_back_and_is_recorded(tmp_path: Path) -> None:
    store = _six(tmp_path)
    with store.lock("dtsen releases use"):
        event = store.use("R0003", reason="R0005-R0006 ranked with a bad survey; NIK 3204055203850002 complained")
    assert event is not None and store.current() == "R0003"
    events, problems = read_history(store.root)
    assert problems == []
    last = events[-1]
    assert (last.event, last.from_release, last.to_release) == ("use", "R0006", "R0003")
    assert last.user and last.time and last.reason is not None
    assert "3204********0002" in last.reason and "3204055203850002" not in last.reason  # masked on the way in
    assert [(r.release_id, r.status) for r in store.releases()][2:] == [
        ("R0003", "current"), ("R0004", "earlier"), ("R0005", "earlier"), ("R0006", "earlier")]
    assert _publish(store, "after the rollback") == "R0007"
    assert store.manifest("R0007")["previous"] == "R0003"
    with store.lock():  # roll forward again
        assert store.use("R0006") is not None
        assert store.use("R0006") is None  # already current: nothing recorded
    events, _ = read_history(store.root)
    assert [(e.event, e.from_release, e.to_release) for e in events[-3:]] == [
        ("use", "R0006", "R0003"), ("publish", "R0003", "R0007"), ("use", "R0007", "R0006")]
    lines = (store.root / HISTORY).read_text().splitlines()
    assert len(lines) == 9 and all(json.loads(line)["to"] for line in lines)  # appended, never rewritten


def test_use_repairs_a_missing_current(tmp_path: Path) -> None:
    store = _six(tmp_path)
    (store.root / CURRENT).unlink()
    with store.lock():
        event = store.use("R0005", reason="CURRENT lost in a copy")
    assert event is not None and event.from_release is None and event.note == "CURRENT is missing"
    assert store.current() == "R0005"


def test_use_refuses_unknown_invalid_and_damaged_releases(tmp_path: Path) -> None:
    store = _six(tmp_path)
    (store.root / "R0002" / "data.txt").write_text("changed")
    (store.root / "R0004" / "manifest.json").write_text("{not json")
    with store.lock():
        with pytest.raises(ReleaseError, match="no release 'R0009'"):
            store.use("R0009")
        with pytest.raises(ReleaseIdError, match="not a release id"):
            store.use("../R0001")
        with pytest.raises(ReleaseError, match="R0002 is damaged") as damaged:
            store.use("R0002")
        assert "data.txt" in str(damaged.value)
        with pytest.raises(ManifestError, match="not valid JSON"):
            store.use("R0004")
    assert store.current() == "R0006"
    assert len(read_history(store.root)[0]) == 6  # nothing recorded


@pytest.mark.parametrize("bad", ["../../elsewhere", "/etc", "R1", "r0001", "R00001", "R0001/..", "", "R0001\n"])
def test_release_ids_are_checked(tmp_path: Path, bad: str) -> None:
    store = ReleaseStore(tmp_path / "releases")
    _publish(store, "a")
    with pytest.raises(ReleaseIdError, match="not a release id"):
        store.path(bad)
    with pytest.raises(ReleaseIdError):
        store.manifest(bad)


def test_a_release_folder_linked_outside_the_store_is_refused(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path / "releases")
    _publish(store, "a")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "manifest.json").write_text('{"release_id": "R0002"}')
    (store.root / "R0002").symlink_to(elsewhere)
    with pytest.raises(ReleasePathError, match="outside"):
        store.manifest("R0002")


def test_ids_in_the_history_are_never_handed_out_again(tmp_path: Path) -> None:
    """A release folder removed by hand does not free its id."""
    import shutil

    store = _six(tmp_path)
    with store.lock():
        store.use("R0004")
    shutil.rmtree(store.root / "R0006")
    shutil.rmtree(store.root / "R0005")
    assert store.next_id() == "R0007"


def test_a_corrupt_manifest_is_a_clear_error_and_listed_as_damaged(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    _publish(store, "b")
    cases = {
        b"{\n  \"release_id\": ": "not valid JSON (Expecting value at line 2",
        b"\xff\xfe garbage": "not UTF-8",
        b"[1, 2]": "not a JSON object",
        b'{"release_id": "R0007"}': "names release 'R0007', not R0001",
        b'{"release_id": "R0001", "previous": "../x"}': "previous '../x' is not a release id",
    }
    for content, said in cases.items():
        (tmp_path / "R0001" / "manifest.json").write_bytes(content)
        with pytest.raises(ManifestError, match=said.replace("(", r"\(")):
            store.manifest("R0001")
        infos = store.releases()
        assert [(r.release_id, r.status) for r in infos] == [("R0001", "damaged"), ("R0002", "current")]
        assert infos[0].problem is not None and said.split(" (")[0] in infos[0].problem
    (tmp_path / "R0001" / "manifest.json").unlink()
    assert store.releases()[0].status == "damaged"


def test_a_damaged_history_line_is_reported_not_raised(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    with (tmp_path / HISTORY).open("a") as fh:
        fh.write('{"event": "publish", "to": "../../x"}\nnot json\n')
    _publish(store, "b")
    events, problems = read_history(tmp_path)
    assert [e.to_release for e in events] == ["R0001", "R0002"]
    assert [p.where.rsplit(" ", 1)[-1] for p in problems] == ["2", "3"]


def test_a_published_release_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path)
    old = os.umask(0o022)
    try:
        with store.lock():
            rid = store.next_id()
            staging = store.begin(rid)
            (staging / "rapor").mkdir()
            (staging / "rapor" / "index.html").write_text("<html></html>")
            source = tmp_path.parent / f"{tmp_path.name}-model"
            (source / "sub").mkdir(parents=True)
            (source / "sub" / "model.json").write_text("{}")
            os.chmod(source / "sub" / "model.json", 0o644)
            copy_private(source, staging / "model" / "m1")
            write_manifest(staging, {"release_id": rid})
            store.publish(staging, rid)
    finally:
        os.umask(old)
    paths = [store.root / rid, *(store.root / rid).rglob("*"), store.root / CURRENT, store.root / HISTORY]
    assert len(paths) == 10
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


def test_a_symbolic_link_is_never_published(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path / "releases")
    with store.lock():
        staging = store.begin("R0001")
        (staging / "passwd").symlink_to("/etc/passwd")
        with pytest.raises(ReleasePathError, match="symbolic link"):
            store.publish(staging, "R0001")
    assert store.present() == []


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


def test_no_store_file_is_written_through_a_symbolic_link(tmp_path: Path) -> None:
    """The lock, CURRENT.tmp and the history are never opened through a link (a link planted in
    the store would otherwise have dtsen overwrite or append to the file it points at)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    store = ReleaseStore(tmp_path / "releases")
    _publish(store, "a")
    (store.root / ".build.lock").unlink()
    (store.root / ".build.lock").symlink_to(victim)
    with pytest.raises(ReleaseError, match="cannot open the project lock"), store.lock():
        pass
    (store.root / ".build.lock").unlink()
    (store.root / (CURRENT + ".tmp")).symlink_to(victim)
    (store.root / HISTORY).rename(store.root / "old-history")
    (store.root / HISTORY).symlink_to(victim)
    with store.lock():
        with pytest.raises(ReleaseError, match=r"HISTORY\.jsonl is not a plain file"):
            store.use("R0001")
        with pytest.raises(ReleaseError, match=r"HISTORY\.jsonl is not a plain file"):
            store.clear_leftovers()
        (store.root / HISTORY).unlink()
        (store.root / "old-history").rename(store.root / HISTORY)
        assert store.clear_leftovers() == [store.root / (CURRENT + ".tmp")]
    assert victim.read_text() == "precious\n"
    assert _publish(store, "b") == "R0002" and store.current() == "R0002"


def test_a_release_never_made_current_can_be_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build killed between the rename and the switch (publish:renamed) leaves a whole
    release that never became current: an operator may make it current, recorded."""
    import dtsen.release.store as store_module

    class Crash(BaseException):
        pass

    def crash(name: str) -> None:
        if name == "publish:renamed":
            raise Crash(name)

    store = ReleaseStore(tmp_path)
    _publish(store, "a")
    monkeypatch.setattr(store_module, "checkpoint", crash)
    with pytest.raises(Crash):
        _publish(store, "b")
    monkeypatch.undo()
    assert store.current() == "R0001"
    assert [(r.release_id, r.status) for r in store.releases()] == [("R0001", "current"), ("R0002", "never current")]
    with store.lock():
        store.clear_leftovers()
        event = store.use("R0002", reason="checked by hand: whole")
    assert event is not None and (event.from_release, event.to_release) == ("R0001", "R0002")
    assert [(r.release_id, r.status) for r in store.releases()] == [("R0001", "earlier"), ("R0002", "current")]
    assert _publish(store, "c") == "R0003"
