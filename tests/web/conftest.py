"""The dashboard under test: a small built project with staff accounts, the app under uvicorn on a
free loopback port, and Chromium (Debian's) driven by Playwright.

Chromium is /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it when absent);
the browser tests skip with the reason when it is not there. Screenshots of the pages go to
`test-artifacts/web/` at the top of the checkout (ignored by git), printed at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from fastapi import FastAPI

from dtsen.api.app import create_app
from dtsen.config import Settings, load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.security.context import Security
from dtsen.security.principal import Grant
from dtsen.store.connection import Store
from dtsen.store.migrate import upgrade
from tests.conftest import build_on_duckdb, regency_project
from tests.store.fixtures import FAST_ARGON2

PASSWORD = "kata-sandi-yang-panjang"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@dataclass
class Site:
    """A built project with a store, its accounts and what the release holds."""

    root: Path
    settings: Settings
    regency: str
    other_regency: str
    village: str  # a village with families (the village operator's)
    other_village: str  # another village of the same regency, with families
    seeds: dict[str, str] = field(default_factory=dict)
    _last_step: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def release_dir(self) -> Path:
        rid = (self.root / "releases" / "CURRENT").read_text().strip()
        return self.root / "releases" / rid

    def families(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = read_parquet_arrow(self.release_dir / "families.parquet").to_pylist()
        return rows

    def persons(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = read_parquet_arrow(self.release_dir / "persons.parquet").to_pylist()
        return rows

    def code(self, username: str) -> str:
        """A TOTP code the service will accept for the user's next login (each step once: the step
        before now, now, the one after; waits for the clock when all three are used)."""
        seed = self.seeds[username]
        while True:
            with self._lock:
                now = int(time.time()) // 30
                step = max(self._last_step.get(username, -1) + 1, now - 1)
                if step <= now + 1:
                    self._last_step[username] = step
                    return pyotp.TOTP(seed).at(dt.datetime.fromtimestamp(step * 30 + 1, dt.UTC))
            time.sleep(1)


# username -> what it is given (filled in from the release: regency, villages)
def accounts(site: Site) -> dict[str, Grant]:
    return {
        "bupati": Grant("kepala_daerah", site.regency),
        "operator-kab": Grant("regency_operator", site.regency),
        "operator-lain": Grant("regency_operator", site.other_regency),
        "operator-desa": Grant("village_operator", site.village),
        "auditor": Grant("auditor"),
        "pengelola": Grant("steward"),
    }


def make_site(root: Path, persons: int, seed: int) -> Site:
    """Synthesise and build a project, give it a store (SQLite) and the accounts of `accounts`."""
    regency_project(root, persons, seed)
    with (root / "dtsen.toml").open("a", encoding="utf-8") as f:
        f.write(f"\n[security]\n{FAST_ARGON2}\n[api]\nrate_per_minute = 100000\nrate_burst = 10000\n")
    build_on_duckdb(root)
    settings = load_settings(root)
    store = Store.from_settings(settings.store, settings.project.root)
    upgrade(store)
    store.dispose()
    families = read_parquet_arrow(root / "releases" / (root / "releases" / "CURRENT").read_text().strip()
                                  / "families.parquet").to_pylist()
    villages: dict[str, int] = {}
    for f in families:
        if f["region_code"]:
            villages[f["region_code"]] = villages.get(f["region_code"], 0) + 1
    ordered = sorted(villages, key=lambda v: (-villages[v], v))
    regency = ordered[0][:5]
    other = "32.73" if regency != "32.73" else "32.04"
    site = Site(root, settings, regency, other, ordered[0], next(v for v in ordered[1:] if v[:5] == regency))
    sec = Security.open(settings)
    try:
        for name, grant in accounts(site).items():
            site.seeds[name] = sec.accounts.add_user(name, name.replace("-", " ").title(), PASSWORD, [grant],
                                                     actor="cli:test").totp_secret
    finally:
        sec.close()
    return site


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    app: FastAPI
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def security(self) -> Security:
        sec: Security = self.app.state.security
        return sec


def start_server(settings: Settings) -> Server:
    """The service (create_app, as `dtsen serve` runs it) under uvicorn in a thread."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dtsen-web-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    return Server(app, f"http://127.0.0.1:{port}", server, thread)


def stop_server(s: Server) -> None:
    s.server.should_exit = True
    s.thread.join(timeout=30)
    s.security.close()


def chromium_skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    return None


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.exists() and any(ARTIFACTS.glob("*.png")):
        terminalreporter.write_line(f"dashboard screenshots: {ARTIFACTS}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    reason = chromium_skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(browser: Any, server: Server, site: Site, username: str, *, viewport: dict[str, int] | None = None) -> Any:
    """A browser page logged in as `username` through the login form."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    page.goto(server.url + "/web/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_label("Kode autentikator (TOTP)").fill(site.code(username))
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_load_state()
    return page
