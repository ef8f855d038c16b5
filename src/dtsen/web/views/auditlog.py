"""The auditor's search of the audit chain: entries by actor, action, record, outcome and time,
newest first, a page at a time. (`AuditLog.entries` reads by record only; this adds the other
filters, read-only, on the same tables.)

A record is searched by its reference (`family:45`, `person:7`, `user:3`); a NIK or KK typed
into the record box is turned into the keyed reference the chain holds (`nik#...`), so the
auditor can find who read a person's data without the chain ever holding the number.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dtsen.errors import DtsenError
from dtsen.security.audit import OUTCOMES, AuditLog
from dtsen.store.connection import Store
from dtsen.store.tables import audit_log, audit_records

PAGE = 50
_REF = re.compile(r"^[a-z_]+[:#][A-Za-z0-9._:@-]{1,70}$")
_DIGITS16 = re.compile(r"^\d{16}$")
_ACTOR = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")
_ACTION = re.compile(r"^[a-z_.]{1,60}$")


class AuditQueryError(DtsenError):
    """A search of the audit log was asked with a value that cannot be one."""


@dataclass(frozen=True)
class AuditQuery:
    actor: str = ""
    action: str = ""
    record: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    before: int | None = None  # entries numbered below this (the next page)

    def is_empty(self) -> bool:
        return not (self.actor or self.action or self.record or self.outcome or self.since or self.until)

    def link(self, before: int | None) -> dict[str, str]:
        """The query string of this search (for the next page's link)."""
        out = {"aktor": self.actor, "aksi": self.action, "catatan": self.record, "hasil": self.outcome,
               "dari": self.since.isoformat() if self.since else "", "sampai": self.until.isoformat() if self.until else ""}
        if before is not None:
            out["sebelum"] = str(before)
        return {k: v for k, v in out.items() if v}


def parse_query(audit: AuditLog, actor: str, action: str, record: str, outcome: str, since: str, until: str,
                before: int | None) -> AuditQuery:
    actor, action, record, outcome = actor.strip(), action.strip(), record.strip(), outcome.strip()
    problems = []
    if actor and not _ACTOR.match(actor):
        problems.append("aktor / actor")
    if action and not _ACTION.match(action):
        problems.append("aksi / action")
    digits = re.sub(r"[\s.-]", "", record)
    if record and _DIGITS16.match(digits):
        record = audit.keyed("nik", digits)  # a NIK; the form's help says a KK is searched as kk:<number>
    elif record.lower().startswith("kk:") and _DIGITS16.match(re.sub(r"[\s.-]", "", record[3:])):
        record = audit.keyed("kk", re.sub(r"[\s.-]", "", record[3:]))
    elif record and not _REF.match(record):
        problems.append("catatan / record")
    if outcome and outcome not in OUTCOMES:
        problems.append("hasil / outcome")

    def day(text: str, what: str) -> dt.date | None:
        if not text.strip():
            return None
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            problems.append(what)
            return None

    query = AuditQuery(actor, action, record, outcome, day(since, "dari / from"), day(until, "sampai / until"), before)
    if problems:
        raise AuditQueryError("isian pencarian tidak sah / these search fields are not valid: " + ", ".join(problems))
    return query


@dataclass
class AuditPage:
    entries: list[dict[str, Any]]
    next_before: int | None


def search(store: Store, q: AuditQuery, limit: int = PAGE) -> AuditPage:
    log = audit_log
    where: list[sa.ColumnElement[bool]] = []
    if q.actor:
        where.append(log.c.actor == q.actor if ":" in q.actor else log.c.actor.like(f"%:{_like(q.actor)}", escape="\\"))
    if q.action:
        where.append(log.c.action.like(f"{_like(q.action)}%", escape="\\"))
    if q.outcome:
        where.append(log.c.outcome == q.outcome)
    if q.since:
        where.append(log.c.at >= q.since.isoformat())
    if q.until:
        where.append(log.c.at < (q.until + dt.timedelta(days=1)).isoformat())
    if q.before is not None:
        where.append(log.c.seq < q.before)
    if q.record:
        where.append(log.c.seq.in_(sa.select(audit_records.c.seq).where(audit_records.c.ref == q.record)))
    query = sa.select(log).where(*where).order_by(log.c.seq.desc()).limit(limit + 1)
    with store.reading() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        r["records"] = json.loads(r["records"])
        r["detail"] = json.loads(r["detail"])
    return AuditPage(rows, int(rows[-1]["seq"]) if more and rows else None)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
