"""Group commit for the audit chain: many requests' entries, one transaction.

Every read of personal data appends an entry, and appends are serialised (they lock the chain's
head). With one transaction per request, requests queue behind each other's commits; here one
writer thread takes whatever entries are waiting, appends them all in one transaction, and then
releases every caller. A caller returns only once its entry is committed, so a response is never
sent for a read that is not yet in the log.

Entries are checked in the caller's thread (no personal identifiers, a known outcome) before they
are queued, so one bad entry never fails the others. A database error fails the whole batch and
every caller in it gets the error.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from dtsen.security.audit import AuditEvent, AuditLog
from dtsen.store.connection import Store, StoreError

_STOP = object()


class AuditWriter:
    def __init__(self, store: Store, audit: AuditLog, max_batch: int = 500) -> None:
        self.store = store
        self.audit = audit
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def record(self, *events: AuditEvent) -> list[int]:
        """Append `events` (consecutively) and return their entry numbers once committed."""
        if not events:
            return []
        for e in events:
            self.audit.check(e)
        future: Future[list[int]] = Future()
        with self._lock:
            if self._closed:
                raise StoreError("the audit writer is closed (the service is stopping)")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dtsen-audit-writer", daemon=True)
                self._thread.start()
            self._queue.put((events, future))
        return future.result()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._write(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _write(self, batch: list[tuple[tuple[AuditEvent, ...], Future[list[int]]]]) -> None:
        events = [e for evs, _ in batch for e in evs]
        try:
            with self.store.writing() as conn:
                seqs = self.audit.append(conn, *events)
        except BaseException as exc:
            for _, fut in batch:
                fut.set_exception(exc)
            return
        start = 0
        for evs, fut in batch:
            fut.set_result(seqs[start:start + len(evs)])
            start += len(evs)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()
