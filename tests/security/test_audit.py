"""The audit chain on SQLite and PostgreSQL: known-answer tamper tests (edit, delete, reorder,
rewrite, forged signature, truncated tail), append-only triggers, and concurrent writers that
never fork the chain."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dtsen.security.audit import AuditEvent, AuditLog, ChainReport, entry_hash
from dtsen.security.audit_writer import AuditWriter
from dtsen.security.context import Security
from dtsen.security.errors import AuditError
from dtsen.security.keys import KeyStore
from dtsen.store.connection import Store, StoreError
from dtsen.store.tables import GENESIS_HASH, audit_checkpoints, audit_head, audit_log, audit_records

EVERY = 5  # a checkpoint every five entries in these tests


@pytest.fixture
def audit(security: Security) -> AuditLog:
    return AuditLog(security.keys, checkpoint_every=EVERY)


def _fill(store: Store, audit: AuditLog, n: int) -> None:
    for i in range(1, n + 1):
        with store.writing() as conn:
            audit.append(conn, AuditEvent(actor="client:kemensos-pkh", role="client", purpose="eligibility",
                                          action="eligibility.check", records=(f"family:{i}",),
                                          region_code="32.04.05.2001", source="10.0.0.7", request_id=f"r{i}",
                                          detail={"programme": "pkh"}))


def _kinds(report: ChainReport) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in report.problems]


@contextlib.contextmanager
def tampering(store: Store) -> Iterator[sa.Connection]:
    """A write transaction with the append-only triggers out of the way (as a database
    administrator could do), to change the log behind the chain's back."""
    with store.writing() as conn:
        if store.dialect.name == "sqlite":
            for t in ("audit_log", "audit_records", "audit_checkpoints"):
                conn.exec_driver_sql(f"DROP TRIGGER {t}_no_update")
                conn.exec_driver_sql(f"DROP TRIGGER {t}_no_delete")
        else:
            for t in ("audit_log", "audit_records", "audit_checkpoints"):
                conn.exec_driver_sql(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        yield conn


def test_entry_hash_is_sha256_of_the_canonical_entry() -> None:
    row = {"seq": 1, "at": "2025-01-02T03:04:05.000006Z", "actor": "user:ani", "role": "regency_operator@32.04",
           "purpose": "ground_check", "action": "family.read", "records": '["family:45"]',
           "region_code": "32.04.05.2001", "source": "10.0.0.1", "outcome": "ok", "request_id": "abc",
           "detail": "{}"}
    text = ('{"action":"family.read","actor":"user:ani","at":"2025-01-02T03:04:05.000006Z","detail":"{}",'
            '"outcome":"ok","prev":"' + GENESIS_HASH + '","purpose":"ground_check","records":"[\\"family:45\\"]",'
            '"region_code":"32.04.05.2001","request_id":"abc","role":"regency_operator@32.04","seq":1,'
            '"source":"10.0.0.1"}')
    assert entry_hash(row, GENESIS_HASH) == hashlib.sha256(text.encode()).hexdigest()


def test_an_untouched_chain_verifies(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    report = audit.verify(store)
    assert report.ok, report.problems
    assert (report.entries, report.first, report.last) == (12, 1, 12)
    assert (report.checkpoints, report.last_checkpoint) == (2, 10)
    with store.reading() as conn:
        head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
        last = conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == 12)).scalar()
        first_prev = conn.execute(sa.select(audit_log.c.prev_hash).where(audit_log.c.seq == 1)).scalar()
    assert (head.seq, head.hash) == (12, last) and first_prev == GENESIS_HASH


