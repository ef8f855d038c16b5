"""Fixtures: the two hand-written releases, indexed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import build_serving_index
from dtsen.serve.releases import ServingReleases
from tests.serve.fakes import write_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake project with R0001 and R0002 (R0001 current), both indexed."""
    root = write_project(tmp_path_factory.mktemp("fake") / "proj")
    for rid in ("R0001", "R0002"):
        build_serving_index(root / "releases" / rid, root / "serving" / rid)
    return root


@pytest.fixture
def releases(project: Path) -> Iterator[ServingReleases]:
    r = ServingReleases(project / "releases", project / "serving", check_interval=0)
    yield r
    r.close()


@pytest.fixture(scope="module")
def r1(project: Path) -> Iterator[ReleaseHandle]:
    h = ReleaseHandle(project / "serving" / "R0001", project / "releases" / "R0001")
    yield h
    h.close()


@pytest.fixture(scope="module")
def r2(project: Path) -> Iterator[ReleaseHandle]:
    h = ReleaseHandle(project / "serving" / "R0002", project / "releases" / "R0002")
    yield h
    h.close()
