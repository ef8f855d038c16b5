"""Backups that restore: a built project backed up, restored into an empty directory, verified,
read through its vault, and built on; incremental; a damaged backup refused, file named."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dtsen.backup import (
    BackupDamagedError,
    BackupError,
    BackupResult,
    Repository,
    RestoreTargetError,
    create_backup,
    restore_backup,
)
from dtsen.config import Settings, load_settings
from dtsen.release.manifest import verify_release
from dtsen.vault.keyring import Keyring
from dtsen.vault.lifecycle import init_keys
from dtsen.vault.providers import key_file_path, provider_for, read_key_file
from dtsen.vault.vault import ReleaseVault
from tests.conftest import build_on_duckdb, regency_project

PASSPHRASE = "kata sandi yang panjang"
VAULT_FILE = "store/vault-R0001/persons.parquet"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built regency project of 300 persons with its keys, and a vault of R0001's persons (kept
    in store/ until the build writes vaults into its releases: a published release is never changed)."""
    project = regency_project(tmp_path_factory.mktemp("built") / "proj", persons=300, seed=11)
    build_on_duckdb(project)
    settings = load_settings(project)
    init_keys(settings)
    persons = pq.read_table(project / "releases" / "R0001" / "persons.parquet")
    with ReleaseVault.create(Keyring.from_settings(settings), "R0001") as vault:
        vault.write(project / VAULT_FILE, "persons", persons, "person_id", ["nik", "full_name"])
    return project


def _copy(project: Path, to: Path) -> tuple[Path, Settings]:
    shutil.copytree(project, to, symlinks=True)
    return to, load_settings(to)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _backup(settings: Settings, dest: Path, passphrase: str | None = None) -> BackupResult:
    return create_backup(settings, settings.project.root / "dtsen.toml", dest, provider_for(settings),
                         key_file_path(settings), passphrase)


def test_a_backup_restores_into_an_empty_directory_verifies_and_builds_on(built: Path, tmp_path: Path) -> None:
    project, settings = _copy(built, tmp_path / "proj")
    settings.backup.include = ["store", "keys"]  # the key file lies in keys/: it must still be left out
    result = _backup(settings, tmp_path / "dest")
    assert result.files_written == result.files > 200 and result.previous is None
    assert {"path": str(key_file_path(settings)), "why": "the master key file is never backed up"} in result.skipped

    target = tmp_path / "restored"
    restored = restore_backup(tmp_path / "dest", target, provider=read_key_file(key_file_path(settings)))
    assert restored.files == result.files and restored.project_file == "dtsen.toml"
    assert not (target / "keys" / "master.key").exists()
    assert not (target / "work").exists()
    for rel in ("dtsen.toml", "releases/CURRENT", "releases/R0001/manifest.json", "releases/keys/R0001.json",
                "releases/keys/token.json", "dukcapil/biodata_penduduk.csv", "pkh/penerima_pkh.xlsx"):
        assert _sha(target / rel) == _sha(project / rel), rel
    assert (target / "releases" / "keys" / "token.json").stat().st_mode & 0o777 == 0o600
    assert verify_release(target / "releases" / "R0001") == []

    # the vault reads back with the original master key, put in place from its offline copy
    (target / "keys").mkdir(mode=0o700)
    shutil.copy2(key_file_path(settings), target / "keys" / "master.key")
    restored_settings = load_settings(target)
    vault_file = target / VAULT_FILE
    with ReleaseVault.open(Keyring.from_settings(restored_settings), "R0001") as vault:
        original = pq.read_table(project / "releases" / "R0001" / "persons.parquet")
        first = original.slice(0, 1).to_pylist()[0]
        assert vault.lookup(vault_file, [first["person_id"]]) == {
            first["person_id"]: {"nik": first["nik"], "full_name": first["full_name"]}}

    # and the restored project builds on: R0002 continues R0001's ids
    again = build_on_duckdb(target)
    assert again.release_id == "R0002" and again.manifest["previous"] == "R0001"
    before = set(pq.read_table(target / "releases" / "R0001" / "persons.parquet").column("person_id").to_pylist())
    after = set(pq.read_table(again.path / "persons.parquet").column("person_id").to_pylist())
    assert after == before


