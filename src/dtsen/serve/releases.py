"""Release switching: the service always serves the current release, and a request one release.

`ServingReleases` opens the serving index of the release named in `releases/CURRENT` and
notices when CURRENT changes (it looks at most every `check_interval` seconds, on the next
request). The switch is one assignment under a lock: a request takes the current handle with
`acquire()` and keeps it for its whole life, so it sees one release only, even if the switch
happens halfway through it; the old handle closes when its last request lets go.

When CURRENT cannot be read (damaged), the release being served stays served and `problem` says
why. A release whose serving index is not built yet is not switched to: the service keeps serving
the previous release (at start-up, the newest earlier release that has an index) and reports the
new one as `pending` until `dtsen index build` (or the build's publish step) has written it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dtsen.release.store import ReleaseError, ReleaseStore
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import INDEX_FILE, ServingIndexError

if TYPE_CHECKING:
    from dtsen.config import Settings


class NoReleaseError(ServingIndexError):
    """No release can be served: none is published, or none has a serving index."""


class ServingReleases:
    """The releases a service serves (see the module docstring)."""

    def __init__(self, releases_root: Path, serving_root: Path, *, check_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = ReleaseStore(Path(releases_root))
        self.serving_root = Path(serving_root)
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._handle: ReleaseHandle | None = None
        self._checked = float("-inf")
        self.pending: str | None = None
        self.problem: str | None = None  # why CURRENT cannot be read, while it cannot

    @classmethod
    def from_settings(cls, settings: Settings) -> ServingReleases:
        from dtsen.serve.index import serving_dir

        return cls(settings.path(settings.release.dir), serving_dir(settings),
                   check_interval=settings.serving.check_interval)

    def index_dir(self, release_id: str) -> Path:
        return self.serving_root / release_id

    def indexed(self, release_id: str) -> bool:
        return (self.index_dir(release_id) / INDEX_FILE).exists()

    def open(self, release_id: str) -> ReleaseHandle:
        """A handle on any release that has an index (closing it is the caller's business)."""
        return ReleaseHandle(self.index_dir(release_id), self.store.path(release_id))

    @property
    def current_id(self) -> str | None:
        h = self._handle
        return h.release_id if h is not None else None

    def refresh(self) -> str | None:
        """Look at CURRENT now and switch if it names another release that has an index.
        Returns the release served afterwards."""
        try:
            wanted = self.store.current()
        except ReleaseError as exc:  # CURRENT damaged: keep serving what is served, say why
            with self._lock:
                self._checked = self._clock()
                self.problem = str(exc)
            return self.current_id
        with self._lock:
            self._checked = self._clock()
            self.problem = None
            old = self._handle
            if wanted is None or (old is not None and old.release_id == wanted):
                self.pending = None
                return self.current_id
            if not self.indexed(wanted):
                self.pending = wanted
                if old is not None:
                    return self.current_id
                # starting up: serve the newest earlier release that has an index, if any
                earlier = [r.release_id for r in self.store.releases() if r.release_id < wanted]
                fallback = next((r for r in reversed(earlier) if self.indexed(r)), None)
                if fallback is None:
                    return None
                self._handle = self.open(fallback)
                return fallback
            self._handle = self.open(wanted)
            self.pending = None
        if old is not None:
            old.retire()
        return wanted

    @contextlib.contextmanager
    def acquire(self) -> Iterator[ReleaseHandle]:
        """The current release's handle, held for the caller's whole request."""
        if self._clock() - self._checked >= self.check_interval:
            self.refresh()
        with self._lock:
            handle = self._handle
            if handle is None:
                current = self.store.current()
                if current is None:
                    raise NoReleaseError(f"belum ada rilis / no release in {self.store.root}: run `dtsen build`")
                raise NoReleaseError(f"release {current} has no serving index in {self.serving_root}: "
                                     "run `dtsen index build`")
            handle.enter()
        try:
            yield handle
        finally:
            handle.leave()

    def close(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            handle.retire()
