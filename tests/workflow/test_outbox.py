"""Notifications: written with the change they tell about, delivered once through an adapter,
retried with backoff after a failure, never sent twice once delivered (not even after a crash
between handing over and recording it)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dtsen.store.tables import outbox
from dtsen.workflow.adapters import FileAdapter, OutboundMessage, PermanentFailure, TemporaryFailure
from dtsen.workflow.cases import CaseDraft, Contact
from dtsen.workflow.outbox import LEASE, deliver
from dtsen.workflow.service import Workflow
from tests.workflow.conftest import Staff


class Flaky:
    """Fails `failures` times with a temporary failure, then hands over."""

    channel = "sms"

    def __init__(self, failures: int, permanent: bool = False) -> None:
        self.failures, self.permanent, self.sent = failures, permanent, []  # type: ignore[var-annotated]

    def send(self, message: OutboundMessage) -> None:
        if self.permanent:
            raise PermanentFailure("gateway refuses the number")
        if self.failures:
            self.failures -= 1
            raise TemporaryFailure("gateway answered 503")
        self.sent.append(message)


def _case_with_contact(wf: Workflow, staff: Staff, channel: str = "sms") -> int:
    operator = staff.as_user("dinsos-3204", "regency_operator", "32.04")
    view = wf.create(operator, "case_work", CaseDraft(case_type="visit", kind="manual", family_id=45,
                                                      reason="cek lapangan",
                                                      contact=Contact(channel=channel, address="+6281234567890")))
    wf.act(operator, "case_work", view.id, "forward", {})
    return view.id


def _rows(wf: Workflow) -> list[dict[str, Any]]:
    with wf.store.reading() as conn:
        return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


def test_each_change_of_state_is_delivered_once(wf: Workflow, staff: Staff, tmp_path: Path) -> None:
    case_id = _case_with_contact(wf, staff)
    rows = _rows(wf)
    assert [r["subject"] for r in rows] == [f"DTSEN K-{case_id:06d}: Diajukan / submitted",
                                           f"DTSEN K-{case_id:06d}: Verifikasi dinas sosial / verification"]
    assert all("6281234567890" not in str(r["address"]) for r in rows)  # the address is sealed
    adapter = FileAdapter(tmp_path / "keluar")
    report = deliver(wf.store, wf.keys, [adapter])
    assert report.delivered == 2
    files = sorted((tmp_path / "keluar").glob("*.json"))
    assert len(files) == 2 and json.loads(files[0].read_text())["to"] == "+6281234567890"
    assert deliver(wf.store, wf.keys, [adapter]).delivered == 0  # nothing is sent twice
    assert sorted((tmp_path / "keluar").glob("*.json")) == files
    assert {r["status"] for r in _rows(wf)} == {"delivered"}


def test_failures_are_retried_with_backoff_then_given_up(wf: Workflow, staff: Staff) -> None:
    _case_with_contact(wf, staff)
    now = dt.datetime.now(dt.UTC)
    flaky = Flaky(failures=3)
    report = deliver(wf.store, wf.keys, [flaky], backoff=dt.timedelta(minutes=1), clock=lambda: now)
    assert (report.delivered, report.retrying) == (0, 2)
    first = _rows(wf)[0]
    assert first["attempts"] == 1 and first["status"] == "pending"
    # not due yet: nothing is tried
    assert deliver(wf.store, wf.keys, [flaky], clock=lambda: now + dt.timedelta(seconds=30)).retrying == 0
    later = now + dt.timedelta(minutes=1, seconds=1)
    report = deliver(wf.store, wf.keys, [flaky], backoff=dt.timedelta(minutes=1), clock=lambda: later)
    assert (report.delivered, report.retrying) == (1, 1)  # the third failure; then the second message
    assert _rows(wf)[0]["next_attempt_at"] == later + dt.timedelta(minutes=2)  # the second wait is doubled
    report = deliver(wf.store, wf.keys, [flaky], max_attempts=2, clock=lambda: later + dt.timedelta(hours=1))
    assert report.delivered == 1
    assert [r["status"] for r in _rows(wf)] == ["delivered", "delivered"] and len(flaky.sent) == 2
    dead = Flaky(0, permanent=True)
    _case_with_contact(wf, staff)
    assert deliver(wf.store, wf.keys, [dead], clock=lambda: later + dt.timedelta(hours=2)).failed == 2


def test_a_message_left_sending_by_a_crash_is_not_delivered_twice(wf: Workflow, staff: Staff, tmp_path: Path) -> None:
    _case_with_contact(wf, staff)
    adapter = FileAdapter(tmp_path / "keluar")
    rows = _rows(wf)
    # a deliverer handed message 1 over and died before recording it
    adapter.send(OutboundMessage(int(rows[0]["id"]), str(rows[0]["idempotency_key"]), "sms", "+62", "s", "b"))
    now = dt.datetime.now(dt.UTC)
    with wf.store.writing() as conn:
        conn.execute(sa.update(outbox).where(outbox.c.id == rows[0]["id"]).values(
            status="sending", claimed_at=now - LEASE - dt.timedelta(minutes=1), attempts=1))
    report = deliver(wf.store, wf.keys, [adapter])
    assert report.delivered == 2
    assert len(list((tmp_path / "keluar").glob("*.json"))) == 2  # the first one once
    assert {r["status"] for r in _rows(wf)} == {"delivered"}


def test_messages_wait_for_an_adapter_of_their_channel(wf: Workflow, staff: Staff) -> None:
    _case_with_contact(wf, staff, channel="whatsapp")
    report = deliver(wf.store, wf.keys, [Flaky(0)])
    assert report.waiting_for_adapter == {"whatsapp": 2} and report.delivered == 0
