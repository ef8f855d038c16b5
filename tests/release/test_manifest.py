"""`verify_release`: every file of a release is in its manifest with its sha256; a file changed,
missing or extra is named; a manifest path never leads outside the release."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dtsen.release.manifest import file_entries, table_entries, verify_release, write_manifest

ACCOUNTING = {"sources": {"dtks": {"rows_read": 5, "accepted": 4, "quarantined": 1}}}


def _release(root: Path) -> Path:
    """A release-shaped folder with a table, a scorecard, a village list, link and model files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = root / "R0001"
    (d / "persons.parquet").mkdir(parents=True)
    pq.write_table(pa.table({"person_id": [1, 2, 3]}), d / "persons.parquet" / "part-0.parquet")
    (d / "rapor").mkdir()
    (d / "rapor" / "rapor_32_04.html").write_text("<html>skor 87</html>")
    village = d / "cek_lapangan" / "32.04" / "32.04.05" / "32.04.05.2001"
    village.mkdir(parents=True)
    (village / "kunjungan.csv").write_text("family_id,nama\n7,SITI\n")
    (d / "link").mkdir()
    (d / "link" / "manifest.json").write_text('{"release_id": "L0123456789ab"}')
    (d / "model" / "ols-1").mkdir(parents=True)
    (d / "model" / "ols-1" / "model.json").write_text("{}")
    files = file_entries(d)
    write_manifest(d, {"release_id": "R0001", "previous": None, "accounting": ACCOUNTING,
                       "tables": table_entries(d, ["persons"], files), "files": files})
    return d


def _edit_manifest(d: Path, change: dict[str, object]) -> None:
    manifest = json.loads((d / "manifest.json").read_text())
    manifest.update(change)
    (d / "manifest.json").write_text(json.dumps(manifest))


def test_the_manifest_lists_every_file(tmp_path: Path) -> None:
    d = _release(tmp_path)
    files = json.loads((d / "manifest.json").read_text())["files"]
    assert sorted(files) == [
        "cek_lapangan/32.04/32.04.05/32.04.05.2001/kunjungan.csv", "link/manifest.json",
        "model/ols-1/model.json", "persons.parquet/part-0.parquet", "rapor/rapor_32_04.html",
    ]  # fmt: skip
    assert files["rapor/rapor_32_04.html"] == hashlib.sha256(b"<html>skor 87</html>").hexdigest()
    assert verify_release(d) == []


@pytest.mark.parametrize("victim", ["rapor/rapor_32_04.html", "cek_lapangan/32.04/32.04.05/32.04.05.2001/kunjungan.csv",
                                    "link/manifest.json", "model/ols-1/model.json"])
def test_a_changed_file_outside_the_tables_is_found(tmp_path: Path, victim: str) -> None:
    """The probe: a changed scorecard or village list passed `--verify`."""
    d = _release(tmp_path)
    path = d / victim
    path.write_bytes(path.read_bytes().replace(b"8", b"9").replace(b"SITI", b"=HYPERLINK()") + b" ")
    problems = verify_release(d)
    assert [(p.where, "changed" in p.message) for p in problems] == [(str(path), True)]


def test_missing_and_extra_files_are_named(tmp_path: Path) -> None:
    d = _release(tmp_path)
    (d / "rapor" / "rapor_32_04.html").unlink()
    (d / "rapor" / "rapor_32_73.html").write_text("<html>a page nobody published</html>")
    (d / "notes.txt").write_text("dropped in by hand")
    problems = {p.where: p.message for p in verify_release(d)}
    assert problems == {
        str(d / "rapor" / "rapor_32_04.html"): "is missing (listed in the manifest)",
        str(d / "rapor" / "rapor_32_73.html"): "is extra: not in the manifest",
        str(d / "notes.txt"): "is extra: not in the manifest",
    }


def test_a_manifest_path_never_leaves_the_release(tmp_path: Path) -> None:
    """The probe: a manifest entry `../../../../etc/passwd` was followed (and, with the right
    sha256, passed). Here the file outside exists with exactly the sha256 the entry gives."""
    d = _release(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of any release")
    sha = hashlib.sha256(outside.read_bytes()).hexdigest()
    manifest = json.loads((d / "manifest.json").read_text())
    for bad in ("../outside.txt", "../../../../etc/passwd", str(outside), "rapor/../../outside.txt"):
        manifest["tables"]["persons"]["files"] = {bad: sha}
        manifest["files"] = {**{k: v for k, v in manifest["files"].items() if "persons" not in k}, bad: sha}
        (d / "manifest.json").write_text(json.dumps(manifest))
        problems = verify_release(d)
        assert any("leaves its folder" in p.message and bad[:60] in p.message for p in problems), (bad, problems)
        assert any(p.where.endswith("part-0.parquet") and "extra" in p.message for p in problems)


def test_a_symbolic_link_out_of_the_release_is_refused(tmp_path: Path) -> None:
    d = _release(tmp_path)
    outside = tmp_path / "outside.html"
    outside.write_text("<html>skor 87</html>")  # the same bytes as the page it replaces
    page = d / "rapor" / "rapor_32_04.html"
    page.unlink()
    page.symlink_to(outside)
    problems = verify_release(d)
    assert any("outside" in p.message for p in problems), problems
    assert any(p.where == str(page) and "symbolic link" in p.message for p in problems)
    (d / "rapor").rename(d / "rapor_real")
    (d / "rapor").symlink_to(d / "rapor_real")  # a linked folder, even inside, is not followed
    assert any(p.where == str(d / "rapor") and "symbolic link" in p.message for p in verify_release(d))


def test_a_broken_manifest_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    d = _release(tmp_path)
    (d / "manifest.json").write_text('{"release_id": "R0001", "tables": ')
    problems = verify_release(d)
    assert len(problems) == 1 and "not valid JSON" in problems[0].message
    (d / "manifest.json").write_text(json.dumps({"release_id": "R0001", "files": {"x": "abc"}, "tables": [],
                                                 "accounting": {"sources": {"s": {"rows_read": "5"}}}}))
    messages = " | ".join(p.message for p in verify_release(d))
    for said in ("sha256 of 'x' is malformed", "'tables' is missing or not a mapping",
                 "accounting of source s is malformed", "is extra"):
        assert said in messages, said


def test_an_unbalanced_accounting_is_found(tmp_path: Path) -> None:
    d = _release(tmp_path)
    _edit_manifest(d, {"accounting": {"sources": {"dtks": {"rows_read": 5, "accepted": 4, "quarantined": 0}}}})
    assert [p.message for p in verify_release(d)] == ["source dtks does not balance"]


def test_an_older_manifest_has_its_tables_checked(tmp_path: Path) -> None:
    """A manifest of dtsen 0.1 (no `files`): its table files are still checked, and the other
    files cannot be (the CLI says so)."""
    d = _release(tmp_path)
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["files"]
    (d / "manifest.json").write_text(json.dumps(manifest))
    assert verify_release(d) == []
    victim = d / "persons.parquet" / "part-0.parquet"
    victim.write_bytes(victim.read_bytes() + b"x")
    assert [p.where for p in verify_release(d)] == [str(victim)]
