"""The operator's side of the workflow: `dtsen workflow export|sync|deliver|overdue|import-visits|
check|contact`. They parse, call `dtsen.workflow`, and print."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dtsen.cli import ProjectOpt, _console, app, clean_errors
from dtsen.cli.service import _actor, _security

workflow_app = typer.Typer(help="Cases (usul, sanggah, ground checks), approvals and notifications.",
                           no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")


def _workflow(project: Path) -> Any:
    from dtsen.workflow.service import Workflow

    security = _security(project)
    try:
        return Workflow.open(security)
    except Exception:
        security.close()
        raise


@workflow_app.command("export")
@clean_errors
def export_command(project: ProjectOpt = Path("."),
                   print_toml: Annotated[bool, typer.Option("--print-toml", help="Print the [sources] sections "
                                                            "for a project that lists them itself.")] = False) -> None:
    """Write the approved, signature-verified batches as the field-check sources of the next
    build (`dtsen build` does this itself unless workflow.export_on_build is false)."""
    from dtsen.workflow.approval import batch_label
    from dtsen.workflow.export import export_approved, sources_toml

    wf = _workflow(project)
    try:
        result = export_approved(wf)
    finally:
        wf.security.close()
    console = _console()
    files = [p for paths in result.files.values() for p in paths]
    console.print(f"{len(result.cases)} kasus dari {len(result.batches)} paket / cases from batches -> "
                  f"{len(files)} berkas / files in {result.directory}")
    for path in result.archived:
        console.print(f"  diarsipkan / archived: {path.name}")
    for batch, problems in result.refused.items():
        console.print(f"[bold red]paket {batch_label(batch)} DITOLAK / REFUSED[/]: " + "; ".join(problems))
    if print_toml and result.as_of is not None:
        console.print(sources_toml(wf.settings, result.as_of), markup=False, highlight=False)
    if result.refused:
        raise typer.Exit(1)


@workflow_app.command("sync")
@clean_errors
def sync_command(project: ProjectOpt = Path("."),
                 release: Annotated[str | None, typer.Option(help="Release id (default: the current one).")] = None,
                 ) -> None:
    """Mark the approved cases a release holds as released (and those its build refused); `dtsen
    build` does this itself after publishing."""
    from dtsen.release.build import store_for
    from dtsen.workflow.cases import case_label
    from dtsen.workflow.sync import sync_release

    wf = _workflow(project)
    try:
        store = store_for(wf.settings)
        release_id = release or store.current()
        if release_id is None:
            raise typer.BadParameter("no release is published yet")
        result = sync_release(wf, store.path(release_id))
    finally:
        wf.security.close()
    console = _console()
    console.print(f"{result.release_id}: {len(result.released)} kasus masuk rilis / cases released, "
                  f"{len(result.refused)} ditolak / refused")
    for case_id, reasons in result.refused.items():
        console.print(f"  {case_label(case_id)}: {', '.join(reasons)}")


@workflow_app.command("deliver")
@clean_errors
def deliver_command(project: ProjectOpt = Path("."),
                    limit: Annotated[int, typer.Option(min=1, help="At most this many messages.")] = 500) -> None:
    """Deliver the notifications that are due, through the adapters of the workflow settings;
    failures are retried later with backoff, a delivered message is never sent again."""
    from dtsen.workflow.adapters import configured_adapters
    from dtsen.workflow.outbox import deliver

    wf = _workflow(project)
    try:
        ws = wf.settings.workflow
        report = deliver(wf.store, wf.keys, configured_adapters(ws, wf.settings.project.root),
                         max_attempts=ws.deliver_max_attempts,
                         backoff=dt.timedelta(seconds=ws.deliver_backoff_seconds), limit=limit)
    finally:
        wf.security.close()
    console = _console()
    console.print(f"terkirim / delivered {report.delivered}, dicoba lagi / retrying {report.retrying}, "
                  f"gagal / failed {report.failed}")
    for channel, n in report.waiting_for_adapter.items():
        console.print(f"  {n} pesan menunggu adaptor / messages wait for an adapter of channel {channel!r}")


@workflow_app.command("overdue")
@clean_errors
def overdue_command(project: ProjectOpt = Path("."),
                    level: Annotated[str, typer.Option(help="province, regency, district or village")] = "district",
                    region: Annotated[str | None, typer.Option(help="Region code prefix, e.g. 32.04")] = None) -> None:
    """Cases past their state's deadline, per region."""
    from dtsen.workflow.overdue import LEVELS, overdue_by_region

    if level not in LEVELS:
        raise typer.BadParameter(f"level must be one of {', '.join(LEVELS)}")
    wf = _workflow(project)
    try:
        with wf.store.reading() as conn:
            rows = overdue_by_region(conn, None if region is None else (region,), level, wf.clock())
    finally:
        wf.security.close()
    table = Table("wilayah / region", "lewat tenggat / overdue", "per status / by state", "tenggat tertua / oldest")
    for r in rows:
        table.add_row(r["region"], str(r["overdue"]), ", ".join(f"{k} {v}" for k, v in r["by_state"].items()),
                      r["oldest_deadline"].date().isoformat())
    _console().print(table if rows else "tidak ada kasus lewat tenggat / no overdue cases")