def test_backups_are_incremental_and_copy_the_store_consistently(built: Path, tmp_path: Path) -> None:
    project, settings = _copy(built, tmp_path / "proj")
    db = sqlite3.connect(project / "store" / "dtsen.sqlite")
    db.execute("pragma journal_mode=wal")
    db.execute("create table audit (n integer, what text)")
    db.executemany("insert into audit values (?, ?)", [(i, f"read {i}") for i in range(100)])
    db.commit()  # the rows sit in the -wal file: a plain file copy of dtsen.sqlite would miss them
    dest = tmp_path / "dest"
    first = _backup(settings, dest)
    second = _backup(settings, dest)
    assert second.previous == first.snapshot_id
    assert second.files == first.files and second.files_written == 0 and second.bytes_written == 0
    assert second.files_unread == first.files - 1  # all but the live database, which is snapshotted each time
    objects = sorted(p.name for p in (dest / "objects").rglob("*") if p.is_file())

    db.execute("insert into audit values (100, 'read 100')")
    db.commit()
    (project / "releases" / "R0001" / "manifest.json").touch()  # same content, new time: hashed, not copied
    third = _backup(settings, dest)
    assert third.files_written == 1 and third.files_unread == first.files - 2
    assert len([p for p in (dest / "objects").rglob("*") if p.is_file()]) == len(objects) + 1
    db.close()

    target = tmp_path / "restored"
    restore_backup(dest, target, passphrase=None, provider=provider_for(settings))
    assert sorted(p.name for p in (target / "store").iterdir() if p.is_file()) == ["dtsen.sqlite"]  # no -wal, -shm
    rows = sqlite3.connect(target / "store" / "dtsen.sqlite").execute("select count(*), max(n) from audit").fetchone()
    assert rows == (101, 100)
    older = tmp_path / "older"
    restore_backup(dest, older, provider=provider_for(settings), snapshot_id=first.snapshot_id)
    assert sqlite3.connect(older / "store" / "dtsen.sqlite").execute("select count(*) from audit").fetchone() == (100,)


def _small_backup(built: Path, tmp_path: Path) -> tuple[Settings, Path]:
    _, settings = _copy(built, tmp_path / "proj")
    settings.sources = {k: v for k, v in settings.sources.items() if k == "pln"}
    _backup(settings, tmp_path / "dest", PASSPHRASE)
    return settings, tmp_path / "dest"


def _object_of(dest: Path, settings: Settings, path: str) -> Path:
    repo = Repository.open(dest, provider_for(settings))
    snap = repo.read_snapshot(repo.snapshot_ids()[-1])
    return repo.object_path(next(f["object"] for f in snap["files"] if f["path"] == path))


@pytest.mark.parametrize("damage", ["flip", "truncate", "append", "delete"])
def test_a_damaged_backup_is_refused_with_the_file_named(built: Path, tmp_path: Path, damage: str) -> None:
    settings, dest = _small_backup(built, tmp_path)
    obj = _object_of(dest, settings, "pln/pelanggan_pln.csv")
    data = obj.read_bytes()
    if damage == "flip":
        obj.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        obj.write_bytes(data[:-5])
    elif damage == "append":
        obj.write_bytes(data + b"extra")
    else:
        obj.unlink()
    target = tmp_path / "restored"
    with pytest.raises(BackupDamagedError, match=r"nothing was restored") as info:
        restore_backup(dest, target, provider=provider_for(settings))
    assert [p.message.split(":")[0] for p in info.value.problems] == ["pln/pelanggan_pln.csv"]
    assert str(obj) in str(info.value)
    assert not target.exists()


def test_an_altered_manifest_or_a_moved_object_is_refused(built: Path, tmp_path: Path) -> None:
    settings, dest = _small_backup(built, tmp_path)
    a = _object_of(dest, settings, "pln/pelanggan_pln.csv")
    b = _object_of(dest, settings, "dtsen.toml")
    a_bytes = a.read_bytes()
    a.write_bytes(b.read_bytes())  # a valid object, under another file's name
    with pytest.raises(BackupDamagedError, match=r"pln/pelanggan_pln\.csv: restored content does not match"):
        restore_backup(dest, tmp_path / "r1", provider=provider_for(settings))
    a.write_bytes(a_bytes)
    snap = next((dest / "snapshots").iterdir())
    raw = bytearray(snap.read_bytes())
    raw[40] ^= 1
    snap.write_bytes(bytes(raw))
    with pytest.raises(BackupDamagedError, match=r"manifest of backup .* fails its check"):
        restore_backup(dest, tmp_path / "r2", provider=provider_for(settings))


def test_restore_needs_an_empty_directory_and_the_right_key(built: Path, tmp_path: Path) -> None:
    settings, dest = _small_backup(built, tmp_path)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(RestoreTargetError, match="not empty"):
        restore_backup(dest, full, provider=provider_for(settings))
    with pytest.raises(BackupError, match="passphrase is wrong"):
        restore_backup(dest, tmp_path / "r", passphrase="salah salah salah")
    other = tmp_path / "other.key"
    from dtsen.vault.providers import create_key_file

    create_key_file(other)
    with pytest.raises(BackupError, match="not the key these files were made with"):
        restore_backup(dest, tmp_path / "r", provider=read_key_file(other))
    ok = restore_backup(dest, tmp_path / "r", passphrase=PASSPHRASE)  # the passphrase alone opens it
    assert (tmp_path / "r" / "pln" / "pelanggan_pln.csv").exists() and ok.files > 3


