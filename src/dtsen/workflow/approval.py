"""The approval is a signature: the kepala daerah (or a delegate) signs a batch of verified cases.

    compose(wf, access, "case_work", "32.04", [12, 15, 19])  # dinas sosial: a draft batch
    view(wf, access, "case_work", batch_id)                 # what will change, family by family
    sign(wf, access, "case_work", batch_id)                 # the approver: signed, cases approved
    verify(conn, keys, batch_row)                           # [] when the batch may enter a build

A batch's content is canonical JSON (`content`: the batch id, its region, and per case its id,
type, family and changes), fixed when the batch is composed. Signing checks that the cases are
still exactly what was composed, signs `dtsen-approval-batch\\n<id>\\n<sha256 of the content>`
with the approver's own Ed25519 key (`approver-<username>.pem` in the service's key directory,
created owner-only on first use by `dtsen.security.keys.KeyStore.signing_key`), records the
signature in the audit chain, and moves every case to `approved`, all in one transaction.

`verify` is what the export asks before a batch may enter a build: the stored content still
hashes to the signed hash; the signature verifies with the approver's public key as kept in the
key directory (`approver-<username>.pub.pem`, so that someone who can write to the store alone
cannot slip in a key of their own) and as registered in the store; the audit entry of the
signing holds the same hash and signature; the batch holds exactly the cases it signed; and each
of those cases still carries exactly the changes that were signed. Anything else refuses it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from dtsen.errors import Problem
from dtsen.security.errors import AccessDenied
from dtsen.security.keys import KeyStore, key_id
from dtsen.security.policy import Resource
from dtsen.security.principal import within
from dtsen.store.tables import approval_batches, approver_keys, audit_log, batch_cases, cases, users
from dtsen.workflow import cases as case_rows
from dtsen.workflow import notices
from dtsen.workflow.cases import case_label
from dtsen.workflow.changes import canonical, content_hash
from dtsen.workflow.errors import BatchRefused, CaseConflict, CaseNotFound, InvalidCaseInput
from dtsen.workflow.guards import Facts, unmet
from dtsen.workflow.service import Actor, Workflow

if TYPE_CHECKING:
    from dtsen.api.access import Access

FORMAT = "dtsen-approval-batch/1"


def batch_label(batch_id: int) -> str:
    return f"B-{batch_id:06d}"


def approver_key_name(username: str) -> str:
    return f"approver-{username}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_message(batch_id: int, hash_: str) -> bytes:
    return f"dtsen-approval-batch\n{batch_id}\n{hash_}".encode()


def content(batch_id: int, region: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The canonical content of a batch: what is signed."""
    return {
        "format": FORMAT, "batch": batch_id, "region": region,
        "cases": [{"case": int(r["id"]), "case_type": r["case_type"], "kind": r["kind"], "family_id": r["family_id"],
                   "region_code": r["region_code"], "visited_on": (r["visit"] or {}).get("visited_on"),
                   "changes": r["changes"] or []}
                  for r in sorted(rows, key=lambda r: int(r["id"]))],
    }


class ComposeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(pattern=r"^\d{2}(\.\d{2})?$", description="The province or regency the batch is for.")
    case_ids: list[int] = Field(min_length=1, max_length=500)


class FieldChange(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class ChangeView(BaseModel):
    entity: str
    family_id: int | None
    person_id: int | None
    new: bool
    name: str | None = Field(None, description="The person's name (person changes).")
    fields: list[FieldChange]


class BatchCaseView(BaseModel):
    id: int
    label: str
    case_type: str
    kind: str
    family_id: int | None
    region_code: str
    state: str
    changes: list[ChangeView]


class BatchView(BaseModel):
    id: int
    label: str
    region: str
    status: str
    created_by: str
    created_at: dt.datetime
    content_hash: str
    signed_by: str | None
    signed_at: dt.datetime | None
    key_id: str | None
    signature: str | None
    audit_seq: int | None
    cases: list[BatchCaseView]


def _cases(conn: sa.Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(cases).where(cases.c.id.in_(list(ids)))
                                          .order_by(cases.c.id)).mappings()]


def _batch(conn: sa.Connection, batch_id: int, for_update: bool = False) -> dict[str, Any]:
    q = sa.select(approval_batches).where(approval_batches.c.id == batch_id)
    row = conn.execute(q.with_for_update() if for_update else q).mappings().first()
    if row is None:
        raise CaseNotFound(f"paket {batch_label(batch_id)} tidak ada / no batch {batch_label(batch_id)}")
    return dict(row)


