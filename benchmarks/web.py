"""The dashboard's page response times under load on loopback.

    flock /work/bench.lock uv run python -u -m benchmarks.web --persons 100000 [--clients 1 8 32]
        [--requests 300] [--project DIR]

1. A built project of `--persons` synthetic persons (the one `benchmarks/api.py` caches under
   /tmp/dtsen-api-<persons>-<seed> when it is there and indexed; otherwise synthesised and built
   here under /tmp/dtsen-web-<persons>-<seed>; or `--project DIR`). Its releases and serving index
   are only read.
2. A service project beside it (/tmp/dtsen-web-service-<persons>-<seed>: its own store, keys and
   one kepala daerah account for the project's largest regency) pointing at those releases, and
   `dtsen serve` on a free loopback port in a subprocess (one uvicorn worker, as deployed).
3. Log in through the login form (password and TOTP), then for each page kind, with 1, 8 and 32
   clients at once, each making `--requests` / clients requests: p50, p99 and pages per second.
   Page kinds: the region overview of the regency and of random districts, the family page of
   random families of the regency, the explanation of a family's decile (an htmx fragment), and
   the case queue (first 50 cases, with the overdue counts per village) after a dinas sosial
   account has filed a visit case for each ground-check candidate of the regency (through the API). The first overview of a release computes what its
   figures may show (suppression over every region); that one-off time is printed first.

Figures on the shared 2-core machine are indicative (the load generator runs on the same cores).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyotp

from benchmarks.api import prepare
from benchmarks.latency import concurrent_latencies
from benchmarks.service_process import dtsen_service
from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow

PASSWORD = "kata-sandi-untuk-tolok-ukur"
SESSION = "__Host-dtsen-sesi"


def data_project(persons: int, seed: int, memory_limit: str) -> Path:
    cached = Path(f"/tmp/dtsen-api-{persons}-{seed}")
    if (cached / "releases" / "CURRENT").exists():
        rid = (cached / "releases" / "CURRENT").read_text().strip()
        if (cached / "serving" / rid / "index.sqlite").exists():
            return cached
    return prepare(persons, seed, memory_limit)


def service_project(data: Path, out: Path) -> Path:
    settings = load_settings(data)
    regions = settings.path(settings.reference.regions) if settings.reference.regions else None
    out.mkdir(parents=True, exist_ok=True)
    text = ('[project]\nname = "web-bench"\n\n[reference]\n'
            + (f'regions = "{regions}"\n' if regions else "")
            + f'\n[release]\ndir = "{settings.path(settings.release.dir)}"\n'
            f'\n[serving]\ndir = "{settings.path(settings.serving.dir)}"\n'
            "\n[security]\nargon2_time_cost = 1\nargon2_memory_kib = 1024\n"
            "\n[api]\nrate_per_minute = 10000000\nrate_burst = 1000000\n")
    (out / "dtsen.toml").write_text(text, encoding="utf-8")
    return out


def seed_account(svc: Path, regency: str, name: str = "bupati-bench", role: str = "kepala_daerah") -> str:
    from dtsen.security.context import Security
    from dtsen.security.principal import Grant
    from dtsen.store.connection import Store
    from dtsen.store.migrate import upgrade

    settings = load_settings(svc)
    store = Store.from_settings(settings.store, settings.project.root)
    upgrade(store)
    store.dispose()
    sec = Security.open(settings)
    try:
        for info in sec.accounts.list_users():
            if info.name == name:
                return str(sec.accounts.reset_user(name, PASSWORD, actor="cli:bench").totp_secret)
        return sec.accounts.add_user(name, f"{role} (tolok ukur)", PASSWORD, [Grant(role, regency)],
                                     actor="cli:bench").totp_secret
    finally:
        sec.close()


def seed_queue(url: str, seed: str, regency: str) -> int:
    """Visit cases from the current release's ground-check candidates of `regency`, filed by a
    dinas sosial account through the API (once: a candidate that has its case is skipped); the
    number of cases the queue then holds."""
    with httpx.Client(base_url=url, timeout=600) as c:
        r = c.post("/auth/login", json={"username": "dinsos-bench", "password": PASSWORD,
                                        "totp": pyotp.TOTP(seed).now()})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        made = c.post("/api/cases/from-candidates", params={"purpose": "case_work"}, headers=headers,
                      json={"region": regency})
        made.raise_for_status()
        total, after = 0, 0
        while True:
            page = c.get("/api/cases", params={"purpose": "case_work", "limit": 200, "after": after}, headers=headers)
            page.raise_for_status()
            rows = page.json()
            total += len(rows)
            if len(rows) < 200:
                return total
            after = rows[-1]["id"]


@contextlib.contextmanager
def serving(svc: Path) -> Iterator[str]:
    with (svc / "serve.log").open("w") as log, dtsen_service(svc, log=log) as (url, _proc):
        yield url


def cookies_of(response: httpx.Response) -> dict[str, str]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        out[name.strip()] = rest.split(";", 1)[0]
    return out


def log_in(url: str, seed: str) -> str:
    """The session cookie's value, through the login form (the cookie is Secure: sent by hand here)."""
    with httpx.Client(base_url=url) as c:
        form = c.get("/web/masuk")
        pre = cookies_of(form)
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
        assert found is not None
        now = dt.datetime.now(dt.UTC)
        r = c.post("/web/masuk", headers={"Cookie": "; ".join(f"{k}={v}" for k, v in pre.items())},
                   data={"csrf": found.group(1), "nama": "bupati-bench", "sandi": PASSWORD,
                         "kode": pyotp.TOTP(seed).at(now), "lanjut": "/web/"})
        session = cookies_of(r).get(SESSION)
        if r.status_code != 303 or not session:
            raise RuntimeError(f"login failed: {r.status_code}")
        return session


