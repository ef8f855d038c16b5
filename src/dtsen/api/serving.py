"""The releases the service serves, and the one release a request holds.

`open_serving(app, settings)` puts a `ServingReleases` on `app.state.releases` (the release named
in `releases/CURRENT` that has a serving index; switched when CURRENT changes, see
`dtsen.serve.releases`). A data endpoint takes `HandleDep`: the current release's handle, taken
when the request starts and held until its response is sent, so that one response never mixes
two releases; every data response names its `release_id`.

`app.state.on_close` lists what the app closes when it stops (the releases, the matching
worker, the DCI notifier).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from dtsen.config import Settings
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.releases import ServingReleases


def open_serving(app: FastAPI, settings: Settings) -> ServingReleases:
    releases = ServingReleases.from_settings(settings)
    app.state.releases = releases
    on_close(app, releases.close)
    return releases


def on_close(app: FastAPI, close: Callable[[], None]) -> None:
    """Run `close` when the app stops (in the reverse order of registration)."""
    if not hasattr(app.state, "on_close"):
        app.state.on_close = []
    app.state.on_close.append(close)


def close_all(app: FastAPI) -> None:
    for close in reversed(getattr(app.state, "on_close", [])):
        close()
    app.state.on_close = []


def get_releases(request: Request) -> ServingReleases:
    releases: ServingReleases = request.app.state.releases
    return releases


ReleasesDep = Annotated[ServingReleases, Depends(get_releases)]


def get_handle(releases: ReleasesDep) -> Iterator[ReleaseHandle]:
    """The current release, held for the whole request (503 when no release can be served)."""
    with releases.acquire() as handle:
        yield handle


HandleDep = Annotated[ReleaseHandle, Depends(get_handle)]