def test_an_edited_entry_is_found(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        tamper.execute(sa.update(audit_log).where(audit_log.c.seq == 7).values(outcome="denied"))
    report = audit.verify(store)
    assert _kinds(report) == [(7, "edited")]
    assert "entry 7" in report.problems[0].message


def test_an_edited_and_rehashed_entry_breaks_the_next_link(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        row = dict(tamper.execute(sa.select(audit_log).where(audit_log.c.seq == 7)).mappings().one())
        row["records"] = json.dumps(["family:999"])
        tamper.execute(sa.update(audit_log).where(audit_log.c.seq == 7).values(
            records=row["records"], hash=entry_hash(row, row["prev_hash"])))
    report = audit.verify(store)
    assert _kinds(report) == [(8, "relinked")]


def test_a_rewritten_tail_is_caught_by_the_signed_checkpoint(store: Store, audit: AuditLog) -> None:
    """The attacker rewrites entry 7 and re-hashes every entry after it and the head: every link
    holds, but the checkpoints signed at 10 no longer match."""
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        rows = [dict(r) for r in tamper.execute(sa.select(audit_log).order_by(audit_log.c.seq)).mappings()]
        prev = rows[5]["hash"]
        for row in rows[6:]:
            if row["seq"] == 7:
                row["outcome"] = "denied"
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(row, prev)
            tamper.execute(sa.update(audit_log).where(audit_log.c.seq == row["seq"]).values(
                outcome=row["outcome"], prev_hash=row["prev_hash"], hash=row["hash"]))
        tamper.execute(sa.update(audit_head).values(hash=prev))
    report = audit.verify(store)
    assert _kinds(report) == [(10, "checkpoint")]
    assert "entries up to 10 were rewritten" in report.problems[0].message


def test_a_deleted_entry_is_found(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        tamper.execute(sa.delete(audit_records).where(audit_records.c.seq == 7))
        tamper.execute(sa.delete(audit_log).where(audit_log.c.seq == 7))
    report = audit.verify(store)
    assert _kinds(report) == [(7, "missing")]
    assert report.problems[0].message == "entry 7 is missing (deleted)"


def test_deleted_entries_at_the_end_are_found(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        tamper.execute(sa.delete(audit_records).where(audit_records.c.seq > 10))
        tamper.execute(sa.delete(audit_log).where(audit_log.c.seq > 10))
    report = audit.verify(store)
    assert _kinds(report) == [(12, "head")]
    assert "entries 11 to 12 were deleted" in report.problems[0].message


def test_reordered_entries_are_found(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        rows = {r["seq"]: dict(r) for r in tamper.execute(sa.select(audit_log).where(audit_log.c.seq.in_([7, 8])))
                .mappings()}
        for seq, other in ((7, 8), (8, 7)):
            values = {k: v for k, v in rows[other].items() if k != "seq"}
            tamper.execute(sa.update(audit_log).where(audit_log.c.seq == seq).values(**values))
    report = audit.verify(store)
    assert _kinds(report) == [(7, "edited"), (8, "edited"), (9, "relinked")]


def test_a_forged_checkpoint_signature_is_found(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 12)
    with tampering(store) as tamper:
        forged = "00" * 64
        tamper.execute(sa.update(audit_checkpoints).where(audit_checkpoints.c.seq == 5).values(signature=forged))
    report = audit.verify(store)
    assert _kinds(report) == [(5, "signature")]


def test_the_audit_tables_refuse_updates_and_deletes(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 3)
    for statement in (sa.update(audit_log).where(audit_log.c.seq == 2).values(outcome="denied"),
                      sa.delete(audit_log).where(audit_log.c.seq == 3),
                      sa.delete(audit_records)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.writing() as conn:
            conn.execute(statement)
    assert audit.verify(store).ok


def test_concurrent_writers_never_fork_the_chain(store: Store, audit: AuditLog) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                with store.writing() as conn:
                    audit.append(conn, AuditEvent(actor=f"client:c{n}", action="family.read",
                                                  records=(f"family:{n * 100 + i}",)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = audit.verify(store)
    assert report.ok, report.problems
    assert (report.entries, report.last, report.checkpoints) == (80, 80, 16)
    with store.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_records)).scalar() == 80


def test_several_events_in_one_append_are_consecutive(store: Store, audit: AuditLog) -> None:
    with store.writing() as conn:
        seqs = audit.append(conn, *(AuditEvent(actor="user:ani", action="family.read", records=(f"family:{i}",))
                                    for i in range(7)))
    assert seqs == [1, 2, 3, 4, 5, 6, 7]
    assert audit.verify(store).checkpoints == 1


def test_personal_identifiers_are_refused_and_keyed_references_are_stable(store: Store, audit: AuditLog) -> None:
    nik = "3204055203850002"
    for event in (AuditEvent(actor="user:ani", action="person.read", records=(f"nik:{nik}",)),
                  AuditEvent(actor="user:ani", action="person.read", detail={"query": "3204 0552 0385 0002"})):
        with pytest.raises(AuditError, match="NIK"), store.writing() as conn:
            audit.append(conn, event)
    ref = audit.keyed("nik", nik)
    assert ref == audit.keyed("nik", nik) and ref != audit.keyed("nik", "3204055203850003")
    assert ref.startswith("nik#") and nik not in ref and ref != audit.keyed("kk", nik)
    audit.record(store, AuditEvent(actor="user:ani", action="person.read", records=(ref,)))
    with store.reading() as conn:
        assert [e["records"] for e in audit.entries(conn, ref=ref)] == [[ref]]


def test_appends_only_inside_a_write_transaction(store: Store, audit: AuditLog) -> None:
    with pytest.raises(AuditError, match="writing"), store.reading() as conn:
        audit.append(conn, AuditEvent(actor="user:ani", action="family.read"))
    with pytest.raises(AuditError, match="outcome"):
        audit.record(store, AuditEvent(actor="user:ani", action="family.read", outcome="maybe"))


def test_the_tracker_query_finds_every_read_of_a_family(store: Store, audit: AuditLog) -> None:
    _fill(store, audit, 6)
    audit.record(store, AuditEvent(actor="client:bpjs", action="family.read", records=("family:3", "person:30")))
    with store.reading() as conn:
        reads = audit.entries(conn, ref="family:3")
    assert [(e["seq"], e["actor"]) for e in reads] == [(3, "client:kemensos-pkh"), (7, "client:bpjs")]
    assert reads[0]["detail"] == {"programme": "pkh"}


# -- group commit -----------------------------------------------------------------------------

def test_the_writer_commits_many_callers_entries_in_few_transactions(store: Store, audit: AuditLog) -> None:
    """While another transaction holds the chain, twenty callers queue; they are then written
    together (one timestamp per transaction), each caller gets its own entry numbers, and each
    entry is committed when its caller returns."""
    writer = AuditWriter(store, audit)
    results: dict[int, list[int]] = {}
    visible: dict[int, bool] = {}

    def caller(n: int) -> None:
        seqs = writer.record(AuditEvent(actor=f"client:c{n}", action="family.read", records=(f"family:{n}",)))
        results[n] = seqs
        with store.reading() as conn:
            visible[n] = conn.execute(sa.select(audit_log.c.actor).where(audit_log.c.seq == seqs[0])).scalar() \
                == f"client:c{n}"

    with store.writing() as holder:
        holder.execute(sa.select(audit_head).with_for_update()).one()
        threads = [threading.Thread(target=caller, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for _ in range(500):  # wait until the callers have queued (the writer holds the first)
            if writer._queue.qsize() >= 19:
                break
            time.sleep(0.01)
    for t in threads:
        t.join()
    writer.close()
    assert sorted(s for seqs in results.values() for s in seqs) == list(range(1, 21))
    assert all(visible.values()) and len(visible) == 20
    with store.reading() as conn:
        transactions = conn.execute(sa.select(sa.func.count(sa.distinct(audit_log.c.at)))).scalar()
    assert transactions is not None and transactions <= 3
    assert audit.verify(store).ok


def test_the_writer_refuses_bad_entries_in_the_callers_thread(store: Store, audit: AuditLog) -> None:
    writer = AuditWriter(store, audit)
    with pytest.raises(AuditError, match="NIK"):
        writer.record(AuditEvent(actor="user:ani", action="person.read", records=("nik:3204055203850002",)))
    assert writer.record(AuditEvent(actor="user:ani", action="person.read")) == [1]
    writer.close()
    with pytest.raises(StoreError, match="closed"):
        writer.record(AuditEvent(actor="user:ani", action="person.read"))


def test_a_failed_transaction_reaches_every_caller(empty_store_url: str, tmp_path: Path) -> None:
    broken = Store.open(empty_store_url)  # no tables: the append fails in the database
    writer = AuditWriter(broken, AuditLog(KeyStore(tmp_path / "keys")))
    try:
        with pytest.raises(sa.exc.DatabaseError):
            writer.record(AuditEvent(actor="user:ani", action="person.read"))
    finally:
        writer.close()
        broken.dispose()