def test_a_path_leaving_the_restore_directory_is_refused(built: Path, tmp_path: Path) -> None:
    settings, dest = _small_backup(built, tmp_path)
    repo = Repository.open(dest, provider_for(settings))
    snap = repo.read_snapshot(repo.snapshot_ids()[-1])
    snap["files"][0]["path"] = "../escaped.txt"
    snap["snapshot_id"] = "99999-20991231T000000Z"
    repo.write_snapshot(snap)
    with pytest.raises(RestoreTargetError, match="outside the restore directory"):
        restore_backup(dest, tmp_path / "r", provider=provider_for(settings))
    assert not (tmp_path / "escaped.txt").exists()


def test_dump_commands_are_backed_up_and_a_failing_one_fails_the_backup(built: Path, tmp_path: Path) -> None:
    _, settings = _copy(built, tmp_path / "proj")
    settings.sources = {}
    settings.backup.dumps = {"pg": [sys.executable, "-c", "import sys; sys.stdout.write('-- PostgreSQL dump\\n')"]}
    _backup(settings, tmp_path / "dest")
    restore_backup(tmp_path / "dest", tmp_path / "r", provider=provider_for(settings))
    assert (tmp_path / "r" / "dumps" / "pg").read_text() == "-- PostgreSQL dump\n"
    settings.backup.dumps = {"pg": [sys.executable, "-c", "import sys; sys.stderr.write('no server'); sys.exit(2)"]}
    with pytest.raises(BackupError, match=r"backup\.dumps\.pg .* exited with status 2: no server"):
        _backup(settings, tmp_path / "dest")
    assert len(Repository.open(tmp_path / "dest", provider_for(settings)).snapshot_ids()) == 1


def test_a_destination_inside_the_project_is_refused(built: Path, tmp_path: Path) -> None:
    project, settings = _copy(built, tmp_path / "proj")
    with pytest.raises(BackupError, match="inside the project"):
        _backup(settings, project / "backups")


def test_no_plaintext_in_the_backup(built: Path, tmp_path: Path) -> None:
    _, dest = _small_backup(built, tmp_path)
    persons = pq.read_table(built / "releases" / "R0001" / "persons.parquet")
    needles = [v.encode() for v in persons.column("nik").drop_null().to_pylist()[:50]]
    # names of 10 bytes or more: a short name (ANI) turns up by chance in megabytes of ciphertext
    needles += [v.encode() for v in persons.column("full_name").drop_null().to_pylist() if len(v) >= 10][:50]
    for path in dest.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    assert len(needles) == 100
    pln = (built / "pln" / "pelanggan_pln.csv").read_bytes()
    assert any(n in pln for n in needles)  # the backed-up source file does hold some of them in clear


def test_the_backup_commands(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from dtsen.cli import app

    runner = CliRunner()
    project, settings = _copy(built, tmp_path / "proj")
    dest = tmp_path / "dest"
    made = runner.invoke(app, ["backup", "create", str(dest), "--project", str(project)])
    assert made.exit_code == 0, made.output
    assert "00001-" in made.output and "regions.csv (outside the project directory)" in made.output
    again = runner.invoke(app, ["backup", "create", str(dest), "--project", str(project)])
    assert again.exit_code == 0 and "new 0 files" in again.output
    listed = runner.invoke(app, ["backup", "list", str(dest), "--key-file", str(key_file_path(settings))])
    assert listed.exit_code == 0 and "00001-" in listed.output and "00002-" in listed.output
    no_key = runner.invoke(app, ["backup", "list", str(dest)], input="salah salah salah\n")
    assert no_key.exit_code == 2 and "cannot open backup" in no_key.output
    first = Repository.open(dest, provider_for(settings)).snapshot_ids()[0]
    restored = runner.invoke(app, ["backup", "restore", str(dest), str(tmp_path / "r"), "--snapshot", first,
                                   "--key-file", str(key_file_path(settings))])
    assert restored.exit_code == 0, restored.output
    text = " ".join(restored.output.split())
    assert f"restored backup {first}" in text and "every checksum verified" in text and "never in a backup" in text
    assert verify_release(tmp_path / "r" / "releases" / "R0001") == []
    monkeypatch.setenv("DTSEN_BACKUP_PASSPHRASE", "too short")
    short = runner.invoke(app, ["backup", "create", str(tmp_path / "d2"), "--project", str(project)])
    assert short.exit_code == 0  # a passphrase from the environment is taken as given (scripts)


def test_no_backup_while_another_command_writes_to_the_project(tmp_path: Path) -> None:
    from dtsen.release.store import BuildLockedError, ReleaseStore
    from tests.vault.conftest import write_project

    settings = load_settings(write_project(tmp_path / "p"))
    init_keys(settings)
    with ReleaseStore(settings.path("releases")).lock(), pytest.raises(BuildLockedError):
        _backup(settings, tmp_path / "dest")
    assert _backup(settings, tmp_path / "dest").files == 2  # dtsen.toml and the token keys
