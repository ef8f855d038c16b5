"""The service commands: `dtsen store ...`, `dtsen users ...`, `dtsen clients ...`,
`dtsen audit verify` and `dtsen serve`. They parse, call `dtsen.store` / `dtsen.security` /
`dtsen.api`, and print; secrets are printed once and never again."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dtsen.cli import ProjectOpt, _console, app, clean_errors
from dtsen.errors import DtsenError

store_app = typer.Typer(help="The operational store: create and migrate its schema.", no_args_is_help=True)
users_app = typer.Typer(help="People's accounts: staff with a password and a TOTP second factor.",
                        no_args_is_help=True)
clients_app = typer.Typer(help="Machine clients of ministries and agencies (OAuth2 client credentials).",
                          no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain of every access to personal data.", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(audit_app, name="audit")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli:unknown"


def _settings(project: Path) -> Any:
    from dtsen.config import load_settings

    return load_settings(project)


def _security(project: Path) -> Any:
    """The project's security bundle on a migrated store."""
    from dtsen.security.context import Security
    from dtsen.store.migrate import check_migrated

    security = Security.open(_settings(project))
    try:
        check_migrated(security.store)
    except DtsenError:
        security.close()
        raise
    return security


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise DtsenError("no password on standard input (--password-stdin)")
        return line
    return str(typer.prompt("Kata sandi / password", hide_input=True, confirmation_prompt=True))


def _grants_label(grants: Any) -> str:
    parts = []
    for g in grants:
        extra = []
        if g.purposes is not None:
            extra.append("purposes " + ",".join(sorted(g.purposes)))
        if g.programmes is not None:
            extra.append("programmes " + ",".join(sorted(g.programmes)))
        parts.append(g.label() + (f" ({'; '.join(extra)})" if extra else ""))
    return "; ".join(parts)


# -- store ------------------------------------------------------------------------------------

@store_app.command("upgrade")
@clean_errors
def store_upgrade(project: ProjectOpt = Path(".")) -> None:
    """Create the operational store or bring its schema up to date (Alembic migrations)."""
    from dtsen.store.connection import Store
    from dtsen.store.migrate import upgrade

    settings = _settings(project)
    store = Store.from_settings(settings.store, settings.project.root)
    try:
        result = upgrade(store)
    finally:
        store.dispose()
    if result.before == result.after:
        _console().print(f"{store.url}: sudah mutakhir / already at revision {result.after}")
    else:
        _console().print(f"{store.url}: {result.before or '(kosong / empty)'} -> {result.after}")


@store_app.command("status")
@clean_errors
def store_status(project: ProjectOpt = Path(".")) -> None:
    """Where the store is, its schema revision and the revision this dtsen needs."""
    from dtsen.store.connection import Store
    from dtsen.store.migrate import current_revision, head_revision

    settings = _settings(project)
    store = Store.from_settings(settings.store, settings.project.root)
    try:
        current = current_revision(store)
    finally:
        store.dispose()
    head = head_revision()
    _console().print(f"store {store.url} ({store.dialect.name}): revision {current or '(none)'}, needs {head}")
    if current != head:
        _console().print("run [bold]dtsen store upgrade[/]")
        raise typer.Exit(1)


# -- users ------------------------------------------------------------------------------------

