"""Rate limits per client: a token bucket per caller, in the memory of one service process.

The caller is the subject of a well-signed bearer token (`client:kemensos-pkh`, `user:alice`),
or the address when there is none. A bucket holds `api.rate_burst` requests and refills at
`api.rate_per_minute`. With several worker processes each has its own buckets (the limit per
client is then the worker count times this); a shared limiter (in the store or a proxy) is the
step for a multi-process deployment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 50_000


@dataclass
class TokenBuckets:
    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when the request may go ahead; otherwise the seconds until it may."""
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_KEYS:
                self._prune(now, rate)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def _prune(self, now: float, rate: float) -> None:
        """Forget buckets that have refilled (they are the same as new ones)."""
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * rate >= self.burst]
        for k in full:
            del self._buckets[k]

    @staticmethod
    def retry_after(seconds: float) -> int:
        return max(1, math.ceil(seconds))
