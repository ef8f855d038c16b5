"""The guards a transition of the state machine may require (`requires = [...]` in machine.toml).

Each guard looks at `Facts` (what the transition code found out about the case, the request and
the actor) and answers None when it holds, or what is missing, in Bahasa Indonesia and English.
The table of names is what `dtsen.workflow.machine` checks a machine file against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Facts:
    """What the guards of one transition look at."""

    case: dict[str, Any]  # the case row
    reason: str | None = None  # the reason given with the request
    musdes: dict[str, Any] | None = None  # the village meeting's record, if sent
    minutes_ids: frozenset[int] = frozenset()  # ids of the case's uploaded minutes
    officer_id: int | None = None  # the officer named by an assignment
    officer_may_visit: bool = False  # whether the policy lets that officer visit this case
    actor_user_id: int | None = None
    visit: dict[str, Any] | None = None  # the visit's answers, if sent
    changes: list[dict[str, Any]] = field(default_factory=list)  # the changes the visit settles
    in_signed_batch: bool = False


def _reason(f: Facts) -> str | None:
    text = (f.reason or "").strip()
    return None if 3 <= len(text) <= 2000 else "alasan wajib diisi (3-2000 karakter) / a reason is required"


def _musdes(f: Facts) -> str | None:
    m = f.musdes
    if not m:
        return "berita acara musyawarah wajib / the village meeting's record is required"
    if int(m.get("minutes_evidence_id") or 0) not in f.minutes_ids:
        return ("unggah dulu berita acara bertanda tangan (PDF atau foto) sebagai bukti jenis 'minutes' / "
                "upload the signed minutes first (evidence of kind 'minutes') and name its id")
    return None


def _officer(f: Facts) -> str | None:
    if f.officer_id is None:
        return "petugas tidak dikenal / the officer is not an active account"
    if not f.officer_may_visit:
        return "petugas itu tidak berwenang di wilayah kasus ini / that officer may not visit cases in this region"
    return None


def _assigned(f: Facts) -> str | None:
    officer = f.case.get("officer_id")
    if officer is None or officer != f.actor_user_id:
        return "kasus ini tidak ditugaskan kepada Anda / this case is not assigned to you"
    return None


def _visit(f: Facts) -> str | None:
    return None if f.visit else "hasil kunjungan wajib / the visit's answers are required"


def _verified(f: Facts) -> str | None:
    if not f.case.get("visit"):
        return "belum ada hasil kunjungan / no visit has been recorded"
    if not f.case.get("changes"):
        return ("kunjungan tidak menghasilkan perubahan; tolak kasus bila tidak ada yang diubah / the visit "
                "settles no change: reject the case when nothing is to change")
    return None


def _signed(f: Facts) -> str | None:
    return None if f.in_signed_batch else (
        "persetujuan hanya melalui paket yang ditandatangani / approval is given only by signing a batch")


GUARDS: dict[str, Callable[[Facts], str | None]] = {
    "reason": _reason,
    "musdes_record": _musdes,
    "officer": _officer,
    "assigned_to_actor": _assigned,
    "visit_answers": _visit,
    "verified_changes": _verified,
    "signed_batch": _signed,
}


def unmet(requires: tuple[str, ...], facts: Facts) -> list[str]:
    """What the guards `requires` find missing (empty: the transition may be taken)."""
    return [msg for name in requires if (msg := GUARDS[name](facts)) is not None]
