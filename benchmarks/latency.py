"""Latencies of concurrent clients: each client a thread, all released at once by a barrier."""

from __future__ import annotations

import contextlib
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator

# A client: given its number, a context (its own connection, session, ...) that yields one step;
# a step makes one request with the client's random generator and says whether it succeeded.
Step = Callable[[random.Random], bool]
Client = Callable[[int], contextlib.AbstractContextManager[Step]]


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile `p` (0..100) of `values`."""
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def concurrent_latencies(client: Client, clients: int, per_client: int) -> dict[str, float]:
    """Run `clients` clients at once, `per_client` steps each (seeded by the client's number):
    p50, p99 and mean latency in ms, steps per second of wall time, and failed steps."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)

    def work(k: int) -> None:
        rng = random.Random(k)
        mine = latencies[k]
        with client(k) as step:
            start.wait()
            for _ in range(per_client):
                t0 = time.perf_counter()
                ok = step(rng)
                mine.append(time.perf_counter() - t0)
                errors[k] += not ok

    pool = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    flat = [x for xs in latencies for x in xs]
    return {"p50_ms": percentile(flat, 50) * 1e3, "p99_ms": percentile(flat, 99) * 1e3,
            "mean_ms": statistics.fmean(flat) * 1e3, "per_s": len(flat) / wall, "errors": float(sum(errors))}


@contextlib.contextmanager
def no_context(step: Step) -> Iterator[Step]:
    """A client with nothing to open: just its step."""
    yield step
