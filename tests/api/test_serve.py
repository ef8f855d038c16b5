"""`dtsen serve` starts the real service with uvicorn: /health answers over TCP, and its log
holds route templates, never a NIK from a path or query string."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dtsen.store.connection import Store
from dtsen.store.migrate import upgrade
from tests.store.fixtures import service_project

NIK = "3204055203850002"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dtsen_serve_answers_health_and_logs_no_identifiers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store.open(url)
    upgrade(store)
    store.dispose()
    project = tmp_path / "p"
    service_project(project, url)
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "dtsen", "serve", "--project", str(project), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        health = None
        for _ in range(150):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        assert health is not None, proc.stdout.read() if proc.stdout else ""
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert "server" not in health.headers
        missing = httpx.get(f"http://127.0.0.1:{port}/api/orang/{NIK}?nik={NIK}", timeout=5)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in output
    assert "GET /health 200" in output and "GET - 404" in output
    assert NIK not in output