@workflow_app.command("import-visits")
@clean_errors
def import_visits_command(file: Annotated[Path, typer.Argument(help="The ODK Central / KoboToolbox export.")],
                          project: ProjectOpt = Path("."),
                          style: Annotated[str, typer.Option(help="plain, odk or kobo (column names)")] = "plain",
                          ) -> None:
    """Record ground-check submissions on their families' cases in verification: what the officer
    found (not found, moved, members deceased, corrected values) goes to approval."""
    from dtsen.workflow.cases import case_label
    from dtsen.workflow.visits import import_visits

    if style not in ("plain", "odk", "kobo"):
        raise typer.BadParameter("style must be plain, odk or kobo")
    wf = _workflow(project)
    try:
        result = import_visits(wf, file, style)  # type: ignore[arg-type]
    finally:
        wf.security.close()
    console = _console()
    console.print(f"{len(result.recorded)} kunjungan dicatat / visits recorded, {len(result.skipped)} dilewati / "
                  "skipped")
    for row, why in result.skipped.items():
        console.print(f"  baris / row {row}: {why}")
    for case_id, what in result.unresolved.items():
        console.print(f"  {case_label(case_id)} perlu dilengkapi / needs completing: {'; '.join(what)}")


@workflow_app.command("check")
@clean_errors
def check_command(project: ProjectOpt = Path(".")) -> None:
    """Check the state machine (the built-in one or workflow.machine_file) against the policy and
    print its table: state, action, roles, next state."""
    from dtsen.config import load_settings
    from dtsen.security.policy import Policy
    from dtsen.workflow.machine import load_machine

    settings = load_settings(project)
    machine = load_machine(settings.path(settings.workflow.machine_file) if settings.workflow.machine_file else None)
    sec = settings.security
    machine.check_policy(Policy.load(settings.path(sec.policy_file) if sec.policy_file else None).table)
    table = Table("dari / from", "tindakan / action", "peran / roles", "ke / to", "jenis / types", "syarat / requires")
    for t in machine.transitions:
        table.add_row(t.source, t.action, "(sistem)" if t.system else ", ".join(sorted(t.roles)), t.target,
                      "semua / all" if t.types == frozenset(machine.types) else ", ".join(sorted(t.types)),
                      ", ".join(t.requires))
    console = _console()
    console.print(table)
    console.print(f"{machine.label}: {len(machine.states)} status, {len(machine.transitions)} transisi; sesuai "
                  "kebijakan / agrees with the policy")


@workflow_app.command("contact")
@clean_errors
def contact_command(username: Annotated[str, typer.Argument(help="The staff account.")],
                    channel: Annotated[str, typer.Option(help="email, sms or whatsapp")],
                    address: Annotated[str, typer.Option(help="E-mail address or phone number.")],
                    project: ProjectOpt = Path(".")) -> None:
    """Where a staff account is notified (assignments, batches waiting for a signature)."""
    import sqlalchemy as sa

    from dtsen.errors import DtsenError
    from dtsen.security.audit import AuditEvent
    from dtsen.store.tables import contacts, users
    from dtsen.workflow.adapters import CHANNELS
    from dtsen.workflow.outbox import seal_address

    if channel not in CHANNELS:
        raise typer.BadParameter(f"channel must be one of {', '.join(CHANNELS)}")
    wf = _workflow(project)
    try:
        with wf.store.writing() as conn:
            user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username.strip().lower())).scalar()
            if user_id is None:
                raise DtsenError(f"no account {username!r}")
            sealed = seal_address(wf.keys, channel, address.strip())
            conn.execute(sa.delete(contacts).where(contacts.c.user_id == user_id))
            conn.execute(sa.insert(contacts).values(user_id=user_id, channel=channel, address=sealed,
                                                    updated_at=wf.clock()))
            wf.security.audit.append(conn, AuditEvent(actor=_actor(), action="account.contact",
                                                      records=(f"user:{user_id}",), detail={"channel": channel}))
    finally:
        wf.security.close()
    _console().print(f"{username}: {channel} disimpan / saved")
