"""The backup commands: `dtsen backup create | restore | list`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dtsen.cli import ProjectOpt, _console, app, clean_errors
from dtsen.errors import DtsenError
from dtsen.vault.master import KeyProvider

backup_app = typer.Typer(help="Encrypted, incremental backups of a project, and their restore.", no_args_is_help=True)
app.add_typer(backup_app, name="backup")

PASSPHRASE_ENV = "DTSEN_BACKUP_PASSPHRASE"
PassphraseOpt = Annotated[bool, typer.Option("--passphrase", help=f"Use a passphrase (asked, or from {PASSPHRASE_ENV}).")]
KeyFileOpt = Annotated[Path | None, typer.Option(help="The master key file the backup was made under "
                                                      "(default: DTSEN_MASTER_KEY if set).")]


def _passphrase(asked: bool, confirm: bool) -> str | None:
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not asked:
        return None
    value: str = typer.prompt("Kata sandi cadangan / backup passphrase", hide_input=True, confirmation_prompt=confirm)
    if len(value) < 12:
        raise DtsenError("a backup passphrase needs at least 12 characters")
    return value


def _provider(key_file: Path | None) -> KeyProvider | None:
    from dtsen.vault.providers import ENV_KEY, env_provider, read_key_file

    if key_file is not None:
        return read_key_file(key_file)
    if os.environ.get(ENV_KEY):
        return env_provider()
    return None


def _project_file(project: Path) -> Path:
    return project / "dtsen.toml" if project.is_dir() else project


@backup_app.command("create")
@clean_errors
def backup_create(
    dest: Annotated[Path, typer.Argument(help="Backup destination (a directory on another disk or machine).")],
    project: ProjectOpt = Path("."),
    passphrase: PassphraseOpt = False,
) -> None:
    """Back up the project file, its inputs, the releases with their wrapped keys and the store."""
    from dtsen.backup import create_backup
    from dtsen.config import load_settings
    from dtsen.vault.providers import key_file_path, provider_for

    settings = load_settings(project)
    provider = provider_for(settings)
    key_file = key_file_path(settings) if settings.vault.provider == "file" else None
    secret = _passphrase(passphrase, confirm=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=_console()) as bars:
        task = bars.add_task("mencadangkan / backing up", total=None)
        result = create_backup(settings, _project_file(project), dest, provider, key_file, secret,
                               on_file=lambda path, done, total: bars.update(task, completed=done, total=total))
    console = _console()
    console.print(f"Cadangan / backup [bold]{result.snapshot_id}[/] in {result.dest}: {result.files:,} files, "
                  f"{result.bytes_total / 2**20:,.1f} MiB; new {result.files_written:,} files "
                  f"({result.bytes_written / 2**20:,.1f} MiB), {result.files_unread:,} unchanged since "
                  f"{result.previous or '-'}; {result.seconds:.1f} s")
    for s in result.skipped:
        console.print(f"[yellow]Tidak dicadangkan / not backed up:[/] {s['path']} ({s['why']})", highlight=False)


@backup_app.command("restore")
@clean_errors
def backup_restore(
    src: Annotated[Path, typer.Argument(help="The backup destination to restore from.")],
    directory: Annotated[Path, typer.Argument(help="An empty or new directory to restore the project into.")],
    snapshot: Annotated[str | None, typer.Option(help="Which backup (default: the latest; see `dtsen backup list`).")] = None,
    key_file: KeyFileOpt = None,
    passphrase: PassphraseOpt = False,
) -> None:
    """Restore a backup into an empty directory; every file is checked, a damaged backup is refused."""
    from dtsen.backup import restore_backup

    provider = _provider(key_file)
    secret = _passphrase(passphrase or provider is None, confirm=False)
    result = restore_backup(src, directory, provider, secret, snapshot)
    console = _console()
    console.print(f"Dipulihkan / restored backup {result.snapshot_id}: {result.files:,} files, "
                  f"{result.bytes_total / 2**20:,.1f} MiB, every checksum verified, {result.seconds:.1f} s")
    console.print(f"Project: {result.target / result.project_file}. The master key ({result.master_key}) is never "
                  "in a backup: put its offline copy where vault.key_file says before reading the vault.")


@backup_app.command("list")
@clean_errors
def backup_list(
    src: Annotated[Path, typer.Argument(help="A backup destination.")],
    key_file: KeyFileOpt = None,
    passphrase: PassphraseOpt = False,
) -> None:
    """List the backups in a destination, oldest first."""
    from dtsen.backup import Repository

    provider = _provider(key_file)
    repo = Repository.open(src, provider, _passphrase(passphrase or provider is None, confirm=False))
    table = Table("backup", "created", "project", "files", "MiB", "master key", title=f"Backups in {src}")
    for sid in repo.snapshot_ids():
        snap = repo.read_snapshot(sid)
        size = sum(f["size"] for f in snap["files"]) / 2**20
        table.add_row(sid, snap["created"], snap["project"], f"{len(snap['files']):,}", f"{size:,.1f}",
                      snap.get("master_key", ""))
    _console().print(table)
