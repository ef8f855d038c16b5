"""Failed logins, rate-limited and locked out, from the `login_attempts` table.

Every login and token request is recorded with its outcome, under a keyed hash of the account
name or client id (`subject`; never the typed name, which may be anything) and the caller's
address. An account name or client id with `security.max_failed_logins` failures in a row (since
its last success or reset, within `security.lockout_minutes`) is refused until `lockout_minutes`
after its last failure, whether or not the account exists (so that lockout does not reveal which
names exist); an address with `security.max_failed_per_source` failures in that window is refused
as well. Refused attempts are recorded as `locked` and do not extend the lock.
"""

from __future__ import annotations

import datetime as dt
import math

import sqlalchemy as sa

from dtsen.security.clock import Clock, utcnow
from dtsen.security.errors import LockedOutError
from dtsen.security.settings import SecuritySettings
from dtsen.store.tables import login_attempts

FAILURES = ("unknown", "bad_password", "bad_totp", "replayed", "disabled", "bad_secret")
BOUNDARIES = ("ok", "reset")


class Lockout:
    def __init__(self, settings: SecuritySettings, clock: Clock = utcnow) -> None:
        self.max_failed = settings.max_failed_logins
        self.max_per_source = settings.max_failed_per_source
        self.window = dt.timedelta(minutes=settings.lockout_minutes)
        self.clock = clock

    def check(self, conn: sa.Connection, subject: str, source: str) -> None:
        """Raise LockedOutError (with the seconds to wait) when `subject` or `source` is locked."""
        now = self.clock()
        la = login_attempts
        since = now - self.window
        last_ok = conn.execute(sa.select(sa.func.max(la.c.at)).where(
            la.c.subject == subject, la.c.outcome.in_(BOUNDARIES))).scalar()
        if last_ok is not None:
            since = max(since, last_ok if last_ok.tzinfo else last_ok.replace(tzinfo=dt.UTC))
        fails = conn.execute(sa.select(la.c.at).where(la.c.subject == subject, la.c.outcome.in_(FAILURES),
                                                      la.c.at > since)
                             .order_by(la.c.at.desc()).limit(self.max_failed)).scalars().all()
        if len(fails) >= self.max_failed:
            self._raise(fails[0] + self.window - now)
        from_source = conn.execute(sa.select(la.c.at).where(la.c.source == source, la.c.outcome.in_(FAILURES),
                                                            la.c.at > now - self.window)
                                   .order_by(la.c.at.desc()).limit(self.max_per_source)).scalars().all()
        if len(from_source) >= self.max_per_source:
            self._raise(from_source[0] + self.window - now)

    @staticmethod
    def _raise(wait: dt.timedelta) -> None:
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise LockedOutError(f"terlalu banyak percobaan gagal; coba lagi dalam {math.ceil(seconds / 60)} menit / "
                             f"too many failed attempts; try again in {seconds} seconds", retry_after=seconds)

    def record(self, conn: sa.Connection, kind: str, subject: str, source: str, outcome: str, *,
               user_id: int | None = None, client_id: int | None = None) -> None:
        conn.execute(sa.insert(login_attempts).values(kind=kind, subject=subject, source=source[:64],
                                                      at=self.clock(), outcome=outcome, user_id=user_id,
                                                      client_id=client_id))
