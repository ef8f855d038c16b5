"""The release store under the probes of issue 11, through the real command line, on one small
built project: releases are never deleted or reused, ids and manifest paths are checked, every
file of a release is verified, files are owner-only, and the project lock is held by every
command that writes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.release.build import store_for
from dtsen.release.manifest import verify_release
from dtsen.release.store import CURRENT

from ..conftest import regency_project

PERSONS = 300
runner = CliRunner()


@pytest.fixture(autouse=True)
def _keep_umask() -> Iterator[None]:
    """The CLI sets the process's umask (077); give the test process its own back afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def _dtsen(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m dtsen ...` in a child whose umask is the common 022: whatever dtsen writes is
    owner-only only if dtsen makes it so."""
    return subprocess.run([sys.executable, "-m", "dtsen", *args], capture_output=True, text=True, timeout=900,
                          preexec_fn=lambda: os.umask(0o022))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regency of 300 persons, built once into R0001 by `python -m dtsen build` (with a review
    band wide enough that the linkage writes a clerical-review file)."""
    root = regency_project(tmp_path_factory.mktemp("safety") / "project", PERSONS, seed=3)
    with (root / "dtsen.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[link]\nreview_low = 0.05\n")
    built = _dtsen("build", "--project", str(root))
    assert built.returncode == 0, built.stdout + built.stderr
    return root


