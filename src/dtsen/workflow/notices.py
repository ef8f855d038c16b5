"""What the workflow tells whom, through the outbox (`dtsen.workflow.outbox`).

- the submitter (the contact they left on the case), at every change of state, and the outcome
  when the case ends;
- the officer a case is assigned to (their `contacts` row);
- the approvers of a region (kepala daerah and delegates with a contact) when a batch waits
  for their signature.

Texts name the case and its state only: never a NIK, KK, name or address.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from dtsen.security.keys import KeyStore
from dtsen.security.principal import within
from dtsen.security.rules import RuleTable
from dtsen.store.tables import assignments, contacts, users
from dtsen.workflow.cases import case_label
from dtsen.workflow.machine import CASE_PURPOSE, Machine
from dtsen.workflow.outbox import enqueue


def state_changed(conn: sa.Connection, keys: KeyStore, machine: Machine, case: dict[str, Any], event_id: int,
                  now: dt.datetime) -> None:
    """Tell the submitter the case's new state (and its outcome, when it ended)."""
    if not case.get("contact"):
        return
    label = case_label(case["id"])
    state = machine.states[case["state"]]
    body = f"Kasus {label} ({machine.types[case['case_type']].label}) kini: {state.label}."
    if state.terminal and case.get("outcome"):
        body += f"\n{case['outcome']}"
    enqueue(conn, keys, key=f"case:{case['id']}:event:{event_id}:submitter", sealed_contact=case["contact"],
            subject=f"DTSEN {label}: {state.label}", body=body, case_id=case["id"], now=now)


def _contact(conn: sa.Connection, user_id: int) -> str | None:
    return conn.execute(sa.select(contacts.c.address).where(contacts.c.user_id == user_id)).scalar()


def assigned(conn: sa.Connection, keys: KeyStore, case: dict[str, Any], event_id: int, now: dt.datetime) -> None:
    """Tell the officer a case was assigned to them."""
    if case.get("officer_id") is None:
        return
    sealed = _contact(conn, int(case["officer_id"]))
    if sealed is None:
        return
    label = case_label(case["id"])
    deadline = case["deadline_at"].date().isoformat() if case.get("deadline_at") else "-"
    enqueue(conn, keys, key=f"case:{case['id']}:event:{event_id}:officer", sealed_contact=sealed,
            subject=f"DTSEN {label}: ditugaskan kepada Anda",
            body=f"Kasus {label} di wilayah {case['region_code']} ditugaskan kepada Anda untuk verifikasi; tenggat "
                 f"{deadline}.", case_id=case["id"], now=now)


def batch_waiting(conn: sa.Connection, keys: KeyStore, table: RuleTable, batch_id: int, region: str, cases_n: int,
                  now: dt.datetime) -> int:
    """Tell every approver of `region` with a contact that batch `batch_id` waits; how many."""
    roles = sorted({role for (role, action, purpose) in table.rules
                    if action == "batch.sign" and purpose == CASE_PURPOSE})
    a = assignments.c
    rows = conn.execute(sa.select(a.user_id, a.region_prefix, contacts.c.address)
                        .join(contacts, contacts.c.user_id == a.user_id)
                        .join(users, users.c.id == a.user_id)
                        .where(a.role.in_(roles), a.revoked_at.is_(None), users.c.status == "active")).all()
    sent = 0
    for user_id, prefix, sealed in rows:
        if not within(region, prefix):
            continue
        sent += enqueue(conn, keys, key=f"batch:{batch_id}:approver:{user_id}", sealed_contact=sealed,
                        subject=f"DTSEN paket B-{batch_id:06d} menunggu tanda tangan",
                        body=f"Paket persetujuan B-{batch_id:06d} ({cases_n} kasus, wilayah {region}) menunggu "
                             "tanda tangan Anda.", case_id=None, now=now)
    return sent
