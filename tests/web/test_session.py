"""The CSRF rules and where a login may send the browser."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.requests import Request

from dtsen.web.routes.login import safe_next
from dtsen.web.session import CsrfError, check_csrf, same_site


def request(headers: dict[str, str], body: bytes = b"", method: str = "POST") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": method, "path": "/web/keluar", "headers": raw, "query_string": b""},
                   receive)


@pytest.mark.parametrize(("headers", "ok"), [
    ({"host": "dtsen.example"}, True),
    ({"host": "dtsen.example", "origin": "https://dtsen.example"}, True),
    ({"host": "dtsen.example", "origin": "null", "sec-fetch-site": "same-origin"}, True),
    ({"host": "dtsen.example", "origin": "https://evil.example"}, False),
    ({"host": "dtsen.example", "origin": "https://dtsen.example.evil.example"}, False),
    ({"host": "dtsen.example", "sec-fetch-site": "cross-site"}, False),
    ({"host": "dtsen.example", "origin": "null", "sec-fetch-site": "cross-site"}, False),
])
def test_same_site(headers: dict[str, str], ok: bool) -> None:
    assert same_site(request(headers)) is ok


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` on a loop of its own thread (the session's browser keeps Playwright's loop
    running on this one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def test_the_token_comes_from_the_header_or_the_form() -> None:
    good = "a" * 64
    form = {"host": "h", "content-type": "application/x-www-form-urlencoded"}
    run(check_csrf(request({"host": "h", "x-csrf-token": good}), good))
    run(check_csrf(request(form, f"csrf={good}&x=1".encode()), good))
    for headers, body in (({"host": "h"}, b""), (form, b"csrf=" + b"b" * 64), (form, b"x=1"),
                          ({"host": "h", "x-csrf-token": "b" * 64}, b"")):
        with pytest.raises(CsrfError):
            run(check_csrf(request(headers, body), good))


@pytest.mark.parametrize(("target", "where"), [
    ("/web/keluarga/5", "/web/keluarga/5"), ("/web/wilayah?wilayah=32.04", "/web/wilayah?wilayah=32.04"),
    (None, "/web/"), ("https://evil.example/web/", "/web/"), ("//evil.example/web/", "/web/"),
    ("/api/persons/1", "/web/"), ("/web/\\evil", "/web/"), ("/web/x?u=https://evil.example", "/web/"),
])
def test_after_login_only_dashboard_pages(target: str | None, where: str) -> None:
    assert safe_next(target) == where
