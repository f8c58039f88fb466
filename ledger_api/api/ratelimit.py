"""Rate limiting per credential: a token bucket each, in this process's memory.

A bucket holds up to `burst` tokens and refills at `rate` tokens a second; a request takes
one, and with none left is refused (429) with the whole seconds until one is back. The
key is the credential's id, taken after the credential is authenticated: a stranger
cannot drain someone else's bucket by sending their id with a wrong secret, and there is
one bucket per issued credential at most, so the table stays as small as the credential
table. Per process: with N workers a credential gets up to N times the rate."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from ledger_api.errors import RateLimited


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._lock = threading.Lock()  # routes run on the event loop and on the thread pool

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> int:
        """Takes a token from `key`'s bucket: 0 if there was one, else the whole seconds
        (at least 1) until there is."""
        if not self.enabled:
            return 0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def check(self, key: str) -> None:
        """RateLimited if `key` is over its rate."""
        wait = self.take(key)
        if wait:
            raise RateLimited(
                f"this credential is over its limit of {self.rate:g} requests/s (bursts of {self.burst}); "
                f"retry after {wait} s",
                wait,
            )
