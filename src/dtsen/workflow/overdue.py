"""Overdue cases per region: those past their state's deadline (`deadline_days` of the machine)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from dtsen.store.tables import cases
from dtsen.workflow import cases as case_rows

LEVELS = {"province": 2, "regency": 5, "district": 8, "village": 13}


def overdue_by_region(conn: sa.Connection, prefixes: tuple[str, ...] | None, level: str,
                      now: dt.datetime) -> list[dict[str, Any]]:
    """Per region at `level` within `prefixes` (None: everywhere): the cases past their state's
    deadline, their count per state, and the oldest missed deadline."""
    c = cases.c
    region = sa.func.substr(c.region_code, 1, LEVELS[level])
    q = (sa.select(region.label("region"), c.state, sa.func.count().label("n"),
                   sa.func.min(c.deadline_at).label("oldest"))
         .where(case_rows.region_filter(c.region_code, prefixes), c.deadline_at.is_not(None), c.deadline_at < now)
         .group_by(region, c.state).order_by(region, c.state))
    out: dict[str, dict[str, Any]] = {}
    for r in conn.execute(q).all():
        entry = out.setdefault(r.region, {"region": r.region, "overdue": 0, "by_state": {}, "oldest_deadline": None})
        entry["overdue"] += int(r.n)
        entry["by_state"][r.state] = int(r.n)
        oldest = r.oldest if isinstance(r.oldest, dt.datetime) else dt.datetime.fromisoformat(str(r.oldest))
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
        if entry["oldest_deadline"] is None or oldest < entry["oldest_deadline"]:
            entry["oldest_deadline"] = oldest
    return list(out.values())
