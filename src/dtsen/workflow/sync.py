"""After a build: which approved cases entered the release, and which the build refused.

`sync_release(wf, release_dir)` reads the release's links and quarantine for the rows of the
exported sources (`dtsen.workflow.provenance.release_rows`) and, for every approved case:

- all its rows were taken: `release` (approved -> released), `in_release` set, and the
  submitter told the outcome;
- a row was quarantined, or a family row attached to no family: `refuse` (approved ->
  verification) with the reasons, for dinas sosial to look at again.

Cases whose rows the release does not hold stay approved (an older release, or a build run
without the store). Both transitions are dtsen's own (`system = true`), audited as
`system:build`. Running it again for the same release changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from dtsen.store.tables import cases
from dtsen.workflow.cases import case_label
from dtsen.workflow.provenance import release_rows
from dtsen.workflow.service import Workflow

ACTOR = "system:build"


@dataclass
class SyncResult:
    release_id: str
    released: list[int] = field(default_factory=list)
    refused: dict[int, list[str]] = field(default_factory=dict)
    error: str | None = None  # the store could not be updated (the cases stay approved)


def sync_release(wf: Workflow, release_dir: Path) -> SyncResult:
    release_id = Path(release_dir).name
    rows = release_rows(wf.settings, Path(release_dir))
    result = SyncResult(release_id)
    ids = sorted(set(rows.accepted) | set(rows.refused))
    if not ids:
        return result
    with wf.store.writing() as conn:
        approved = [dict(r) for r in conn.execute(sa.select(cases).where(cases.c.id.in_(ids),
                                                                         cases.c.state == "approved")
                                                  .order_by(cases.c.id)).mappings()]
        for row in approved:
            case_id = int(row["id"])
            problems = sorted(set(rows.refused.get(case_id, [])))
            if problems:
                reason = (f"{case_label(case_id)} ditolak saat membangun rilis {release_id} / refused by the build of "
                          f"{release_id}: {', '.join(problems)}")
                wf.system_act(conn, row, "refuse", ACTOR, reason=reason)
                result.refused[case_id] = problems
            else:
                outcome = (f"Perubahan telah masuk rilis {release_id} / the change is in release {release_id}")
                wf.system_act(conn, row, "release", ACTOR, {"in_release": release_id, "outcome": outcome})
                result.released.append(case_id)
    return result
