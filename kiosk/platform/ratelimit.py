"""Token buckets: how many requests each terminal credential may make, per worker process.

A bucket holds at most `burst` tokens and refills at `per_s` tokens a second; each request
takes one, and a request that finds the bucket empty is refused with how long until the next
token (the platform answers 429 `rate_limited` with that many seconds, rounded up, as
Retry-After). A kiosk asks a challenge and sends a proof per visit, so the default allowance
(20 a second, bursts of 40) stops a runaway or stolen credential without touching a real one.

The buckets live in the worker's memory: with N workers a credential may make up to N times
the allowance in all (a load balancer spreads a kiosk's connections over them). That bounds
the harm of one credential without a shared store on every request's path. The clock is
injected (a monotonic seconds counter), so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Requests a second a credential may make by default, and the burst it may save up.
DEFAULT_PER_S = 20.0
DEFAULT_BURST = 40
#: Buckets kept at most; beyond it the least recently used go (a full bucket is the same
#: as none, and an emptied one refills within burst / per_s seconds anyway).
MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key (a credential id), refilled by the injected clock."""

    def __init__(
        self,
        per_s: float = DEFAULT_PER_S,
        burst: int = DEFAULT_BURST,
        *,
        ticks: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if not per_s > 0 or burst < 1 or max_buckets < 1:
            raise ValueError("a bucket needs a positive rate, a burst of at least 1")
        self.per_s = float(per_s)
        self.burst = burst
        self._ticks = ticks
        self._max = max_buckets
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # held for a few dict operations, never across I/O

    def take(self, key: str) -> float:
        """Take one token from `key`'s bucket: 0.0 when there was one, else the seconds
        until there will be (the request is refused and takes nothing)."""
        now = self._ticks()
        with self._lock:
            bucket = self._buckets.pop(key, None)  # re-inserted last: the most recently used
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
            else:
                elapsed = max(0.0, now - bucket.at)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_s)
                bucket.at = now
            self._buckets[key] = bucket
            if len(self._buckets) > self._max:
                del self._buckets[next(iter(self._buckets))]
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.per_s
