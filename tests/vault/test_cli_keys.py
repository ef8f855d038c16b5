"""`dtsen keys ...` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.config import load_settings
from dtsen.vault.keyring import Keyring
from tests.vault.conftest import write_project

runner = CliRunner()


def test_keys_init_status_rotate_and_shred(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    result = runner.invoke(app, ["keys", "init", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert "mode 0600" in result.output and "token key: version 1" in result.output
    again = runner.invoke(app, ["keys", "init", "--project", str(project)])
    assert again.exit_code == 2 and "already exists" in again.output and "Traceback" not in again.output

    keyring = Keyring.from_settings(load_settings(project))
    keyring.create_data_key("R0001")
    keyring.create_data_key("R0002")
    for rid, previous in (("R0001", None), ("R0002", "R0001")):  # two published releases, R0002 current
        (keyring.store_root / rid).mkdir()
        (keyring.store_root / rid / "manifest.json").write_text(json.dumps({"release_id": rid, "previous": previous}))
    (keyring.store_root / "CURRENT").write_text("R0002\n")
    status = runner.invoke(app, ["keys", "status", "--project", str(project)])
    assert status.exit_code == 0, status.output
    assert "R0001" in status.output and "R0002" in status.output and "NO" not in status.output

    rotated = runner.invoke(app, ["keys", "rotate", "--project", str(project), "--retired", str(tmp_path / "old.key")])
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 3 file(s)" in rotated.output and "v2" in rotated.output
    assert json.loads((project / "keys" / "master.key").read_text())["active"] == 2

    token = runner.invoke(app, ["keys", "rotate", "--token", "--project", str(project)])
    assert token.exit_code == 0 and "version 2 is now active" in token.output
    retire = runner.invoke(app, ["keys", "retire-token", "1", "--project", str(project)])
    assert retire.exit_code == 0, retire.output

    refused = runner.invoke(app, ["keys", "shred", "R0002", "--reason", "x", "--yes", "--project", str(project)])
    assert refused.exit_code == 2 and "R0002 is the current release" in refused.output
    aborted = runner.invoke(app, ["keys", "shred", "R0001", "--reason", "x", "--project", str(project)], input="n\n")
    assert aborted.exit_code == 1 and keyring.data_key_file("R0001").exists()
    shred = runner.invoke(app, ["keys", "shred", "R0001", "--reason", "retensi", "--yes", "--project", str(project)])
    assert shred.exit_code == 0, shred.output
    assert not keyring.data_key_file("R0001").exists()
    after = runner.invoke(app, ["keys", "status", "--project", str(project)])
    assert "shredded" in after.output and "retensi" in after.output


def test_keys_status_fails_when_the_key_file_is_lost(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    assert runner.invoke(app, ["keys", "init", "--project", str(project)]).exit_code == 0
    (project / "keys" / "master.key").unlink()
    result = runner.invoke(app, ["keys", "status", "--project", str(project)])
    assert result.exit_code == 1
    assert "not found" in result.output and "offline copy" in result.output
