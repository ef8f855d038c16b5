"""The release switch under concurrent HTTP requests (uvicorn on loopback, one worker): while
releases/CURRENT flips between R0001 and R0002, every response names one release and its data is
that release's, never a mix (family 10 has decile 2 and three members in R0001, decile 3 and two
in R0002; RINA belongs to family 10 in R0001 and to family 11 in R0002)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from dtsen.api.app import create_app
from dtsen.security.principal import Grant
from tests.api.data.conftest import data_project, issue
from tests.serve.fakes import set_current

EXPECTED = {
    "R0001": {"decile": 2, "members": [1, 2, 3], "rina_family": 10},
    "R0002": {"decile": 3, "members": [1, 2], "rina_family": 11},
}


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app on uvicorn in a thread, on a free loopback port; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_no_response_mixes_two_releases(tmp_path: Path, store_url: str, fake_releases: Path) -> None:
    settings = data_project(tmp_path / "p", fake_releases, store_url, extra="\n[serving]\ncheck_interval = 0\n")
    releases = settings.path(settings.release.dir)
    app = create_app(settings)
    steward = issue(app, "stew", Grant("steward"))
    seen: Counter[str] = Counter()
    problems: list[str] = []
    stop = threading.Event()

    def reader(base: str) -> None:
        with httpx.Client(base_url=base, headers=steward.headers, timeout=30) as http:
            while not stop.is_set():
                family = http.get("/api/families/10?purpose=data_quality")
                person = http.post("/api/persons/by-nik?purpose=data_quality", json={"nik": "3204014107100001"})
                if family.status_code != 200 or person.status_code != 200:
                    problems.append(f"status {family.status_code} {person.status_code}")
                    continue
                f, p = family.json(), person.json()
                want = EXPECTED[f["release_id"]]
                if f["family"]["decile"] != want["decile"] or [m["person_id"] for m in f["members"]] != want["members"]:
                    problems.append(f"family 10 mixed in {f['release_id']}: {f['family']['decile']}")
                if p["person"]["family_id"] != EXPECTED[p["release_id"]]["rina_family"]:
                    problems.append(f"RINA mixed in {p['release_id']}")
                seen[f["release_id"]] += 1
                seen[p["release_id"]] += 1

    with serving(app) as base:
        threads = [threading.Thread(target=reader, args=(base,)) for _ in range(8)]
        for t in threads:
            t.start()
        for i in range(30):
            set_current(releases, "R0002" if i % 2 == 0 else "R0001")
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    app.state.security.close()
    assert not problems, problems[:10]
    assert seen["R0001"] > 20 and seen["R0002"] > 20, seen
