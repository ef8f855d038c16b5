"""The data side of the service: the serving index of a release, release switching, queries,
bulk matching (*padan data*).

Public names are imported lazily (so that `dtsen.config` can import the settings section
without pulling in the engine).
"""

from __future__ import annotations
