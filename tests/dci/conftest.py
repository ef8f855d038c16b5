"""The DCI flows over the hand-written releases of tests/serve (R0001 current, R0002 next)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dtsen.dci import DciContext, DciRegistry, MemoryDciStore, Signer
from dtsen.serve.index import build_serving_index
from dtsen.serve.releases import ServingReleases
from tests.serve.fakes import write_project

REGISTRY_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def dci_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("dci") / "proj")
    for rid in ("R0001", "R0002"):
        build_serving_index(root / "releases" / rid, root / "serving" / rid)
    return root


@pytest.fixture
def context(dci_project: Path) -> Iterator[DciContext]:
    releases = ServingReleases(dci_project / "releases", dci_project / "serving", check_interval=0)
    ctx = DciContext(releases=releases, store=MemoryDciStore(), registry_id="dtsen-test",
                     signer=Signer("dtsen-test", "k1", REGISTRY_KEY))
    yield ctx
    releases.close()


@pytest.fixture
def registry(context: DciContext) -> DciRegistry:
    return DciRegistry(context)


def ts() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def envelope(action: str, message: dict[str, Any], sender: str = "kemensos", uri: str | None = None) -> dict[str, Any]:
    header: dict[str, Any] = {"version": "1.0.0", "message_id": uuid.uuid4().hex, "message_ts": ts(), "action": action,
                              "sender_id": sender, "receiver_id": "dtsen-test", "total_count": 1}
    if uri:
        header["sender_uri"] = uri
    return {"signature": "unsigned-stub", "header": header, "message": message}


def search_body(criteria: dict[str, Any], sender: str = "kemensos", **item: Any) -> dict[str, Any]:
    return envelope("search", {"transaction_id": "t-" + uuid.uuid4().hex[:8], "search_request": [
        {"reference_id": "r-1", "timestamp": ts(), "search_criteria": criteria, **item}]}, sender,
        uri="https://spmis.example/registry/on-search")
