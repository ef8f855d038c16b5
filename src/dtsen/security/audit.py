"""The audit chain: every read of personal data and every change, append-only, tamper-evident.

Each entry records who (actor and role), for which purpose, what action, which records (as ids
such as `family:45` or keyed references such as `nik#3fa4...`, never a plain NIK), where from,
when, and the outcome. Entry n carries the SHA-256 of entry n-1 (`prev_hash`) and its own hash
over all its fields, so that editing, deleting or reordering an entry breaks the chain at that
entry. Every `security.audit_checkpoint_every` entries an Ed25519 signature over (n, hash) is
stored, so that even rewriting the whole chain after an entry is found, up to the last checkpoint.

Appends are serialised: each append runs inside the caller's write transaction (so a change and
its audit entry commit together), locks the one-row `audit_head` (`SELECT ... FOR UPDATE` on
PostgreSQL; SQLite's write transactions are already exclusive), numbers its entries after the
head, and moves the head. Two writers therefore never fork the chain. In the database the audit
tables are append-only (triggers refuse UPDATE and DELETE).

`verify` walks the chain in order and says where it is broken (entry numbers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dtsen.security.clock import Clock, utcnow
from dtsen.security.errors import AuditError
from dtsen.security.keys import KeyStore, key_id
from dtsen.security.masking import has_identifier
from dtsen.store.connection import Store, is_writing
from dtsen.store.tables import GENESIS_HASH, audit_checkpoints, audit_head, audit_log, audit_records

OUTCOMES = ("ok", "denied", "failed", "error")
_FIELDS = ("seq", "at", "actor", "role", "purpose", "action", "records", "region_code", "source", "outcome",
           "request_id", "detail")


@dataclass(frozen=True)
class AuditEvent:
    """One thing to record. `records` are references (`family:45`, `person:7`, or keyed ones from
    `AuditLog.keyed`); `detail` is a small JSON object without personal data."""

    actor: str
    action: str
    outcome: str = "ok"
    role: str = ""
    purpose: str = ""
    records: tuple[str, ...] = ()
    region_code: str = ""
    source: str = ""
    request_id: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 of an entry's fields (as stored) and the previous entry's hash."""
    payload = {name: row[name] for name in _FIELDS}
    payload["prev"] = prev_hash
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def checkpoint_message(seq: int, hash_: str) -> bytes:
    return f"dtsen-audit-checkpoint\n{seq}\n{hash_}".encode()


def _timestamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # missing | edited | relinked | checkpoint | signature | head
    message: str


