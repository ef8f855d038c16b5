"""Demo accounts: one account of every role on a synthetic project, to try the service with.

`seed_demo_accounts(settings)` refuses any project that `dtsen synth` did not write (its project
file says so, and it has the ground truth under truth/): demo accounts with printed passwords must
never reach a registry of real people. It migrates the store, then adds (or, run again, resets)
one staff account per staff role, limited to real regions of the synthetic population (its most
populous province, regency and village), and one machine client for each client purpose set.
Passwords, TOTP secrets and client secrets are random and returned once, to be printed.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from dtsen.config import Settings
from dtsen.errors import DtsenError
from dtsen.security.context import Security
from dtsen.security.errors import AccountError
from dtsen.security.principal import Grant
from dtsen.store.connection import Store
from dtsen.store.migrate import upgrade

SYNTH_MARK = "dtsen project written by `dtsen synth`"
ACTOR = "cli:demo-accounts"


class NotADemoProjectError(DtsenError):
    """Demo accounts are only made on a project written by `dtsen synth`."""


@dataclass(frozen=True)
class DemoAccount:
    kind: str  # user | client
    name: str
    role: str
    region: str
    purposes: tuple[str, ...]
    secret: str  # the password (user) or client secret (client)
    totp_secret: str | None = None


def is_synthetic(root: Path) -> bool:
    text = (root / "dtsen.toml").read_text(encoding="utf-8") if (root / "dtsen.toml").exists() else ""
    return SYNTH_MARK in text[:2000] and (root / "truth" / "families.parquet").exists()


def demo_regions(root: Path) -> dict[str, str]:
    """The most populous province, regency, district and village of the synthetic population."""
    codes = [c for c in pq.read_table(root / "truth" / "families.parquet", columns=["region_code"])
             .column("region_code").to_pylist() if c]
    if not codes:
        raise NotADemoProjectError(f"{root / 'truth' / 'families.parquet'} holds no region codes")
    village = Counter(codes).most_common(1)[0][0]
    return {"province": village[:2], "regency": village[:5], "district": village[:8], "village": village}


def example_nik(root: Path) -> str:
    """A NIK of the synthetic population (for the printed example request)."""
    niks = pq.read_table(root / "truth" / "persons.parquet", columns=["nik"]).column("nik").to_pylist()
    return next((n for n in niks if n), "3204010101900001")


def _plan(regions: dict[str, str]) -> list[tuple[str, str, Grant]]:
    return [
        ("user", "demo-admin", Grant("admin")),
        ("user", "demo-steward", Grant("steward")),
        ("user", "demo-auditor", Grant("auditor")),
        ("user", "demo-provinsi", Grant("province_operator", regions["province"])),
        ("user", "demo-kabupaten", Grant("regency_operator", regions["regency"])),
        ("user", "demo-desa", Grant("village_operator", regions["village"])),
        ("user", "demo-bupati", Grant("kepala_daerah", regions["regency"])),
        ("user", "demo-petugas", Grant("field_officer", regions["regency"])),
        ("user", "demo-delegasi", Grant("approval_delegate", regions["regency"])),
        ("client", "demo-kemensos", Grant("client", "", frozenset({"eligibility", "targeting"}))),
        ("client", "demo-bps", Grant("client", "", frozenset({"statistics"}))),
    ]


def seed_demo_accounts(settings: Settings) -> list[DemoAccount]:
    """Demo accounts of every staff role and two clients (see the module docstring)."""
    root = settings.project.root
    if not is_synthetic(root):
        raise NotADemoProjectError(
            f"{root} was not written by `dtsen synth`: demo accounts (with printed passwords) are made only on a "
            "synthetic project; add real accounts with `dtsen users add` and `dtsen clients add`")
    store = Store.from_settings(settings.store, root)
    try:
        upgrade(store)
    finally:
        store.dispose()
    regions = demo_regions(root)
    security = Security.open(settings)
    out: list[DemoAccount] = []
    try:
        for kind, name, grant in _plan(regions):
            purposes = tuple(sorted(grant.purposes or security.policy.table.purposes_of(grant.role)))
            if kind == "user":
                password = secrets.token_urlsafe(12)
                try:
                    enrolment = security.accounts.add_user(name, f"Demo {grant.role}", password, [grant], actor=ACTOR)
                except AccountError:  # run again: the same account with new credentials
                    enrolment = security.accounts.reset_user(name, password, actor=ACTOR)
                out.append(DemoAccount("user", name, grant.role, grant.region_prefix, purposes, password,
                                       enrolment.totp_secret))
            else:
                try:
                    issued = security.accounts.add_client(name, f"Demo {name}", [grant], actor=ACTOR)
                except AccountError:
                    issued = security.accounts.rotate_client(name, actor=ACTOR)
                out.append(DemoAccount("client", name, grant.role, grant.region_prefix, purposes, issued.secret))
    finally:
        security.close()
    return out