def _copy(project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(project, copy, symlinks=True)
    return copy


def _village(project: Path) -> str:
    release = store_for(load_settings(project)).path("R0001")
    return str(read_parquet_arrow(release / "verification_candidates.parquet")["region_code"][0])


# -- owner-only files -----------------------------------------------------------------------------

def test_every_file_dtsen_writes_is_owner_only(project: Path) -> None:
    """The probe: work/ (raw quarantined rows with NIKs), review/, programme lists and
    `releases checks` output were 0644 files in 0755 folders."""
    target = _dtsen("target", "pkh", "--project", str(project))
    assert target.returncode == 0, target.stdout + target.stderr
    checks = _dtsen("releases", "checks", _village(project)[:8], "--project", str(project),
                    "--out", str(project / "cek"))
    assert checks.returncode == 0, checks.stdout + checks.stderr
    # the clerical-review file is written only when the linkage leaves pairs to review, which this
    # small project may not (its folder is checked below when it is there)
    for must in ("work/ingest/quarantine", "work/welfare/programmes/pkh",
                 "releases/R0001/rapor", "releases/HISTORY.jsonl", "cek"):
        assert (project / must).exists(), must
    seen = 0
    for top in ("work", "releases", "review", "cek"):
        if not (project / top).exists():
            continue
        for path in [project / top, *(project / top).rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode & 0o077 == 0, f"{path.relative_to(project)} is {oct(mode)}"
            seen += 1
    assert seen > 200


# -- every file in the manifest, verified ---------------------------------------------------------

def test_the_manifest_lists_every_file_of_the_release(project: Path) -> None:
    release = store_for(load_settings(project)).path("R0001")
    manifest = json.loads((release / "manifest.json").read_text())
    present = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == present
    for prefix in ("rapor/", "cek_lapangan/", "link/", "model/", "persons.parquet/"):
        assert any(f.startswith(prefix) for f in present), prefix
    for entry in manifest["tables"].values():
        assert all(manifest["files"][rel] == sha for rel, sha in entry["files"].items())
    assert verify_release(release) == []


def test_verify_names_changed_missing_and_extra_files(project: Path, tmp_path: Path) -> None:
    """The probe: a changed `rapor/*.html` or `cek_lapangan/*.csv` passed `--verify`."""
    copy = _copy(project, tmp_path)
    release = copy / "releases" / "R0001"
    page = next((release / "rapor").glob("rapor_*.html"))
    page.write_text(page.read_text().replace("<body", "<body data-x='1'", 1))
    visit = next((release / "cek_lapangan").rglob("kunjungan.csv"))
    visit.write_bytes(visit.read_bytes() + b'=HYPERLINK("http://x","klik")\n')
    (release / "model").joinpath("notes.txt").write_text("extra")
    gone = release / "link" / "links.parquet"
    gone.unlink()
    shown = runner.invoke(app, ["releases", "show", "R0001", "--project", str(copy), "--verify"])
    assert shown.exit_code == 2, shown.output
    text = " ".join(shown.output.split())
    assert "R0001 is damaged (4 problems)" in text and "Traceback" not in text
    for path, said in ((page, "is not what the manifest says"), (visit, "is not what the manifest says"),
                       (gone, "is missing"),
                       (release / "model" / "notes.txt", "is extra")):
        assert f"{path.relative_to(copy)}: {said}" in text.replace(str(copy) + "/", ""), (path, said)


def test_a_corrupt_manifest_is_a_clear_error_everywhere(project: Path, tmp_path: Path) -> None:
    """The probe: a corrupt manifest.json gave a JSONDecodeError traceback from `releases list`."""
    copy = _copy(project, tmp_path)
    (copy / "releases" / "R0001" / "manifest.json").write_text('{"release_id": "R0001", "tables": {')
    listed = runner.invoke(app, ["releases", "list", "--project", str(copy)])
    assert listed.exit_code == 0, listed.output
    assert "rusak / damaged" in listed.output and "not valid JSON" in listed.output
    for args in (["releases", "show", "R0001"], ["releases", "show"], ["releases", "diff", "R0001", "R0001"],
                 ["releases", "checks", "32.04", "--out", str(tmp_path / "c")], ["build"]):
        result = runner.invoke(app, [*args, "--project", str(copy)])
        assert result.exit_code == 2, (args, result.output)
        assert "not valid JSON" in result.output and "Traceback" not in result.output, args
    assert not (tmp_path / "c").exists()


# -- ids and paths --------------------------------------------------------------------------------

def test_release_ids_from_arguments_are_checked(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probes: `releases show ../../elsewhere --verify` read a manifest outside the store;
    `releases checks REGION --release ../../x` wrote into ./x."""
    monkeypatch.chdir(tmp_path)
    store = store_for(load_settings(project))
    elsewhere = store.root / ".." / ".." / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "manifest.json").write_text(json.dumps({"release_id": "elsewhere", "created": "x", "engine": "x",
                                                         "code": "x", "accounting": {"sources": {}}, "models": {},
                                                         "metrics": {}, "tables": {}}))
    try:
        region = _village(project)[:8]
        for args in (["releases", "show", "../../elsewhere", "--verify"],
                     ["releases", "checks", region, "--release", "../../x"],
                     ["releases", "checks", region, "--release", "/tmp"],
                     ["releases", "diff", "R0001", "../R0001"],
                     ["releases", "use", "../../elsewhere"],
                     ["releases", "show", "R1"]):
            result = runner.invoke(app, [*args, "--project", str(project)])
            assert result.exit_code == 2, (args, result.output)
            assert "is not a release id" in result.output and "Traceback" not in result.output, args
        bad_region = runner.invoke(app, ["releases", "checks", "../../x", "--project", str(project)])
        assert bad_region.exit_code == 2 and "is not a region code" in bad_region.output
        assert list(tmp_path.iterdir()) == []  # nothing written here, nor in ./x
    finally:
        shutil.rmtree(elsewhere)
    assert store.current() == "R0001"


# -- never deleted, never reused; rollback recorded -------------------------------------------------

def test_a_lost_current_stops_the_build_and_a_rollback_is_recorded(project: Path, tmp_path: Path) -> None:
    """The probe: `rm releases/CURRENT; dtsen build` deleted R0001 and published a new,
    different R0001. Now the build refuses and names the way out; `releases use` chooses,
    is recorded, and builds continue after the highest id."""
    copy = _copy(project, tmp_path)
    store = store_for(load_settings(copy))
    first_manifest = (store.path("R0001") / "manifest.json").read_bytes()
    (store.root / CURRENT).unlink()

    refused = runner.invoke(app, ["build", "--project", str(copy)])
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "CURRENT is missing" in text and "R0001 (earlier" in text and "dtsen releases use ID" in text
    assert store.present() == ["R0001"] and (store.path("R0001") / "manifest.json").read_bytes() == first_manifest
    listed = runner.invoke(app, ["releases", "list", "--project", str(copy)])
    assert listed.exit_code == 0 and "CURRENT is missing" in listed.output

    used = runner.invoke(app, ["releases", "use", "R0001", "--reason", "CURRENT lost", "--project", str(copy)])
    assert used.exit_code == 0, used.output
    assert "continues from R0001 as R0002" in " ".join(used.output.split())
    second = runner.invoke(app, ["build", "--project", str(copy)])
    assert second.exit_code == 0, second.output
    rollback = runner.invoke(app, ["releases", "use", "R0001", "--reason", "R0002 drawn from a bad survey [see memo 7/2025]",
                                   "--project", str(copy)])
    assert rollback.exit_code == 0, rollback.output
    third = runner.invoke(app, ["build", "--project", str(copy)])
    assert third.exit_code == 0, third.output

    assert store.present() == ["R0001", "R0002", "R0003"] and store.current() == "R0003"
    assert store.manifest("R0002")["previous"] == "R0001" and store.manifest("R0003")["previous"] == "R0001"
    assert (store.path("R0001") / "manifest.json").read_bytes() == first_manifest
    assert all(verify_release(store.path(r)) == [] for r in store.present())
    assert [(r.release_id, r.status) for r in store.releases()] == [
        ("R0001", "earlier"), ("R0002", "earlier"), ("R0003", "current")]
    history = runner.invoke(app, ["releases", "history", "--project", str(copy)])
    assert history.exit_code == 0, history.output
    events, _ = store.history()
    assert [(e.event, e.from_release, e.to_release, e.reason) for e in events] == [
        ("publish", None, "R0001", None), ("use", None, "R0001", "CURRENT lost"), ("publish", "R0001", "R0002", None),
        ("use", "R0002", "R0001", "R0002 drawn from a bad survey [see memo 7/2025]"), ("publish", "R0001", "R0003", None)]
    assert "R0002 drawn from a bad survey [see memo 7/2025]" in " ".join(history.output.split())

    # the same inputs give the same release (invariant 4): the files differ only where the release
    # names itself or a timestamp (scorecard pages, workbook properties, the link manifest's date)
    a, b = store.manifest("R0002")["files"], store.manifest("R0003")["files"]
    assert set(a) == set(b)
    differ = {f for f in a if a[f] != b[f]}
    assert all(f.startswith("rapor/") or f.endswith(".xlsx") or f == "link/manifest.json" for f in differ), differ
    assert not any(f.endswith(".parquet") or f.endswith(".csv") for f in differ)


# -- the project lock ----------------------------------------------------------------------------

@pytest.fixture
def held(project: Path) -> Iterator[int]:
    """Another process holding the project lock as a build would; its pid."""
    code = (
        "import time; from pathlib import Path; from dtsen.release.store import ReleaseStore\n"
        f"with ReleaseStore(Path({str(project / 'releases')!r})).lock('dtsen build'):\n"
        "    print('locked', flush=True); time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_every_command_that_writes_is_refused_while_another_holds_the_lock(project: Path, held: int) -> None:
    """The probe: ingest, link, rank and target took no lock and ran during a build."""
    region = _village(project)[:8]
    commands = [["ingest"], ["link"], ["rank"], ["pmt", "train"], ["target", "pkh"], ["evaluate", "welfare"],
                ["build"], ["releases", "use", "R0001"], ["releases", "checks", region, "--out", str(project / "x")]]
    for args in commands:
        result = runner.invoke(app, [*args, "--project", str(project)])
        assert result.exit_code == 2, (args, result.output)
        text = " ".join(result.output.split())
        assert f"another dtsen command is writing to this project (pid {held}, dtsen build" in text, args
    assert not (project / "x").exists()
    listed = runner.invoke(app, ["releases", "list", "--project", str(project)])  # reading is not writing
    assert listed.exit_code == 0 and "R0001" in listed.output


def _with_person(project: Path, birth: str, serial: str, name: str) -> str:
    """The registry extract with one more person (a new NIK and KK in a village of the project,
    born on `birth` DD-MM-YYYY), replacing any added before; returns the NIK."""
    village = _village(project)
    district = village.replace(".", "")[:6]
    day, month, year = birth.split("-")
    nik, kk = f"{district}{day}{month}{year[2:]}{serial}", f"{district}010125{serial}"
    path = project / "dukcapil" / "biodata_penduduk.csv"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if ";JL. TAMBAHAN;" not in line]
    prop, kab, kec, kel = (str(int(part)) for part in village.split("."))  # the export's unpadded code columns
    values = {"NIK": nik, "NO_KK": kk, "NAMA_LGKP": name, "JENIS_KLMIN": "1", "TMPT_LHR": "BANDUNG", "TGL_LHR": birth,
              "STAT_HBKEL": "1", "STATUS_KAWIN": "2", "PDDK_AKH": "4", "JENIS_PKRJN": "GURU", "PNYDNG_CCT": "0",
              "KODE_WILAYAH": village, "NO_PROP": prop, "NO_KAB": kab, "NO_KEC": kec, "NO_KEL": kel,
              "ALAMAT": "JL. TAMBAHAN", "NO_RT": "3", "NO_RW": "1", "STATUS_HIDUP": "HIDUP", "TGL_KEMATIAN": ""}
    header = lines[0].lstrip("\ufeff").split(";")
    assert set(header) <= set(values), set(header) - set(values)
    lines.append(";".join(values[column] for column in header))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return nik


def _person_ids(release: Path, nik: str) -> tuple[int, int]:
    persons = read_parquet_arrow(release / "persons.parquet").to_pylist()
    found = [(p["person_id"], p["family_id"]) for p in persons if p["nik"] == nik]
    assert len(found) == 1, found
    return found[0]


def test_after_a_rollback_new_ids_continue_after_every_id_ever_handed_out(project: Path, tmp_path: Path) -> None:
    """R0002 gives a new person the next ids; the operator rolls back to R0001; R0003 continues
    R0001's ids, but its own new person gets the ids after R0002's, never R0002's again."""
    copy = _copy(project, tmp_path)
    store = store_for(load_settings(copy))
    first = json.loads((store.path("R0001") / "link" / "manifest.json").read_text(encoding="utf-8"))

    added = _with_person(copy, "11-02-1974", "9901", "ADITYA PRATAMA")
    built = runner.invoke(app, ["build", "--project", str(copy)])
    assert built.exit_code == 0, built.output
    second = json.loads((store.path("R0002") / "link" / "manifest.json").read_text(encoding="utf-8"))
    assert _person_ids(store.path("R0002"), added) == (first["next_person_id"], first["next_family_id"])
    assert (second["next_person_id"], second["next_family_id"]) == (
        first["next_person_id"] + 1, first["next_family_id"] + 1)

    used = runner.invoke(app, ["releases", "use", "R0001", "--reason", "R0002 withdrawn", "--project", str(copy)])
    assert used.exit_code == 0, used.output
    other = _with_person(copy, "25-09-1985", "9902", "BUDI SANTOSO")
    built = runner.invoke(app, ["build", "--project", str(copy)])
    assert built.exit_code == 0, built.output
    assert store.manifest("R0003")["previous"] == "R0001"
    assert _person_ids(store.path("R0003"), other) == (second["next_person_id"], second["next_family_id"])
    third = json.loads((store.path("R0003") / "link" / "manifest.json").read_text(encoding="utf-8"))
    assert (third["next_person_id"], third["next_family_id"]) == (
        second["next_person_id"] + 1, second["next_family_id"] + 1)
