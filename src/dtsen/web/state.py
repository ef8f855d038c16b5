"""What the dashboard keeps while the service runs: the releases it reads, handles on earlier
releases (for history over releases), the region names, and per release what its figures may
show (computed once per release, which never changes).

`WebState.release(release_id)` gives one release for a request: the current one through
`ServingReleases.acquire()` (a request holds one release, never two), or an earlier indexed one
from the shelf (opened once, kept until the service stops).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dtsen.config import Settings
from dtsen.errors import DtsenError
from dtsen.reference.regions import RegionMaster
from dtsen.security.context import Security
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.releases import ServingReleases
from dtsen.web.charts import ChartCache

if TYPE_CHECKING:
    from dtsen.web.pages import Pages
    from dtsen.web.views.figures import ReleaseFigures


class UnknownReleaseError(DtsenError):
    """A release id the service has no serving index for."""


@dataclass
class WebState:
    settings: Settings
    security: Security
    releases: ServingReleases
    pages: Pages
    owns_releases: bool = False
    charts: ChartCache = field(default_factory=ChartCache)
    _shelf: dict[str, ReleaseHandle] = field(default_factory=dict)
    _figures: dict[str, ReleaseFigures] = field(default_factory=dict)
    _memo: dict[tuple[str, str], Any] = field(default_factory=dict)
    _regions: RegionMaster | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    wf: Any = None  # the app's dtsen.workflow.Workflow (set by install_web)

    # -- releases ----------------------------------------------------------------------------------
    def release_ids(self) -> list[str]:
        """The published releases that have a serving index, oldest first."""
        return [r.release_id for r in self.releases.store.releases() if self.releases.indexed(r.release_id)]

    @contextlib.contextmanager
    def release(self, release_id: str | None = None) -> Iterator[ReleaseHandle]:
        """The current release (None, or its id) held for the request; or an earlier one."""
        with self.releases.acquire() as current:
            if release_id is None or release_id == current.release_id:
                yield current
                return
        yield self.earlier(release_id)

    def earlier(self, release_id: str) -> ReleaseHandle:
        """A handle on any indexed release (kept open until the service stops)."""
        with self._lock:
            handle = self._shelf.get(release_id)
            if handle is not None:
                return handle
        if release_id not in self.release_ids():
            raise UnknownReleaseError(f"rilis {release_id!r} tidak tersedia / release {release_id!r} is not served")
        handle = self.releases.open(release_id)
        with self._lock:
            kept = self._shelf.setdefault(release_id, handle)
        if kept is not handle:
            handle.close()
        return kept

    def current_id(self) -> str:
        with self.releases.acquire() as h:
            return h.release_id

    # -- cached per release --------------------------------------------------------------------------
    def figures(self, handle: ReleaseHandle) -> ReleaseFigures:
        """What the dashboard's figures of this release may show (see `dtsen.web.views.figures`)."""
        from dtsen.web.views.figures import ReleaseFigures

        with self._lock:
            found = self._figures.get(handle.release_id)
        if found is not None:
            return found
        made = ReleaseFigures.of(handle, self.settings.quality.suppress_below)
        with self._lock:
            return self._figures.setdefault(handle.release_id, made)

    def memo(self, release_id: str, name: str, make: Callable[[], Any]) -> Any:
        """Something computed once per release (releases never change)."""
        key = (release_id, name)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = make()
        with self._lock:
            return self._memo.setdefault(key, value)

    def workflow(self) -> Any:
        """The service's `dtsen.workflow.Workflow` (the case pages call it)."""
        if self.wf is None:
            raise DtsenError("alur kerja tidak tersedia / the workflow is not available on this service")
        return self.wf

    # -- region names ----------------------------------------------------------------------------------
    def regions(self) -> RegionMaster:
        if self._regions is None:
            ref = self.settings.reference
            path = self.settings.path(ref.regions) if ref.regions else None
            master = RegionMaster.load(path, ref.regions_edition) if path is not None and path.is_file() \
                else RegionMaster.empty()
            with self._lock:
                if self._regions is None:
                    self._regions = master
        assert self._regions is not None
        return self._regions

    def region_name(self, code: str) -> str:
        if not code:
            return "Indonesia"
        region = self.regions().get(code) if self.regions().is_loaded else None
        return region.name if region is not None else code

    def close(self) -> None:
        with self._lock:
            shelf, self._shelf = self._shelf, {}
        for handle in shelf.values():
            handle.close()
        if self.owns_releases:
            self.releases.close()
