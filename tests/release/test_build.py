"""`dtsen build` end to end on a small synthetic regency: the release, its manifest, the same
tables from the same inputs, crashes at many points, a refused second build, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.release.build import BuildResult, store_for
from dtsen.release.manifest import verify_release
from dtsen.release.store import CRASH_ENV

from ..conftest import build_on_duckdb, regency_project

PERSONS = 1_500


_build = build_on_duckdb


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return regency_project(tmp_path_factory.mktemp("build") / "project", PERSONS, seed=21)


@pytest.fixture(scope="module")
def built(project: Path) -> tuple[BuildResult, BuildResult]:
    """Two builds of the same inputs: R0001, then R0002 on top of it."""
    return _build(project), _build(project)


def test_a_build_publishes_a_whole_release_with_a_balanced_manifest(project: Path, built: Any) -> None:
    first, _ = built
    m = first.manifest
    assert first.release_id == "R0001" and m["previous"] is None
    assert verify_release(first.path) == []
    acc = m["accounting"]
    for source, row in acc["sources"].items():
        assert row["rows_read"] == row["accepted"] + row["quarantined"], source
    assert acc["total"]["quarantined"] == m["tables"]["quarantine"]["rows"]  # every quarantined row is in it
    assert acc["total"]["quarantined"] > 0  # the synthetic sources carry damaged rows
    inputs = {e["path"]: e for e in m["inputs"]}
    # a file of several record kinds (the census's RUTA and ART rows) is one input of several sources
    assert set(inputs) == {f for s in load_settings(project).sources.values() for f in s.files}
    assert all(len(e["sha256"]) == 64 and e["rows_read"] is not None for e in inputs.values())
    assert sum(e["rows_read"] for e in m["inputs"]) == acc["total"]["rows_read"]  # per source and file
    assert m["models"]["pmt"].startswith(("ols-", "boosted-", "asset_index-", "blend-")) and len(m["settings"]["sha256"]) == 64
    for name in ("persons", "families", "links", "provenance", "conflicts", "events", "quarantine", "quality",
                 "verification_candidates"):
        assert (first.path / f"{name}.parquet").exists(), name
    families = read_parquet_arrow(first.path / "families.parquet")
    assert {"decile", "predicted_consumption", "poor"} <= set(families.column_names)
    assert (first.path / "link" / "manifest.json").exists()  # the next build carries ids on from here
    assert (first.path / "rapor" / "index.html").exists()
    assert list((first.path / "cek_lapangan").rglob("kunjungan.csv"))


def test_the_release_holds_the_headcounts_and_the_scorecard_shows_them(built: Any) -> None:
    first, _ = built
    heads = read_parquet_arrow(first.path / "headcounts.parquet").to_pylist()
    families = read_parquet_arrow(first.path / "families.parquet").to_pylist()
    for line, flag in (("poor", "poor"), ("extreme", "extreme_poor")):
        national = [h for h in heads if h["level"] == "national" and h["line"] == line]
        assert len(national) == 1
        flagged = sum(f["size"] or 0 for f in families if f[flag])
        assert national[0]["flagged_persons"] == flagged  # the release's own flags, counted again here
        assert national[0]["source"] in ("official", "survey", "model")
    regency = next(h for h in heads if h["level"] == "regency" and h["line"] == "poor")
    page = (first.path / "rapor" / f"rapor_{regency['region'].replace('.', '_')}.html").read_text(encoding="utf-8")
    assert 'id="jumlah-miskin"' in page


def test_the_same_inputs_give_the_same_tables(built: Any) -> None:
    first, second = built
    assert second.release_id == "R0002" and second.manifest["previous"] == "R0001"
    a, b = first.manifest["tables"], second.manifest["tables"]
    for name in a:
        if name == "events":
            continue  # the first build has no previous run, the second records that nothing changed
        assert a[name] == b[name], name  # byte-identical files
    events = read_parquet_arrow(second.path / "events.parquet")
    assert events.num_rows == 0  # nobody new, merged, split or removed


def test_releases_cli_lists_shows_verifies_and_compares(project: Path, built: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["releases", "list", "--project", str(project)])
    assert listed.exit_code == 0, listed.output
    assert "R0001" in listed.output and "R0002" in listed.output
    shown = runner.invoke(app, ["releases", "show", "--project", str(project), "--verify"])
    assert shown.exit_code == 0, shown.output
    assert "R0002" in shown.output and "Every file matches the manifest" in shown.output
    assert "none missing, none extra" in shown.output
    out = tmp_path / "diff.json"
    diffed = runner.invoke(app, ["releases", "diff", "R0001", "R0002", "--project", str(project), "--json", str(out)])
    assert diffed.exit_code == 0, diffed.output
    d = json.loads(out.read_text())
    assert d["persons"]["added"] == 0 and d["persons"]["removed"] == 0
    assert d["families"]["decile_moved"] == 0
    code = next(iter(read_parquet_arrow(built[1].path / "verification_candidates.parquet")["region_code"].to_pylist()))
    checks = runner.invoke(app, ["releases", "checks", code[:8], "--project", str(project), "--out", str(tmp_path / "c")])
    assert checks.exit_code == 0, checks.output
    village = tmp_path / "c" / code[:5] / code[:8] / code
    assert {p.name for p in village.iterdir()} == {"kunjungan.csv", "kunjungan.xlsx", "formulir.xlsx"}
    released = built[1].path / "cek_lapangan" / code[:5] / code[:8] / code / "kunjungan.csv"
    assert (village / "kunjungan.csv").read_bytes() == released.read_bytes()  # the same list, on demand
    unknown = runner.invoke(app, ["releases", "show", "R0099", "--project", str(project)])
    assert unknown.exit_code == 2 and "no release 'R0099'" in unknown.output


def test_a_damaged_release_file_is_found(built: Any, tmp_path: Path) -> None:
    first, _ = built
    copy = tmp_path / first.release_id
    shutil.copytree(first.path, copy)
    victim = next((copy / "persons.parquet").glob("*.parquet"))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    problems = verify_release(copy)
    assert len(problems) == 1 and "persons.parquet" in problems[0].where and "changed" in problems[0].message


# -- crashes ------------------------------------------------------------------------------------

CRASH_POINTS = [
    "after:ingest", "after:link", "after:rank", "after:assess", "write:persons", "write:links",
    "write:quality", "write:verification_candidates", "write:reports", "write:manifest",
    "publish:flushed", "publish:renamed", "publish:current-written",
]  # fmt: skip


def _run_cli_build(project: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dtsen", "build", "--project", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


class _Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler of the build catches it
    (only `finally` blocks run, and the one that matters, the lock's, the OS would run too)."""


