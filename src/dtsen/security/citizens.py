"""Citizens: proving who they are, and who read their family's data (the data tracker).

`prove_citizen(security, handle, nik, kk, name, source)`: a citizen states their NIK, their
family's KK and their name; the proof holds when a living person with that NIK is in the served
release, belongs to the family with that KK, and the name agrees with the registry's after the
standardisation ingest applies (titles and degrees dropped, Muhammad unified, spacing and
punctuation folded: `dtsen.standardize.names`), or has the same phonetic key. The answer is a
citizen session limited to that family (`Authenticator.citizen_session`). A failed proof says
nothing about which part failed, and is counted like a failed login: per NIK (a keyed hash, never
the NIK) and per address, `security.max_failed_logins` / `security.max_failed_per_source` failures
lock it out for `security.lockout_minutes` (`dtsen.security.lockout`). Every attempt is an entry of
the audit chain (`citizen.prove`).

`access_history(security, refs, ...)`: the audit entries that read the given records (the family
and its members, `family:45`, `person:7`), newest first, as a citizen may see them: who (an agency
by its registered name, staff by their role and region, never a person's name), when, for which
purpose, what. Entries about other families are never returned; entries that read nothing
(denials, failed attempts) and the citizen's own looks at the tracker are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from dtsen.security.audit import AuditEvent
from dtsen.security.context import Security
from dtsen.security.errors import AuthenticationError
from dtsen.security.lockout import Lockout
from dtsen.security.tokens import IssuedToken
from dtsen.store.tables import audit_log, audit_records, clients

PROOF_FAILED = ("data tidak cocok dengan registri / the details do not match the registry: check the NIK, the "
                "KK number and the name as written on the family card")
SESSION_MINUTES = 30
HIDDEN_ACTIONS = ("tracker.read", "citizen.prove")


def standardized_names(names: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """(standardized name, phonetic key) of each name, as ingest standardizes them."""
    from dtsen.serve.welfare import local_engine
    from dtsen.standardize.names import standardize_name

    eng = local_engine()
    t = eng.from_arrow(pa.table({"_i": pa.array(range(len(names)), pa.int64()),
                                 "_v": pa.array(list(names), pa.string())}), name="_citizen_names")
    parts = standardize_name(t._v)
    rows = t.select("_i", name=parts.name, phonetic=parts.phonetic).order_by("_i").to_pyarrow().to_pylist()
    return [(r["name"], r["phonetic"]) for r in rows]


def names_agree(given: str, registry: str | None) -> bool:
    if not registry or not given.strip():
        return False
    (a, pa_), (b, pb) = standardized_names([given, registry])
    return bool(a) and (a == b or (pa_ is not None and pa_ == pb))


def _proof(handle: Any, nik: str, kk: str, name: str) -> int | None:
    """The family the details prove, or None."""
    from dtsen.serve.lookups import clean_identifier, family_by_kk, persons_by_nik

    try:
        nik, kk = clean_identifier(nik), clean_identifier(kk, "KK")
    except Exception:
        return None
    family = family_by_kk(handle, kk)
    if family is None:
        return None
    for person in persons_by_nik(handle, nik):
        if person.family_id == family.family.family_id and not person.is_deceased \
                and names_agree(name, person.full_name):
            return family.family.family_id
    return None


def prove_citizen(security: Security, handle: Any, nik: str, kk: str, name: str, source: str,
                  request_id: str = "") -> tuple[IssuedToken, int]:
    """A citizen session and the family it is for; AuthenticationError when the details do not
    prove a family, LockedOutError after too many failures (see the module docstring)."""
    lockout = Lockout(security.settings.security, security.audit.clock)
    subject = security.keys.keyed_hash("citizen-proof", "".join(ch for ch in nik if ch.isdigit()))[:32]
    with security.store.reading() as conn:
        lockout.check(conn, subject, source)
    family_id = _proof(handle, nik, kk, name)
    with security.store.writing() as conn:
        lockout.record(conn, "citizen", subject, source, "ok" if family_id is not None else "unknown")
        security.audit.append(conn, AuditEvent(
            actor="citizen:unproven" if family_id is None else f"citizen:family:{family_id}", action="citizen.prove",
            outcome="ok" if family_id is not None else "failed", source=source, request_id=request_id,
            records=(f"family:{family_id}",) if family_id is not None else (security.audit.keyed("nik", nik),),
            detail={"release_id": handle.release_id}))
    if family_id is None:
        raise AuthenticationError(PROOF_FAILED)
    return security.auth.citizen_session(family_id, source, SESSION_MINUTES), family_id


@dataclass(frozen=True)
class AccessEntry:
    seq: int
    accessed_at: str
    accessed_by: str
    access_purpose: str
    access_action: str

    def row(self) -> dict[str, Any]:
        return {"seq": self.seq, "accessed_at": self.accessed_at, "accessed_by": self.accessed_by,
                "access_purpose": self.access_purpose, "access_action": self.access_action}


def _who(security: Security, actor: str, role: str, names: dict[str, str], own: str) -> str:
    roles = security.policy.table.roles
    if actor.startswith("client:"):
        return names.get(actor[7:], actor[7:])
    if actor.startswith("citizen:"):
        return "Anda atau anggota keluarga Anda / you or a member of your family" if actor == own else "warga / a citizen"
    parts = []
    for label in role.split(","):
        name, _, region = label.partition("@")
        spec = roles.get(name)
        parts.append((spec.label if spec else name) + (f" ({region})" if region else ""))
    return "; ".join(p for p in parts if p) or "petugas / staff"


def access_history(security: Security, refs: Sequence[str], own: str, *, before: int | None = None,
                   limit: int = 50) -> tuple[list[AccessEntry], int | None]:
    """The entries that read `refs`, newest first, and the `before` of the next page (None: none)."""
    if not refs:
        return [], None
    log, rec = audit_log, audit_records
    touching = sa.select(rec.c.seq).where(rec.c.ref.in_(list(refs)))
    q = (sa.select(log.c.seq, log.c.at, log.c.actor, log.c.role, log.c.purpose, log.c.action)
         .where(log.c.seq.in_(touching), log.c.outcome == "ok", log.c.action.not_in(HIDDEN_ACTIONS))
         .order_by(log.c.seq.desc()).limit(limit + 1))
    if before is not None:
        q = q.where(log.c.seq < before)
    with security.store.reading() as conn:
        rows = conn.execute(q).all()
        ids = sorted({r.actor[7:] for r in rows if r.actor.startswith("client:")})
        names = dict(conn.execute(sa.select(clients.c.client_id, clients.c.name)
                                  .where(clients.c.client_id.in_(ids))).all()) if ids else {}
    table = security.policy.table
    out = [AccessEntry(
        seq=int(r.seq), accessed_at=str(r.at), accessed_by=_who(security, r.actor, r.role, names, own),
        access_purpose=table.purposes[r.purpose].label if r.purpose in table.purposes else r.purpose,
        access_action=table.actions[r.action].label if r.action in table.actions else r.action)
        for r in rows[:limit]]
    return out, (out[-1].seq if len(rows) > limit else None)

