"""`dtsen serve` in a subprocess on a free loopback port, for the HTTP benchmarks (api, web)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import httpx

START_SECONDS = 120


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dtsen_service(project: Path, env: Mapping[str, str] | None = None,
                  log: IO[str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `dtsen serve --project PROJECT` (one uvicorn worker, as deployed) and yield its base
    URL and process once /health answers 200; stop it on exit. Its output goes to `log` (default:
    discarded). A service that exits or does not answer within START_SECONDS is an error."""
    port = free_port()
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "dtsen", "serve", "--project", str(project), "--port", str(port)],
                            env=dict(env) if env is not None else None, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`dtsen serve --project {project}` did not start (exit status {proc.poll()})")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
