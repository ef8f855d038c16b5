"""`dtsen workflow ...` for the operator: the machine's table checked and printed, overdue cases
per region, staff contacts (an assignment then notifies the officer), sync and export."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from typer.testing import CliRunner

from dtsen.cli import app as cli
from dtsen.store.tables import cases, outbox
from dtsen.workflow.service import Workflow
from tests.workflow.conftest import Staff, verified_case

runner = CliRunner()


def _run(wf: Workflow, *args: str) -> str:
    result = runner.invoke(cli, ["workflow", *args, "--project", str(wf.settings.project.root)])
    assert result.exit_code == 0, result.output
    plain = re.sub("[\u2500-\u257f]", " ", result.output)  # a table's borders
    return " ".join(plain.split())


def test_check_prints_the_table(wf: Workflow) -> None:
    text = _run(wf, "check")
    assert "village_review musdes regency_operator, verification sanggah, usul musdes_record" in text
    assert "approved release (sistem) released semua / all" in text
    assert "7 status, 19 transisi; sesuai kebijakan / agrees with the policy" in text


def test_overdue_per_region(wf: Workflow, staff: Staff) -> None:
    assert "no overdue cases" in _run(wf, "overdue")
    verified_case(wf, staff, 45)
    verified_case(wf, staff, 47)
    verified_case(wf, staff, 90, region="32.73")
    with wf.store.writing() as conn:
        conn.execute(sa.update(cases).values(deadline_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)))
    text = _run(wf, "overdue", "--level", "village")
    assert "32.04.05.2001 1 approval 1 2026-01-02" in text and "32.04.05.2002 1 approval 1" in text
    assert "32.73.01.1001 1" in text
    text = _run(wf, "overdue", "--level", "regency", "--region", "32.04")
    assert "32.04 2 approval 2" in text and "32.73" not in text


def test_an_officer_with_a_contact_hears_of_an_assignment(wf: Workflow, staff: Staff) -> None:
    staff.user("petugas-3204", "field_officer", "32.04")
    assert "petugas-3204: email disimpan / saved" in _run(wf, "contact", "petugas-3204", "--channel", "email",
                                                           "--address", "petugas@dinsos.example")
    case_id = verified_case(wf, staff, 45)
    with wf.store.reading() as conn:
        keys = conn.execute(sa.select(outbox.c.idempotency_key, outbox.c.subject)).all()
    assert [s for k, s in keys if k.endswith(":officer")] == [f"DTSEN K-{case_id:06d}: ditugaskan kepada Anda"]


def test_sync_and_export_with_nothing_to_do(wf: Workflow) -> None:
    assert "R0001: 0 kasus masuk rilis / cases released, 0 ditolak / refused" in _run(wf, "sync")
    assert "0 kasus dari 0 paket" in _run(wf, "export", "--print-toml")
