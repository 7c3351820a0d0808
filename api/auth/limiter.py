"""Brute force slowed down: failures counted per source.

Each gateway keeps, in memory, a moving window of recent failures per key (the
`limits` library): failed sign-ins per caller address, and failed secret
checks per client key and source. Once a key has failed `limit` times within
the window, its further failures are answered 429 with `Retry-After` until old
failures leave the window. Only failures are counted and only failures are held
back: a valid token, or the right secret from a source that has not failed, is
always served, so nobody can shut out a caller by failing in its name.

The counters are per gateway and start empty on restart: with N gateways an
attacker gets at most N times the limit per window. That bounds guessing of
256-bit tokens and secrets far below anything useful, without a shared store.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

# Keys are bounded so a flood of huge keys cannot grow memory per entry.
KEY_CHARS = 200


class FailureLimiter:
    def __init__(self, name: str, limit: int, window_s: int) -> None:
        self._item = RateLimitItemPerSecond(limit, window_s, namespace=name)
        self._storage = MemoryStorage()
        self._windows = MovingWindowRateLimiter(self._storage)
        self._window_s = window_s
        # key -> when it last failed: a key with no failure inside the window (nearly
        # every sign-in and secret check) is let through without asking the limiter.
        self._last_failure: dict[str, float] = {}
        self._pruned_at = time.monotonic()

    async def retry_after(self, key: str) -> int | None:
        """Seconds to wait when `key` has used up its failures, else None."""
        key = key[:KEY_CHARS]
        last = self._last_failure.get(key)
        if last is None or time.monotonic() - last > self._window_s:
            return None
        if await self._windows.test(self._item, key):
            return None
        stats = await self._windows.get_window_stats(self._item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def has_failed(self, key: str) -> bool:
        """Whether `key` failed at least once inside the window."""
        last = self._last_failure.get(key[:KEY_CHARS])
        return last is not None and time.monotonic() - last <= self._window_s

    async def failed(self, key: str) -> None:
        key = key[:KEY_CHARS]
        at = time.monotonic()
        self._last_failure[key] = at
        if at - self._pruned_at > self._window_s:
            self._last_failure = {k: t for k, t in self._last_failure.items()
                                  if at - t <= self._window_s}
            self._pruned_at = at
        await self._windows.hit(self._item, key)
