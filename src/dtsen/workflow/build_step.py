"""The workflow's part of `dtsen build` (called from `dtsen.release.build`):

    step = before_build(settings)      # None: the project has no store, or export_on_build is off
    ... ingest, link, rank, assess, publish ...
    step.published(release_id, path)   # approved cases that entered the release become released

`before_build` exports the approved, signature-verified batches (`dtsen.workflow.export`) and adds
their two sources to the build's settings, first in `survivorship.above_all`; a refused (tampered)
batch becomes a note of the release's manifest and its rows stay out. A project has a store when
`store.url` names PostgreSQL, or its SQLite file exists; a store that cannot be reached or is not
migrated stops the build with the reason (approved changes must not be left out silently; set
`workflow.export_on_build = false` to build without them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from dtsen.config import Settings
from dtsen.store.connection import resolve_url
from dtsen.workflow.export import ExportResult
from dtsen.workflow.sync import SyncResult


def has_store(settings: Settings) -> bool:
    url = resolve_url(settings.store, settings.project.root)
    if make_url(url).get_backend_name() != "sqlite":
        return True
    return Path(str(url.database)).is_file()


@dataclass
class BuildStep:
    settings: Settings
    export: ExportResult
    sources: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return self.export.notes

    def published(self, release_id: str, path: Path) -> SyncResult:
        """Mark the cases the release holds; a store problem here leaves them approved (the
        release is published already) and is in `SyncResult.error`: `dtsen workflow sync`
        does it later."""
        from dtsen.errors import DtsenError
        from dtsen.security.context import Security
        from dtsen.workflow.service import Workflow
        from dtsen.workflow.sync import sync_release

        try:
            security = Security.open(self.settings)
        except DtsenError as exc:
            return SyncResult(release_id, error=str(exc))
        try:
            return sync_release(Workflow.open(security), path)
        except DtsenError as exc:
            return SyncResult(release_id, error=str(exc))
        finally:
            security.close()


def before_build(settings: Settings) -> BuildStep | None:
    if not settings.workflow.export_on_build or not has_store(settings):
        return None
    from dtsen.security.context import Security
    from dtsen.store.migrate import check_migrated
    from dtsen.workflow.export import add_sources, export_approved
    from dtsen.workflow.service import Workflow

    security = Security.open(settings)
    try:
        check_migrated(security.store)
        result = export_approved(Workflow.open(security))
    finally:
        security.close()
    return BuildStep(settings, result, add_sources(settings, result))