def compose(wf: Workflow, access: Access, purpose: str, body: ComposeBody) -> BatchView:
    """A draft batch of verified cases (state `approval`) of one region, for its approver."""
    access.require("batch.create", purpose, Resource(region_code=body.region), records=[])
    ids = sorted(set(body.case_ids))
    with wf.store.reading() as conn:
        rows = _cases(conn, ids)
    problems: list[Problem] = []
    found = {int(r["id"]) for r in rows}
    problems += [Problem(f"{case_label(i)} does not exist", where="case_ids") for i in ids if i not in found]
    for r in rows:
        where = case_label(int(r["id"]))
        if not within(r["region_code"], body.region):
            problems.append(Problem(f"lies outside {body.region}", where=where))
        if r["state"] != "approval":
            problems.append(Problem(f"is not awaiting approval (state {r['state']})", where=where))
        if r["batch_id"] is not None:
            problems.append(Problem(f"is already in {batch_label(int(r['batch_id']))}", where=where))
    if problems:
        raise InvalidCaseInput("paket tidak dapat disusun / the batch cannot be composed", problems)
    now = wf.clock()
    records = [f"case:{i}" for i in ids]
    with wf.store.writing() as conn:
        batch_id = case_rows.new_id(conn.execute(sa.insert(approval_batches).values(
            region_prefix=body.region, status="draft", created_by=access.principal.ref[:100], created_at=now,
            content_hash="", canonical="")))
        locked = [dict(r) for r in conn.execute(sa.select(cases).where(cases.c.id.in_(ids)).with_for_update()
                                                .order_by(cases.c.id)).mappings()]
        if any(r["batch_id"] is not None or r["state"] != "approval" for r in locked):
            raise CaseConflict("a case of the batch changed meanwhile; compose it again")
        text = canonical(content(batch_id, body.region, locked))
        conn.execute(sa.update(approval_batches).where(approval_batches.c.id == batch_id)
                     .values(content_hash=content_hash(text), canonical=text))
        conn.execute(sa.insert(batch_cases), [{"batch_id": batch_id, "case_id": i} for i in ids])
        conn.execute(sa.update(cases).where(cases.c.id.in_(ids)).values(batch_id=batch_id))
        access.record("batch.create", purpose, [f"batch:{batch_id}", *records], region_code=body.region,
                      detail={"batch": batch_id, "cases": len(ids)}, conn=conn)
        notices.batch_waiting(conn, wf.keys, wf.policy.table, batch_id, body.region, len(ids), now)
    return view(wf, access, purpose, batch_id)


def view(wf: Workflow, access: Access, purpose: str, batch_id: int, *, record: bool = True) -> BatchView:
    """A batch with, per case, what changes: each field before (in the current release) and after."""
    with wf.store.reading() as conn:
        batch = _batch(conn, batch_id)
        signer = batch["signed_by"]
    decision = access.require("batch.read", purpose, Resource(region_code=batch["region_prefix"]),
                              records=[f"batch:{batch_id}"])
    body = json.loads(batch["canonical"]) if batch["canonical"] else {"cases": []}
    with wf.store.reading() as conn:
        states = {int(r["id"]): r["state"] for r in _cases(conn, [c["case"] for c in body["cases"]])}
    try:
        registry = wf.registry()
    except Exception:
        registry = None
    out_cases = []
    for c in body["cases"]:
        family = registry.family(int(c["family_id"])) if registry is not None and c["family_id"] else None
        changes = []
        for ch in c["changes"]:
            person = family.member(int(ch["person_id"])) if family is not None and ch.get("person_id") else None
            before: Mapping[str, Any] = {}
            if ch["entity"] == "family" and family is not None:
                before = {**family.values, "region_code": family.region_code, "address": family.address,
                          "rt": family.rt, "rw": family.rw}
            elif person is not None:
                before = {"region_code": person.region_code, "address": person.address, "rt": person.rt,
                          "rw": person.rw, "is_deceased": person.is_deceased, "relationship": person.relationship}
            name = (ch.get("identity") or {}).get("full_name") if "identity" in decision.fields or \
                "case_detail" in decision.fields else None
            changes.append(ChangeView(
                entity=ch["entity"], family_id=ch.get("family_id"), person_id=ch.get("person_id"),
                new=(ch.get("family_id") if ch["entity"] == "family" else ch.get("person_id")) is None, name=name,
                fields=[FieldChange(field=k, before=before.get(k), after=v) for k, v in sorted(ch["fields"].items())]))
        out_cases.append(BatchCaseView(id=c["case"], label=case_label(c["case"]), case_type=c["case_type"],
                                       kind=c["kind"], family_id=c["family_id"], region_code=c["region_code"],
                                       state=states.get(int(c["case"]), "?"), changes=changes))
    if record:
        access.record("batch.read", purpose, [f"batch:{batch_id}", *(f"case:{c['case']}" for c in body["cases"])],
                      decision=decision, region_code=batch["region_prefix"])
    return BatchView(id=batch["id"], label=batch_label(batch["id"]), region=batch["region_prefix"],
                     status=batch["status"], created_by=batch["created_by"], created_at=batch["created_at"],
                     content_hash=batch["content_hash"], signed_by=signer, signed_at=batch["signed_at"],
                     key_id=batch["key_id"], signature=batch["signature"], audit_seq=batch["audit_seq"],
                     cases=out_cases)