@users_app.command("add")
@clean_errors
def users_add(
    username: Annotated[str, typer.Argument(help="Login name: 3-64 of a-z, 0-9, '.', '_', '-'.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    role: Annotated[str, typer.Option(help="admin, steward, province_operator, regency_operator, village_operator, "
                                           "kepala_daerah or auditor.")],
    region: Annotated[str, typer.Option(help="Region code prefix the role is limited to (e.g. 32.04); "
                                             "empty for national roles.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Add a staff account; prints the TOTP secret to enrol in an authenticator app (once)."""
    from dtsen.security.principal import Grant

    security = _security(project)
    try:
        enrolment = security.accounts.add_user(username, name, _password(password_stdin), [Grant(role, region)],
                                               actor=_actor(), source="cli")
    finally:
        security.close()
    _print_enrolment(enrolment)


def _print_enrolment(enrolment: Any) -> None:
    console = _console()
    console.print(f"Pengguna / user [bold]{enrolment.username}[/]")
    console.print(f"TOTP secret: [bold]{enrolment.totp_secret}[/]")
    console.print(f"TOTP URI:    {enrolment.totp_uri}", soft_wrap=True)
    console.print("Simpan sekarang; tidak akan ditampilkan lagi / keep it now, it is not shown again.")


@users_app.command("list")
@clean_errors
def users_list(project: ProjectOpt = Path(".")) -> None:
    """List staff accounts with their roles and regions."""
    security = _security(project)
    try:
        users = security.accounts.list_users()
    finally:
        security.close()
    table = Table("username", "name", "status", "roles", "last login", title=f"{len(users)} users")
    for u in users:
        table.add_row(u.name, u.full_name, u.status, _grants_label(u.grants),
                      u.last_seen_at.strftime("%Y-%m-%d %H:%M") if u.last_seen_at else "-")
    _console().print(table)


@users_app.command("disable")
@clean_errors
def users_disable(username: Annotated[str, typer.Argument(help="The account to disable.")],
                  project: ProjectOpt = Path(".")) -> None:
    """Disable an account; its sessions end at once."""
    security = _security(project)
    try:
        revoked = security.accounts.disable_user(username, actor=_actor(), source="cli")
    finally:
        security.close()
    _console().print(f"{username}: dinonaktifkan / disabled; {revoked} session(s) revoked")


@users_app.command("reset")
@clean_errors
def users_reset(
    username: Annotated[str, typer.Argument(help="The account to reset.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """New password and new TOTP secret; re-enables the account and clears its lockout."""
    security = _security(project)
    try:
        enrolment = security.accounts.reset_user(username, _password(password_stdin), actor=_actor(), source="cli")
    finally:
        security.close()
    _print_enrolment(enrolment)


# -- clients ----------------------------------------------------------------------------------

@clients_app.command("add")
@clean_errors
def clients_add(
    client_id: Annotated[str, typer.Argument(help="Client id, e.g. kemensos-pkh.")],
    purpose: Annotated[list[str], typer.Option("--purpose", help="A purpose the client may state (repeat).")],
    name: Annotated[str, typer.Option("--name", help="Ministry or agency, and what the client is for.")] = "",
    programme: Annotated[list[str] | None, typer.Option("--programme",
                                                        help="Limit to these programmes (repeat); default all.")] = None,
    region: Annotated[str, typer.Option(help="Region code prefix the client is limited to; empty: national.")] = "",
    project: ProjectOpt = Path("."),
) -> None:
    """Add a machine client; prints its secret (once)."""
    from dtsen.security.principal import Grant

    grant = Grant("client", region, frozenset(purpose), frozenset(programme) if programme else None)
    security = _security(project)
    try:
        secret = security.accounts.add_client(client_id, name, [grant], actor=_actor(), source="cli")
    finally:
        security.close()
    _print_secret(secret)


def _print_secret(secret: Any) -> None:
    console = _console()
    console.print(f"client_id:     [bold]{secret.client_id}[/]")
    console.print(f"client_secret: [bold]{secret.secret}[/]", soft_wrap=True)
    console.print("Simpan sekarang; tidak akan ditampilkan lagi / keep it now, it is not shown again.")


@clients_app.command("list")
@clean_errors
def clients_list(project: ProjectOpt = Path(".")) -> None:
    """List machine clients with their purposes, programmes and regions."""
    security = _security(project)
    try:
        clients = security.accounts.list_clients()
    finally:
        security.close()
    table = Table("client_id", "name", "status", "grants", "last token", title=f"{len(clients)} clients")
    for c in clients:
        table.add_row(c.name, c.full_name, c.status, _grants_label(c.grants),
                      c.last_seen_at.strftime("%Y-%m-%d %H:%M") if c.last_seen_at else "-")
    _console().print(table)


@clients_app.command("rotate")
@clean_errors
def clients_rotate(client_id: Annotated[str, typer.Argument(help="The client whose secret is replaced.")],
                   project: ProjectOpt = Path(".")) -> None:
    """Replace a client's secret (the old one and its tokens stop working); prints the new one once."""
    security = _security(project)
    try:
        secret = security.accounts.rotate_client(client_id, actor=_actor(), source="cli")
    finally:
        security.close()
    _print_secret(secret)


@clients_app.command("revoke")
@clean_errors
def clients_revoke(client_id: Annotated[str, typer.Argument(help="The client to revoke for good.")],
                   project: ProjectOpt = Path(".")) -> None:
    """Revoke a client: its secret and every token stop working at once."""
    security = _security(project)
    try:
        revoked = security.accounts.revoke_client(client_id, actor=_actor(), source="cli")
    finally:
        security.close()
    _console().print(f"{client_id}: dicabut / revoked; {revoked} token(s) revoked")


# -- audit ------------------------------------------------------------------------------------

@audit_app.command("verify")
@clean_errors
def audit_verify(
    project: ProjectOpt = Path("."),
    public_key: Annotated[list[Path] | None, typer.Option(
        "--public-key", help="Further Ed25519 public keys (PEM) of earlier audit signing keys.")] = None,
) -> None:
    """Check the audit chain: every hash, every link, every signed checkpoint; exit 1 and say
    where (entry numbers) when an entry was edited, deleted or reordered."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = []
    for path in public_key or []:
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise DtsenError(f"{path} is not an Ed25519 public key")
        keys.append(key)
    security = _security(project)
    try:
        report = security.audit.verify(security.store, keys)
    finally:
        security.close()
    console = _console()
    span = f"entries {report.first} to {report.last}" if report.entries else "no entries"
    console.print(f"Audit chain: {report.entries:,} {span}; {report.checkpoints} signed checkpoint(s)"
                  + (f", the last at entry {report.last_checkpoint}" if report.last_checkpoint else ""))
    if report.ok:
        console.print("[bold green]utuh / intact[/]")
        return
    table = Table("entry", "problem", "what", title=f"{len(report.problems)} problem(s): the chain is broken")
    for p in report.problems:
        table.add_row(str(p.seq), p.kind, p.message)
    console.print(table)
    raise typer.Exit(1)


# -- serve ------------------------------------------------------------------------------------

@app.command()
@clean_errors
def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Start the service (FastAPI on uvicorn): the API, /docs, /openapi.json and /health."""
    import uvicorn

    from dtsen.api.app import create_app
    from dtsen.api.logs import uvicorn_log_config

    settings = _settings(project)
    application = create_app(settings)
    _console().print(f"DTSEN service on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    forwarded = settings.api.forwarded_allow_ips
    uvicorn.run(application, host=host, port=port, access_log=False, log_config=uvicorn_log_config(),
                proxy_headers=bool(forwarded), forwarded_allow_ips=",".join(forwarded) if forwarded else None,
                server_header=False)
