"""The errors of the release store: one family under `ReleaseError`."""

from __future__ import annotations

from dtsen.errors import DtsenError


class ReleaseError(DtsenError):
    """A release is missing, damaged, or cannot be published."""


class BuildLockedError(ReleaseError):
    """Another dtsen command holds the project lock (a build, an ingest, a switch of release...)."""


class CurrentReleaseError(ReleaseError):
    """The store holds releases but `CURRENT` is missing, empty, or names no release of it."""


class ReleaseIdError(ReleaseError):
    """A release id is not `R` and digits (R0001, R0002, ...)."""


class ReleasePathError(ReleaseError):
    """A path from a manifest or an argument would lead outside the release store."""


class ManifestError(ReleaseError):
    """A release's manifest.json is missing, unreadable, not JSON, or not a release manifest."""