def test_a_build_killed_anywhere_leaves_the_current_release_whole(
    project: Path, built: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirteen named points (after every step, between the table writes, between the two
    renames of the switch), then two kills of a real `dtsen build` process at random moments:
    each time the current release is still the last whole one, and the next build succeeds.

    At the named points the heavy steps (ingest, link, rank) replay their results from a real
    build of the same project, so that each crash costs seconds; the random kills run
    everything for real."""
    import dtsen.ingest.pipeline as ingest_mod
    import dtsen.link.pipeline as link_mod
    import dtsen.release.build as build_mod
    import dtsen.release.store as store_mod
    import dtsen.welfare.pipeline as welfare_mod

    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    store = store_for(load_settings(copy))
    steps = {"ingest": (ingest_mod, "ingest"), "link": (link_mod, "link"), "rank": (welfare_mod, "rank")}
    replay: dict[str, Any] = {}
    for name, (module, attr) in steps.items():
        real = getattr(module, attr)

        def recording(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            replay[_name] = _real(*args, **kwargs)
            return replay[_name]

        monkeypatch.setattr(module, attr, recording)
    before = _build(copy).release_id  # R0003, recorded
    for name, (module, attr) in steps.items():
        monkeypatch.setattr(module, attr, lambda *a, _name=name, **k: replay[_name])

    for point in CRASH_POINTS:
        def crash(name: str, _point: str = point) -> None:
            if name == _point:
                raise _Crash(name)

        monkeypatch.setattr(build_mod, "checkpoint", crash)
        monkeypatch.setattr(store_mod, "checkpoint", crash)
        with pytest.raises(_Crash):
            _build(copy)
        assert store.current() == before, point
        assert verify_release(store.path(before)) == [], point
    monkeypatch.undo()
    # the two crashes after the rename into place left whole releases that never became current:
    # kept (never deleted by the software), shown as such, their ids never handed out again
    never = [r for r in store.releases() if r.status == "never current"]
    assert len(never) == 2 and all(verify_release(r.path) == [] for r in never)
    assert store.next_id() > never[-1].release_id

    rng = __import__("random").Random(5)
    for _ in range(2):
        proc = _run_cli_build(copy)
        time.sleep(rng.uniform(3.0, 25.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        current = store.current()
        assert current is not None and verify_release(store.path(current)) == []
    result = _build(copy)
    assert store.current() == result.release_id and verify_release(result.path) == []
    assert [r.release_id for r in store.releases()][-1] == result.release_id


def test_the_crash_hook_kills_the_process_at_once(project: Path, built: Any, tmp_path: Path) -> None:
    """DTSEN_CRASH_AT really ends the process (exit 137), leaving the current release."""
    copy = tmp_path / "project"
    shutil.copytree(project, copy)
    proc = subprocess.run(
        [sys.executable, "-m", "dtsen", "build", "--project", str(copy)],
        env={**os.environ, CRASH_ENV: "after:ingest"}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 137
    store = store_for(load_settings(copy))
    assert store.current() == "R0002" and verify_release(store.path("R0002")) == []


def test_a_second_build_is_refused_while_one_runs(project: Path, built: Any) -> None:
    store = store_for(load_settings(project))
    with store.lock():
        result = CliRunner().invoke(app, ["build", "--project", str(project)])
    assert result.exit_code == 2
    assert "another dtsen command is writing to this project" in result.output and "Traceback" not in result.output
    assert f"pid {os.getpid()}, dtsen build" in result.output
    assert store.current() == "R0002"


def test_a_broken_input_stops_the_build_and_keeps_the_release(project: Path, built: Any, tmp_path: Path) -> None:
    copy = tmp_path / "broken"
    shutil.copytree(project, copy)
    target = next((copy / "dtks").glob("*.csv"))
    target.write_bytes(b"\x00\x01\x02PK binary, not a CSV\x00" * 50)
    # with ingest.strict (issue 11: by default the file is quarantined whole and the build goes on)
    result = CliRunner().invoke(app, ["build", "--project", str(copy)], env={"DTSEN_INGEST__STRICT": "true"})
    assert result.exit_code == 2, result.output
    assert target.name in result.output and "Traceback" not in result.output
    store = store_for(load_settings(copy))
    assert store.current() == "R0002" and verify_release(store.path("R0002")) == []
