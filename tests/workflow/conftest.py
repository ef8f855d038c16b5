"""The workflow on a fresh store (SQLite and PostgreSQL), over a small release written here: two
villages of Kab. Bandung and one of Kota Bandung, a few families with their members and
ground-check candidates, so that cases can name real families without a whole build."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from dtsen.api.access import Access, Caller
from dtsen.config import Settings
from dtsen.security.context import Security
from dtsen.security.principal import Grant, Principal
from dtsen.store.tables import cases, users
from dtsen.workflow.service import Workflow
from tests.store.fixtures import service_project

VILLAGE = "32.04.05.2001"
OTHER_VILLAGE = "32.04.05.2002"
OTHER_REGENCY_VILLAGE = "32.73.01.1001"
PASSWORD = "kata-sandi-yang-panjang"

# family_id -> (kk, village, decile, pkh); members: (person_id, nik, name, sex, birth, relationship)
FAMILIES: dict[int, tuple[str, str, int, bool]] = {
    45: ("3204050101090001", VILLAGE, 2, True),
    46: ("3204050101090002", VILLAGE, 7, True),
    47: ("3204050101090003", OTHER_VILLAGE, 4, False),
    90: ("3273010101090001", OTHER_REGENCY_VILLAGE, 3, True),
}
MEMBERS: dict[int, list[tuple[int, str, str, str, dt.date, str]]] = {
    45: [(701, "3204055203850002", "SITI AMINAH", "P", dt.date(1985, 3, 12), "KEPALA_KELUARGA"),
         (702, "3204051507800003", "BUDI SANTOSO", "L", dt.date(1980, 7, 15), "SUAMI"),
         (703, "3204050102100004", "ANDI SANTOSO", "L", dt.date(2010, 2, 1), "ANAK")],
    46: [(711, "3204054404700005", "DEWI LESTARI", "P", dt.date(1970, 4, 4), "KEPALA_KELUARGA")],
    47: [(721, "3204050505600006", "ASEP SUNANDAR", "L", dt.date(1960, 5, 5), "KEPALA_KELUARGA")],
    90: [(901, "3273014108900007", "RINA MARLINA", "P", dt.date(1990, 8, 1), "KEPALA_KELUARGA")],
}


def write_release(root: Path, release_id: str = "R0001") -> Path:
    """A release directory with the tables the workflow reads, made current."""
    out = root / "releases" / release_id
    out.mkdir(parents=True)
    fam_rows = [{"family_id": fid, "kk": kk, "region_code": village, "address": f"JL. MAWAR {fid}", "rt": "001",
                 "rw": "002", "floor_type": "KERAMIK", "wall_type": "TEMBOK", "has_car": False, "electricity_va": 900,
                 "decile": decile, "pkh": pkh, "bpnt": False, "pbi_jk": True, "poor": decile <= 2,
                 "extreme_poor": False}
                for fid, (kk, village, decile, pkh) in FAMILIES.items()]
    pq.write_table(pa.Table.from_pylist(fam_rows), out / "families.parquet")
    person_rows = [{"person_id": pid, "family_id": fid, "nik": nik, "kk": FAMILIES[fid][0], "full_name": name,
                    "sex": sex, "birth_date": birth, "relationship": rel, "region_code": FAMILIES[fid][1],
                    "address": f"JL. MAWAR {fid}", "rt": "001", "rw": "002", "is_deceased": False}
                   for fid, members in MEMBERS.items() for pid, nik, name, sex, birth, rel in members]
    pq.write_table(pa.Table.from_pylist(person_rows), out / "persons.parquet")
    cand = [{"family_id": 45, "region_code": VILLAGE, "priority": 1},
            {"family_id": 47, "region_code": OTHER_VILLAGE, "priority": 2},
            {"family_id": 90, "region_code": OTHER_REGENCY_VILLAGE, "priority": 1}]
    pq.write_table(pa.Table.from_pylist(cand), out / "verification_candidates.parquet")
    links = pa.schema([("record_key", pa.string()), ("source", pa.string()), ("file", pa.string()),
                       ("sheet", pa.string()), ("row", pa.int64()), ("level", pa.string()),
                       ("person_id", pa.int64()), ("family_id", pa.int64())])
    pq.write_table(links.empty_table(), out / "links.parquet")
    quarantine = pa.schema([("source", pa.string()), ("file", pa.string()), ("sheet", pa.string()),
                            ("row", pa.int64()), ("reasons", pa.string())])
    pq.write_table(quarantine.empty_table(), out / "quarantine.parquet")
    (root / "releases" / "CURRENT").write_text(release_id, encoding="utf-8")
    return out


@pytest.fixture
def wf_settings(tmp_path: Path, store_url: str) -> Settings:
    settings = service_project(tmp_path / "project", store_url, security="",
                               api="rate_per_minute = 100000\nrate_burst = 100000\n")
    text = (settings.project.root / "dtsen.toml").read_text(encoding="utf-8")
    (settings.project.root / "dtsen.toml").write_text(
        text + f'\n[workflow]\nnotify_dir = "{tmp_path / "pesan"}"\n', encoding="utf-8")
    write_release(settings.project.root)
    from dtsen.config import load_settings

    return load_settings(settings.project.root)


@pytest.fixture
def wf(wf_settings: Settings) -> Iterator[Workflow]:
    security = Security.open(wf_settings)
    yield Workflow.open(security)
    security.close()


@dataclass
class Staff:
    """Accounts of the store, and an `Access` for each (as a request of theirs would have)."""

    wf: Workflow

    def user(self, username: str, role: str, region: str = "") -> Principal:
        sec = self.wf.security
        with sec.store.reading() as conn:
            row = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            sec.accounts.add_user(username, username.title(), PASSWORD, [Grant(role, region)], actor="cli:test")
            with sec.store.reading() as conn:
                row = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
        assert row is not None
        return Principal("user", int(row.id), username, (Grant(role, region),))

    def access(self, principal: Principal) -> Access:
        return Access(self.wf.security, Caller(principal, "127.0.0.1", "test"))

    def as_user(self, username: str, role: str, region: str = "") -> Access:
        return self.access(self.user(username, role, region))


@pytest.fixture
def staff(wf: Workflow) -> Staff:
    return Staff(wf)


def citizen(wf: Workflow, family_id: int) -> Access:
    return Access(wf.security, Caller(Principal("citizen", None, "citizen", (Grant("citizen"),), family_id=family_id),
                                      "127.0.0.1", "test"))


def set_state(wf: Workflow, case_id: int, state: str, **values: Any) -> None:
    """Put a case into a state directly (for tests of what may follow from it)."""
    with wf.store.writing() as conn:
        conn.execute(sa.update(cases).where(cases.c.id == case_id).values(state=state, **values))


def audit_actions(wf: Workflow) -> list[tuple[str, str, str]]:
    """(action, outcome, actor) of every audit entry, in order."""
    with wf.store.reading() as conn:
        return [(e["action"], e["outcome"], e["actor"]) for e in wf.security.audit.entries(conn, limit=10_000)]


# -- evidence files ---------------------------------------------------------------------------

def pdf_bytes(text: str = "Berita acara musyawarah desa") -> bytes:
    body = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"3 0 obj << /Length " + str(len(text)).encode() + b" >> stream\n" + text.encode() +
            b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    return body


def png_bytes() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"\x00\xff\x00\x00"  # one red pixel, filter byte 0
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    # SOI, APP0 (JFIF), SOS header, a few scan bytes, EOI
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sos = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sos + b"\x12\x34\x56\x78" + b"\xff\xd9"


def verified_case(wf: Workflow, staff: Staff, family_id: int = 45, answers: dict[str, Any] | None = None,
                  region: str = "32.04") -> int:
    """A ground-check visit of `family_id` taken through forward, assign, visit and verify: it
    waits for approval."""
    from dtsen.workflow.cases import CaseDraft

    operator = staff.as_user(f"dinsos-{region.replace('.', '')}", "regency_operator", region)
    officer = f"petugas-{region.replace('.', '')}"
    officer_access = staff.as_user(officer, "field_officer", region)
    view = wf.create(operator, "case_work", CaseDraft(case_type="visit", kind="manual", family_id=family_id,
                                                      reason="cek lapangan"))
    wf.act(operator, "case_work", view.id, "forward", {})
    wf.act(operator, "case_work", view.id, "assign", {"officer": officer})
    body = answers or {"visited_on": dt.date.today().isoformat(), "found": True,
                       "family_fields": {"floor_type": "TANAH", "has_car": True}}
    wf.act(officer_access, "case_work", view.id, "visit", body)
    return wf.act(operator, "case_work", view.id, "verify", {}).id
