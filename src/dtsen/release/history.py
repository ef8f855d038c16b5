"""The store's history: every change of the current release, appended, never rewritten.

`RELEASES/HISTORY.jsonl` holds one JSON object per line:

    {"time": "2025-07-01T09:00:00+00:00", "event": "publish", "user": "ops", "from": "R0003",
     "to": "R0004", "reason": null}

`publish`  a build made its new release current (`from` the release it continued from)
`use`      `dtsen releases use ID` made an existing release current: a rollback or roll-forward,
           with the operator's reason (identifiers in it masked)

Each event is written while the project lock is held, then flushed and fsynced; the file is
opened for appending only. A build appends its event just after switching `CURRENT`, so a
power cut in between can leave `CURRENT` one step ahead of the history:
`dtsen releases history` says so when it sees it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dtsen.errors import Problem
from dtsen.privacy import mask_identifiers
from dtsen.release.errors import ReleaseError
from dtsen.release.ids import is_release_id

HISTORY = "HISTORY.jsonl"
EVENTS = ("publish", "use")


@dataclass(frozen=True)
class HistoryEvent:
    time: str
    event: str
    user: str
    from_release: str | None
    to_release: str
    reason: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "event": self.event, "user": self.user, "from": self.from_release,
                "to": self.to_release, "reason": self.reason, "note": self.note}


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def new_event(event: str, from_release: str | None, to_release: str, reason: str | None = None,
              note: str | None = None) -> HistoryEvent:
    return HistoryEvent(
        time=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        event=event,
        user=current_user(),
        from_release=from_release,
        to_release=to_release,
        reason=mask_identifiers(reason)[:500] if reason else None,
        note=note,
    )


def check_writable(root: Path) -> None:
    """Refuse before anything changes when the history could not be appended to: a symbolic
    link, or not a file."""
    path = root / HISTORY
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ReleaseError(f"{path} is not a plain file (a symbolic link, or a folder): the history is written "
                           "only to a file of its own; move it aside and try again")


def append_event(root: Path, event: HistoryEvent) -> None:
    """Append one event to the store's history and flush it to disk (call under the lock)."""
    path = root / HISTORY
    created = not path.exists()
    line = json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)  # never through a link
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ReleaseError(f"CURRENT is now {event.to_release}, but the event could not be recorded in {path} "
                           f"({exc.strerror}): add it by hand: {line.strip()}") from None
    if created:
        dfd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _event(data: Any) -> HistoryEvent | None:
    if not isinstance(data, dict) or data.get("event") not in EVENTS or not is_release_id(data.get("to")):
        return None
    previous = data.get("from")
    if previous is not None and not is_release_id(previous):
        return None
    text = {k: data.get(k) if isinstance(data.get(k), str) else None for k in ("time", "user", "reason", "note")}
    return HistoryEvent(time=text["time"] or "", event=data["event"], user=text["user"] or "",
                        from_release=previous, to_release=data["to"], reason=text["reason"], note=text["note"])


def read_history(root: Path) -> tuple[list[HistoryEvent], list[Problem]]:
    """The events, oldest first, and a problem for each line that is not a valid event (the
    history is then damaged there; the other lines still count)."""
    path = root / HISTORY
    if not path.exists():
        return [], []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [Problem(f"cannot be read: {exc.strerror}", str(path))]
    events, problems = [], []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            event = _event(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            event = None
        if event is None:
            problems.append(Problem("is not a valid history event", f"{path} line {number}"))
        else:
            events.append(event)
    return events, problems