def load(url: str, cookie: str, paths: list[str], clients: int, total: int,
         headers: dict[str, str] | None = None) -> dict[str, float]:
    @contextlib.contextmanager
    def client(_k: int) -> Iterator[Callable[[random.Random], bool]]:
        with httpx.Client(base_url=url, headers={"Cookie": f"{SESSION}={cookie}", **(headers or {})},
                          timeout=120) as c:
            yield lambda rng: c.get(paths[rng.randrange(len(paths))]).status_code == 200

    return concurrent_latencies(client, clients, max(1, total // clients))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--project", type=Path, default=None, help="a built, indexed project (only read)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=300, help="requests per page kind and client count")
    ap.add_argument("--memory-limit", default="4GB")
    args = ap.parse_args()

    data = args.project or data_project(args.persons, args.seed, args.memory_limit)
    settings = load_settings(data)
    rid = (settings.path(settings.release.dir) / "CURRENT").read_text().strip()
    families = read_parquet_arrow(settings.path(settings.release.dir) / rid / "families.parquet").select(
        ["family_id", "region_code", "decile"]).to_pylist()
    by_regency: dict[str, int] = {}
    for f in families:
        if f["region_code"]:
            by_regency[f["region_code"][:5]] = by_regency.get(f["region_code"][:5], 0) + 1
    regency = max(by_regency, key=lambda r: by_regency[r])
    inside = [f for f in families if (f["region_code"] or "").startswith(regency + ".")]
    districts = sorted({f["region_code"][:8] for f in inside})
    ranked = [f["family_id"] for f in inside if f["decile"] is not None]
    rng = random.Random(args.seed)
    sample = rng.sample(ranked, min(2000, len(ranked)))
    svc = service_project(data, Path(f"/tmp/dtsen-web-service-{args.persons}-{args.seed}"))
    seed = seed_account(svc, regency)
    dinsos_seed = seed_account(svc, regency, "dinsos-bench", "regency_operator")
    print(f"release {rid} of {data}: {len(families):,} families; regency {regency} with {len(inside):,} families in "
          f"{len(districts)} districts")

    with serving(svc) as url:
        t0 = time.perf_counter()
        queued = seed_queue(url, dinsos_seed, regency)
        print(f"case queue: {queued:,} visit cases of the regency ({time.perf_counter() - t0:,.1f} s to file and list)")
        cookie = log_in(url, seed)
        with httpx.Client(base_url=url, headers={"Cookie": f"{SESSION}={cookie}"}, timeout=600) as c:
            t0 = time.perf_counter()
            first = c.get(f"/web/wilayah?wilayah={regency}")
            print(f"first overview of the release (computes what its figures may show): "
                  f"{(time.perf_counter() - t0) * 1e3:,.0f} ms, status {first.status_code}")
            t0 = time.perf_counter()
            c.get(f"/web/keluarga/{sample[0]}/penjelasan", headers={"HX-Request": "true"})
            print(f"first explanation (loads the PMT model): {(time.perf_counter() - t0) * 1e3:,.0f} ms")
        kinds: list[tuple[str, list[str], dict[str, str]]] = [
            ("overview, regency", [f"/web/wilayah?wilayah={regency}"], {}),
            ("overview, district", [f"/web/wilayah?wilayah={d}" for d in districts], {}),
            ("family page", [f"/web/keluarga/{fid}" for fid in sample], {}),
            ("explanation (htmx)", [f"/web/keluarga/{fid}/penjelasan" for fid in sample[:500]],
             {"HX-Request": "true"}),
        ]
        kinds.append(("case queue", ["/web/kasus", "/web/kasus?status=submitted", "/web/kasus?jenis=visit"], {}))
        print(f"\n{'page':<22} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'pages/s':>8} {'errors':>6}")
        for name, paths, headers in kinds:
            for clients in args.clients:
                r = load(url, cookie, paths, clients, args.requests, headers)
                print(f"{name:<22} {clients:>7} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['mean_ms']:>8.1f} "
                      f"{r['per_s']:>8.1f} {int(r['errors']):>6}")


if __name__ == "__main__":
    main()
