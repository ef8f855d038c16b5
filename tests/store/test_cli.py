"""`dtsen store upgrade` and `dtsen store status` through the command line, on both stores."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dtsen.cli import app
from dtsen.store.migrate import head_revision
from tests.store.fixtures import service_project

runner = CliRunner()

HEAD = head_revision()


def _flat(text: str) -> str:
    """The output with Rich's line wrapping undone."""
    return " ".join(text.split())


def test_store_upgrade_and_status(tmp_path: Path, empty_store_url: str) -> None:
    project = tmp_path / "p"
    service_project(project, empty_store_url)
    status = runner.invoke(app, ["store", "status", "--project", str(project)])
    assert status.exit_code == 1 and f"revision (none), needs {HEAD}" in _flat(status.output)
    first = runner.invoke(app, ["store", "upgrade", "--project", str(project)])
    assert first.exit_code == 0, first.output
    assert f"(kosong / empty) -> {HEAD}" in _flat(first.output)
    again = runner.invoke(app, ["store", "upgrade", "--project", str(project)])
    assert f"already at revision {HEAD}" in _flat(again.output)
    status = runner.invoke(app, ["store", "status", "--project", str(project)])
    assert status.exit_code == 0 and f"revision {HEAD}, needs {HEAD}" in _flat(status.output)


def test_commands_on_an_unmigrated_store_say_what_to_run(tmp_path: Path, empty_store_url: str) -> None:
    project = tmp_path / "p"
    service_project(project, empty_store_url)
    for args in (["users", "list"], ["serve"], ["audit", "verify"]):
        result = runner.invoke(app, [*args, "--project", str(project)])
        assert result.exit_code == 2, args
        assert "dtsen store upgrade" in _flat(result.output) and "Traceback" not in result.output