def batches(wf: Workflow, access: Access, purpose: str, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Batches within the caller's scope (newest first), without their content."""
    from dtsen.workflow.cases import region_filter

    scope = access.scope("batch.list", purpose)
    b = approval_batches.c
    q = sa.select(b.id, b.region_prefix, b.status, b.created_by, b.created_at, b.signed_by, b.signed_at,
                  sa.func.count(batch_cases.c.case_id).label("cases")) \
        .join(batch_cases, batch_cases.c.batch_id == b.id, isouter=True) \
        .where(region_filter(b.region_prefix, scope.region_prefixes)) \
        .group_by(b.id, b.region_prefix, b.status, b.created_by, b.created_at, b.signed_by, b.signed_at) \
        .order_by(b.id.desc()).limit(limit)
    if status:
        q = q.where(b.status == status)
    with wf.store.reading() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r["label"] = batch_label(int(r["id"]))
    access.record("batch.list", purpose, [f"batch:{r['id']}" for r in rows], detail={"returned": len(rows)})
    return rows


def _register_key(conn: sa.Connection, user_id: int, public: Ed25519PublicKey, now: dt.datetime) -> str:
    kid = key_id(public)
    if conn.execute(sa.select(approver_keys.c.key_id).where(approver_keys.c.key_id == kid)).first() is None:
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        conn.execute(sa.insert(approver_keys).values(key_id=kid, user_id=user_id, public_key=pem.decode(),
                                                     created_at=now))
    return kid


def sign(wf: Workflow, access: Access, purpose: str, batch_id: int) -> BatchView:
    """Sign a draft batch: the approver's Ed25519 signature over its content hash, recorded in
    the audit chain, and every case of it approved, in one transaction."""
    principal = access.principal
    with wf.store.reading() as conn:
        batch = _batch(conn, batch_id)
        ids = [int(i) for i in conn.execute(sa.select(batch_cases.c.case_id)
                                            .where(batch_cases.c.batch_id == batch_id)).scalars()]
        rows = _cases(conn, ids)
    records = [f"batch:{batch_id}", *(f"case:{i}" for i in ids)]
    decision = access.require("batch.sign", purpose, Resource(region_code=batch["region_prefix"]), records=records)
    if principal.kind != "user" or principal.id is None:
        raise AccessDenied("akses ditolak / access denied: a batch is signed by a person's account")
    if batch["status"] != "draft":
        raise CaseConflict(f"paket {batch_label(batch_id)} berstatus {batch['status']} / the batch is {batch['status']}, "
                           "not a draft")
    text = canonical(content(batch_id, batch["region_prefix"], rows))
    if text != batch["canonical"] or content_hash(text) != batch["content_hash"]:
        raise BatchRefused(f"paket {batch_label(batch_id)} berubah sejak disusun / the batch's cases changed since it "
                           "was composed: compose it again")
    transitions = []
    for r in rows:
        resource = Resource(region_code=r["region_code"], family_id=r["family_id"])
        roles = wf.roles_on(principal, "case.approve", purpose, resource)
        t = next((t for t in wf.machine.rows(r["state"], "approve", r["case_type"]) if t.roles & roles), None)
        if t is None:
            wf.deny(access, "case.approve", purpose, [f"case:{r['id']}"], r["region_code"],
                     f"{case_label(int(r['id']))} cannot be approved by this caller in state {r['state']}")
        assert t is not None
        transitions.append((r, t))
    key = wf.keys.signing_key(approver_key_name(principal.name))
    hash_ = batch["content_hash"]
    signature = key.sign(signed_message(batch_id, hash_))
    now = wf.clock()
    labels = ",".join(decision.grants)
    with wf.store.writing() as conn:
        locked = _batch(conn, batch_id, for_update=True)
        if locked["status"] != "draft" or locked["canonical"] != text:
            raise CaseConflict("the batch changed meanwhile; read it again")
        kid = _register_key(conn, principal.id, key.public_key(), now)
        # hash, signature and key id in base64: hex digits can run to 16 in a row, which the audit
        # chain refuses as a possible NIK
        seq = access.record("batch.sign", purpose, records, decision=decision, region_code=batch["region_prefix"],
                            detail={"batch": batch_id, "content_sha256": _b64(bytes.fromhex(hash_)),
                                    "signature": _b64(signature), "key": _b64(bytes.fromhex(kid)), "cases": len(rows)}, conn=conn)
        conn.execute(sa.update(approval_batches).where(approval_batches.c.id == batch_id).values(
            status="signed", signed_by=principal.ref[:100], signer_role=labels[:200], key_id=kid,
            signature=signature.hex(), signed_at=now, audit_seq=seq))
        actor = Actor(principal.ref, labels, principal.id)
        for r, t in transitions:
            def audit(c: sa.Connection, detail: Mapping[str, Any], r: Mapping[str, Any] = r) -> int:
                return access.record("case.approve", purpose, wf.records_of(r), region_code=r["region_code"],
                                     detail={**detail, "batch": batch_id}, conn=c)

            missing = unmet(t.requires, Facts(case=r, in_signed_batch=True))
            if missing:
                raise InvalidCaseInput(f"{case_label(int(r['id']))} cannot be approved", [Problem(m) for m in missing])
            wf.commit(conn, r, t, actor, {}, None, audit)
    return view(wf, access, purpose, batch_id, record=False)


def verify(conn: sa.Connection, keys: KeyStore, batch: Mapping[str, Any]) -> list[str]:
    """Why a signed batch may not enter a build (empty: it may); see the module docstring."""
    label = batch_label(int(batch["id"]))
    problems: list[str] = []
    if batch["status"] != "signed" or not batch["signature"]:
        return [f"{label} is not signed"]
    text = str(batch["canonical"])
    if content_hash(text) != batch["content_hash"]:
        problems.append(f"{label}: its content was changed after signing (hash differs from the signed one)")
    row = conn.execute(sa.select(approver_keys.c.public_key, users.c.username)
                       .join(users, users.c.id == approver_keys.c.user_id)
                       .where(approver_keys.c.key_id == batch["key_id"])).first()
    public_file = keys.public_key(approver_key_name(row.username)) if row is not None else None
    if row is None or public_file is None or key_id(public_file) != batch["key_id"]:
        problems.append(f"{label}: signed with key {batch['key_id']}, which is not an approver's key in "
                        f"{keys.directory}")
    else:
        try:
            public_file.verify(bytes.fromhex(str(batch["signature"])), signed_message(int(batch["id"]),
                                                                                      str(batch["content_hash"])))
        except (InvalidSignature, ValueError):
            problems.append(f"{label}: the signature does not verify (content or signature altered)")
        if f"user:{row.username}" != batch["signed_by"]:
            problems.append(f"{label}: signed_by does not name the key's holder")
    entry = conn.execute(sa.select(audit_log.c.action, audit_log.c.detail)
                         .where(audit_log.c.seq == batch["audit_seq"])).first()
    detail = json.loads(entry.detail) if entry is not None else {}
    if entry is None or entry.action != "batch.sign" or detail.get("batch") != batch["id"] \
            or detail.get("content_sha256") != _b64(bytes.fromhex(str(batch["content_hash"]))) \
            or detail.get("signature") != _b64(bytes.fromhex(str(batch["signature"]))):
        problems.append(f"{label}: the audit chain does not hold this signature (entry {batch['audit_seq']})")
    try:
        body = json.loads(text)
    except ValueError:
        return [*problems, f"{label}: its content is not JSON"]
    signed_ids = sorted(int(c["case"]) for c in body.get("cases", []))
    held = sorted(int(i) for i in conn.execute(sa.select(batch_cases.c.case_id)
                                               .where(batch_cases.c.batch_id == batch["id"])).scalars())
    if signed_ids != held:
        problems.append(f"{label}: the cases it holds are not the cases that were signed")
    now_rows = {int(r["id"]): r for r in _cases(conn, signed_ids)}
    for c in body.get("cases", []):
        r = now_rows.get(int(c["case"]))
        if r is None:
            problems.append(f"{label}: {case_label(int(c['case']))} is gone")
        elif r["state"] in ("approved", "released") and canonical(r["changes"] or []) != canonical(c["changes"]):
            problems.append(f"{label}: the changes of {case_label(int(c['case']))} were altered after signing")
    return problems
