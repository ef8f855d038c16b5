"""The key commands: `dtsen keys init | status | rotate | retire-token | shred`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dtsen.cli import ProjectOpt, _console, app, clean_errors

keys_app = typer.Typer(help="The vault's keys: master key, token keys, release data keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
@clean_errors
def keys_init(project: ProjectOpt = Path(".")) -> None:
    """Create the master key (file provider: a new 0600 key file) and token key version 1."""
    from dtsen.config import load_settings
    from dtsen.vault.lifecycle import init_keys

    result = init_keys(load_settings(project))
    console = _console()
    console.print(f"Kunci induk / master key: {result.master}")
    if result.key_file is not None:
        console.print(f"Berkas kunci / key file: {result.key_file} (mode 0600)")
        console.print("[bold yellow]Simpan salinan berkas kunci secara offline, terpisah dari data dan cadangan / "
                      "keep an offline copy of the key file, apart from the data and the backups:[/] without it "
                      "nothing in the vault or the backups can be read.")
    console.print(f"Kunci token / token key: version {result.token_version}, wrapped in {result.keyring}")


@keys_app.command("status")
@clean_errors
def keys_status(project: ProjectOpt = Path(".")) -> None:
    """Show the master key provider and versions, and whether every wrapped key opens."""
    from dtsen.config import load_settings
    from dtsen.vault.lifecycle import key_status

    report = key_status(load_settings(project))
    console = _console()
    console.print(f"Provider: {report.provider}; active master key: {report.active or '-'}; versions held: "
                  f"{', '.join(str(v) for v in report.versions) or '-'}")
    if report.key_file is not None:
        console.print(f"Key file: {report.key_file} ({'mode ' + report.key_file_mode if report.key_file_mode else 'missing'})")
    if report.problem:
        console.print(f"[bold red]Galat / error:[/] {report.problem}", highlight=False)
    table = Table("kind", "key", "wrapped under", "opens", "problem", title="Wrapped keys")
    for k in report.keys:
        table.add_row(k.kind, k.name, str(k.master or "-"), "ya / yes" if k.opens else "[red]TIDAK / NO[/]", k.problem)
    for e in report.shredded:
        table.add_row("release", e.get("release_id", "?"), e.get("master", ""), "shredded",
                      f"{e.get('at', '')} {e.get('reason', '')}")
    console.print(table)
    if report.problem or not all(k.opens for k in report.keys):
        raise typer.Exit(1)


@keys_app.command("rotate")
@clean_errors
def keys_rotate(
    project: ProjectOpt = Path("."),
    token: Annotated[bool, typer.Option("--token", help="Rotate the token key instead of the master key.")] = False,
    retired: Annotated[Path | None, typer.Option(help="Keep the retired master key in this file (0600), for "
                                                      "restoring backups made under it.")] = None,
) -> None:
    """Re-wrap every data and token key under a new master key version (data is not re-encrypted)."""
    from dtsen.config import load_settings
    from dtsen.vault.lifecycle import rotate_master, rotate_token

    settings = load_settings(project)
    console = _console()
    if token:
        version = rotate_token(settings)
        console.print(f"Kunci token / token key version {version} is now active; tokens of older versions keep "
                      "their version prefix (see README: token key rotation)")
        return
    result = rotate_master(settings, retired)
    console.print(f"Kunci induk aktif / active master key: {result.active}; re-wrapped {len(result.report.rewrapped)} "
                  f"file(s), {len(result.report.current)} already under it")
    if result.dropped:
        dropped = ", ".join(str(v) for v in result.dropped)
        if result.retired_to is not None:
            console.print(f"Retired {dropped}: kept in {result.retired_to}, for backups made before this rotation")
        else:
            console.print(f"Retired {dropped}: destroyed. Backups made before this rotation can no longer be opened "
                          "with the key file; back up to a new destination.")
    elif settings.vault.provider != "file":
        console.print("Now remove the old version from DTSEN_MASTER_KEY_PREVIOUS (or the key command).")


@keys_app.command("retire-token")
@clean_errors
def keys_retire_token(
    version: Annotated[int, typer.Argument(help="The old token key version to destroy.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Destroy an old token key version once every holder of its tokens has migrated."""
    from dtsen.config import load_settings
    from dtsen.vault.lifecycle import retire_token

    retire_token(load_settings(project), version)
    _console().print(f"Token key version {version} destroyed.")


@keys_app.command("shred")
@clean_errors
def keys_shred(
    release: Annotated[str, typer.Argument(help="The release whose data key is destroyed, e.g. R0001.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in SHRED.jsonl), e.g. a retention rule or a decision.")],
    project: ProjectOpt = Path("."),
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Crypto-shred a release: destroy its data key, so its vault can never be read again."""
    from dtsen.config import load_settings
    from dtsen.vault.lifecycle import shred_release

    settings = load_settings(project)
    if not yes:
        typer.confirm(f"Hapus permanen kunci data {release} / destroy {release}'s data key for ever?", abort=True)
    event = shred_release(settings, release, reason)
    _console().print(f"{release}: data key destroyed at {event.at} (recorded in {event.log}); its manifest and "
                     "aggregates remain, its personal data cannot be read any more.")