@dataclass
class ChainReport:
    entries: int = 0
    first: int | None = None
    last: int | None = None
    checkpoints: int = 0
    last_checkpoint: int | None = None
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    """Appends to and verifies the audit chain of one store."""

    def __init__(self, keys: KeyStore, checkpoint_every: int = 1000, clock: Clock = utcnow) -> None:
        self.keys = keys
        self.checkpoint_every = checkpoint_every
        self.clock = clock

    def keyed(self, kind: str, value: str) -> str:
        """A keyed reference to an identifier (`nik#...`, `kk#...`): the same value always gives
        the same reference, which reveals nothing without the key."""
        return f"{kind}#{self.keys.keyed_hash('audit-ref:' + kind, value)[:32]}"

    # -- append -------------------------------------------------------------------------------
    def append(self, conn: sa.Connection, *events: AuditEvent) -> list[int]:
        """Append `events` in the caller's write transaction; their entry numbers."""
        if not events:
            return []
        if not is_writing(conn):
            raise AuditError("audit entries are appended inside `store.writing()`, with the change they record")
        rows = [self._row(e) for e in events]
        head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                            .with_for_update()).one()
        seq, prev = int(head.seq), str(head.hash)
        at = _timestamp(self.clock())
        checkpoints = []
        refs = []
        for row in rows:
            seq += 1
            row.update(seq=seq, at=at)
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(row, prev)
            refs += [{"seq": seq, "ref": r} for r in dict.fromkeys(json.loads(row["records"]))]
            if seq % self.checkpoint_every == 0:
                checkpoints.append(self._checkpoint(seq, prev, at))
        conn.execute(sa.insert(audit_log), rows)
        if refs:
            conn.execute(sa.insert(audit_records), refs)
        if checkpoints:
            conn.execute(sa.insert(audit_checkpoints), checkpoints)
        conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
        return [int(r["seq"]) for r in rows]

    def record(self, store: Store, *events: AuditEvent) -> list[int]:
        """Append `events` in a transaction of their own (the service groups many requests'
        entries into one transaction with `dtsen.security.audit_writer.AuditWriter`)."""
        with store.writing() as conn:
            return self.append(conn, *events)

    def check(self, event: AuditEvent) -> None:
        """AuditError if `event` cannot be appended (personal identifiers, unknown outcome)."""
        self._row(event)

    def _row(self, e: AuditEvent) -> dict[str, Any]:
        if e.outcome not in OUTCOMES:
            raise AuditError(f"audit outcome {e.outcome!r} is not one of {', '.join(OUTCOMES)}")
        row: dict[str, Any] = {
            "actor": e.actor[:100], "role": e.role[:200], "purpose": e.purpose[:40], "action": e.action[:60],
            "records": _canonical(list(e.records)), "region_code": (e.region_code or "")[:13],
            "source": e.source[:64], "outcome": e.outcome, "request_id": e.request_id[:40],
            "detail": _canonical(dict(e.detail)),
        }
        for name, value in row.items():
            # the request id is dtsen's own random hex, which can hold 16 digits in a row by chance
            if name != "request_id" and has_identifier(str(value)):
                raise AuditError(f"audit field {name!r} holds something shaped like a NIK or KK number; "
                                 "record identifiers with AuditLog.keyed(...) or as record ids")
        if any(len(r) > 80 for r in e.records):
            raise AuditError("an audit record reference is longer than 80 characters")
        return row

    def _checkpoint(self, seq: int, hash_: str, at: str) -> dict[str, Any]:
        signer = self.keys.audit_signer()
        signature = signer.sign(checkpoint_message(seq, hash_)).hex()
        return {"seq": seq, "hash": hash_, "at": at, "key_id": key_id(signer.public_key()), "signature": signature}

    # -- read ---------------------------------------------------------------------------------
    def entries(self, conn: sa.Connection, *, ref: str | None = None, after: int = 0,
                limit: int = 100) -> list[dict[str, Any]]:
        """Entries in order (those touching `ref`, if given), for the auditor and the tracker."""
        q = sa.select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)
        if ref is not None:
            q = q.where(audit_log.c.seq.in_(sa.select(audit_records.c.seq).where(audit_records.c.ref == ref)))
        out = []
        for row in conn.execute(q).mappings():
            d = dict(row)
            d["records"] = json.loads(d["records"])
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out

    # -- verify -------------------------------------------------------------------------------
    def verify(self, store: Store, public_keys: Iterable[Ed25519PublicKey] = (), batch: int = 5000) -> ChainReport:
        """Walk the whole chain; every place it is broken, by entry number."""
        keys = {key_id(k): k for k in (*public_keys, self.keys.audit_public_key())}
        report = ChainReport()
        with store.reading() as conn:
            checkpoints = {int(r.seq): r for r in conn.execute(sa.select(audit_checkpoints))}
            head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
            expected, prev, after = 1, GENESIS_HASH, -1
            resync = False
            while True:
                rows = conn.execute(sa.select(audit_log).where(audit_log.c.seq > after)
                                    .order_by(audit_log.c.seq).limit(batch)).mappings().all()
                if not rows:
                    break
                for row in rows:
                    seq = int(row["seq"])
                    after = seq
                    report.entries += 1
                    report.first = seq if report.first is None else report.first
                    report.last = seq
                    if seq != expected:
                        span = str(expected) if seq - 1 == expected else f"{expected} to {seq - 1}"
                        report.problems.append(ChainProblem(expected, "missing",
                                               f"entry {span} is missing (deleted)" if seq - 1 == expected
                                               else f"entries {span} are missing (deleted)"))
                        resync = True
                    if entry_hash(dict(row), str(row["prev_hash"])) != row["hash"]:
                        report.problems.append(ChainProblem(seq, "edited", f"entry {seq}: its content does not "
                                               "match its hash (edited, or moved here from another position)"))
                    elif row["prev_hash"] != prev and not resync:
                        report.problems.append(ChainProblem(seq, "relinked", f"entry {seq} does not follow entry "
                                               f"{seq - 1}: an entry before it was replaced, or entries reordered"))
                    resync = False
                    cp = checkpoints.pop(seq, None)
                    if cp is not None:
                        report.checkpoints += 1
                        report.last_checkpoint = seq
                        self._check_checkpoint(cp, str(row["hash"]), keys, report)
                    prev, expected = str(row["hash"]), seq + 1
            for seq in sorted(checkpoints):
                report.problems.append(ChainProblem(seq, "missing", f"a checkpoint was signed at entry {seq}, "
                                       "which is no longer in the log (deleted)"))
            last_seq, last_hash = (report.last or 0), prev
            if head is not None and (int(head.seq), str(head.hash)) != (last_seq, last_hash):
                if int(head.seq) > last_seq:
                    msg = (f"the log ends at entry {last_seq} but its head records entry {head.seq}: "
                           f"entries {last_seq + 1} to {head.seq} were deleted")
                else:
                    msg = (f"the head records entry {head.seq} but the log ends at entry {last_seq}: "
                           "entries were added or changed outside the chain")
                report.problems.append(ChainProblem(int(head.seq), "head", msg))
        report.problems.sort(key=lambda p: p.seq)
        return report

    @staticmethod
    def _check_checkpoint(cp: Any, hash_: str, keys: Mapping[str, Ed25519PublicKey], report: ChainReport) -> None:
        seq = int(cp.seq)
        key = keys.get(str(cp.key_id))
        if key is None:
            report.problems.append(ChainProblem(seq, "signature", f"the checkpoint at entry {seq} is signed by key "
                                   f"{cp.key_id}, which is not one of the known audit keys"))
            return
        try:
            key.verify(bytes.fromhex(str(cp.signature)), checkpoint_message(seq, str(cp.hash)))
        except (InvalidSignature, ValueError):
            report.problems.append(ChainProblem(seq, "signature", f"the checkpoint at entry {seq} has an invalid "
                                   "signature (forged or altered)"))
            return
        if cp.hash != hash_:
            report.problems.append(ChainProblem(seq, "checkpoint", f"the signed checkpoint at entry {seq} does not "
                                   f"match the chain: entries up to {seq} were rewritten"))

