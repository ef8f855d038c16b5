"""Schemathesis against the service's own OpenAPI description, on SQLite and PostgreSQL: no
generated request gets a 5xx; schema-valid ones (positive cases) get documented statuses and
bodies that conform to the schema, invalid ones (negative cases) an error in the one shape. Data endpoints added later are covered by the same test.

(Schemathesis' pytest loader reads `request.node._nodeid`, which pytest 9 no longer has, so the
cases are drawn here with Hypothesis from each operation's strategy.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.checks as conformance
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from dtsen.api.app import create_app
from dtsen.security.context import Security
from dtsen.security.principal import Grant
from tests.api.conftest import bearer, client_token
from tests.store.fixtures import service_project

EXAMPLES = 25
# operations without parameters or body: no invalid request can be generated for them
PARAMETERLESS = ("/health", "/warga/keluarga", "/warga/kasus")
CHECKS = [schemathesis.checks.not_a_server_error, conformance.status_code_conformance,
          conformance.content_type_conformance, conformance.response_schema_conformance]
NEGATIVE = [schemathesis.checks.not_a_server_error, conformance.content_type_conformance]


def _fuzz(operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str] | None,
          cases: Counter[str], statuses: Counter[int]) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        cases[f"{operation.label} ({mode.value})"] += 1
        statuses[response.status_code] += 1
        assert response.status_code < 500, (operation.label, response.status_code, response.text[:300])
        case.validate_response(response, checks=CHECKS if mode is schemathesis.GenerationMode.POSITIVE else NEGATIVE)

    run()


@pytest.fixture
def fuzz_app(tmp_path: Path, store_url: str) -> Iterator[FastAPI]:
    """The app with rate limits out of the way (the fuzzer calls in bursts)."""
    settings = service_project(tmp_path / "fuzz", store_url, api="rate_per_minute = 100000\nrate_burst = 100000\n")
    # the security bundle is the fixture's, not the app's: Schemathesis runs the app's lifespan
    # (and so its shutdown) on its own, which would close the audit writer under later requests
    security = Security.open(settings)
    application = create_app(settings, security=security)
    yield application
    security.close()


def test_no_generated_request_gets_a_server_error(fuzz_app: FastAPI) -> None:
    app = fuzz_app
    with TestClient(app) as client:
        token = client_token(app, client, "fuzz", Grant("client", "", frozenset({"eligibility", "statistics"})))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.label for op in operations} >= {"POST /auth/token", "POST /auth/login", "GET /auth/me",
                                                "POST /auth/logout", "GET /health"}
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            try:
                _fuzz(operation, mode, None if operation.path == "/auth/logout" else bearer(token), cases, statuses)
            except Unsatisfiable:  # an operation without parameters or body cannot be called wrongly
                assert mode is schemathesis.GenerationMode.NEGATIVE and operation.path in PARAMETERLESS
    # every operation with parameters or a body got many cases; /health has nothing to vary
    assert all(n >= 10 for label, n in cases.items()
               if not any(label.startswith(f"GET {p} ") for p in PARAMETERLESS)), cases
    assert statuses[422] > 0 and statuses[200] > 0  # invalid requests were made, and valid ones
    assert not [s for s in statuses if s >= 500]
