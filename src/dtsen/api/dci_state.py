"""What the service's DCI flows keep between requests, in files (a `dtsen.dci.DciStore`).

    <serving.dir>/service/dci/
        transactions.jsonl   one line per transaction state (statuses and counts, never records);
                             the last line of a correlation id wins
        subscriptions.json   every subscription, active or ended, rewritten whole on each change

The directory is 0700 and its files 0600. Transactions older than `KEEP_DAYS` are dropped when
the service starts (the file is rewritten then). Like the matching jobs, this belongs in the
operational store (tables `dci_transactions`, `dci_subscriptions`) once its migrations are
reconciled; the interface stays the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from dtsen.dci.store import MemoryDciStore, Subscription, Transaction, TxnItem

KEEP_DAYS = 30
TRANSACTIONS = "transactions.jsonl"
SUBSCRIPTIONS = "subscriptions.json"


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _open_private(path: Path, mode: str) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC), 0o600)
    return os.fdopen(fd, mode, encoding="utf-8")


def _txn(d: dict[str, Any]) -> Transaction:
    items = tuple(TxnItem(**i) for i in d.pop("items", []))
    return Transaction(**d, items=items)


class FileDciStore(MemoryDciStore):
    """A `MemoryDciStore` whose every change is also written to files, and read back at start."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = _private_dir(Path(directory))
        self._write = threading.Lock()
        self._load()

    def _load(self) -> None:
        cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=KEEP_DAYS)).isoformat()
        path = self.directory / TRANSACTIONS
        kept: dict[str, Transaction] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    txn = _txn(json.loads(line))
                except (ValueError, TypeError):
                    continue
                if txn.created >= cutoff:
                    kept[txn.correlation_id] = txn
            self._rewrite(path, "".join(json.dumps(dataclasses.asdict(t)) + "\n" for t in kept.values()))
        for txn in kept.values():
            super().put_transaction(txn)
        subs = self.directory / SUBSCRIPTIONS
        if subs.exists():
            for d in json.loads(subs.read_text(encoding="utf-8")):
                super().put_subscription(Subscription(**d))

    def _rewrite(self, path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        with _open_private(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)

    def put_transaction(self, txn: Transaction) -> None:
        super().put_transaction(txn)
        with self._write, _open_private(self.directory / TRANSACTIONS, "a") as fh:
            fh.write(json.dumps(dataclasses.asdict(txn)) + "\n")

    def put_subscription(self, sub: Subscription) -> None:
        with self._write:
            super().put_subscription(sub)
            every = [dataclasses.asdict(s) for s in self.subscriptions(active_only=False)]
            self._rewrite(self.directory / SUBSCRIPTIONS, json.dumps(every, indent=1))
