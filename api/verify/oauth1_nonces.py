"""Nonces of verified OAuth 1.0a requests, remembered while their timestamp is fresh.

RFC 5849 section 3.3: a nonce must be unique across all requests with the same
timestamp, client credentials and token. A request whose timestamp has left the
window is refused as stale anyway, so a nonce need only be remembered until its
timestamp plus the window: the caller passes that moment as `expires_at`.

`NonceStore` is what the signature verifier needs: one atomic "record it, and
tell me whether it was there already". `NonceCache` is the in-memory store: it
is per process, so a request replayed to another gateway within the window is
not caught; a store shared by every gateway (a MongoDB collection with a unique
index and a TTL on `expires_at`, say) closes that gap behind the same protocol.

The cache is bounded. When it is full of entries that have not yet expired it
refuses to record (`NonceStoreFull`) rather than forget a live nonce, since
forgetting one would let its request be replayed. Only requests whose signature
verified are recorded, so only holders of a secret can fill it.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

# About 450 bytes an entry: some 45 MB when full, room for over 300 verified
# requests a second, sustained, with the verifier's default window of 300 s.
DEFAULT_MAX_ENTRIES = 100_000


class NonceKey(NamedTuple):
    client_key: str
    timestamp: str
    nonce: str
    token: str  # the request's oauth_token, "" when it has none


class NonceStoreUnavailable(RuntimeError):
    """The store cannot record a nonce now; the request can be neither accepted nor refused.

    `retry_after_s` is when the store expects to be able to again (the caller's Retry-After).
    """

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NonceStoreFull(NonceStoreUnavailable):
    """Full of nonces still in their window: room comes when the oldest one expires."""


class NonceStore(Protocol):
    def seen_before(self, key: NonceKey, expires_at: float) -> bool:
        """Record `key` until `expires_at` (epoch seconds); True if it was already recorded.

        Must be atomic: of two concurrent calls with the same key, one returns True.
        Raises NonceStoreUnavailable when it can do neither.
        """
        ...


class NonceCache:
    """An in-memory `NonceStore` for one process, safe to share between threads."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[NonceKey, float] = {}
        self._by_expiry: list[tuple[float, NonceKey]] = []
        self._lock = threading.Lock()

    def seen_before(self, key: NonceKey, expires_at: float) -> bool:
        with self._lock:
            self._forget_expired(self._clock())
            if key in self._expiry:
                return True
            if len(self._expiry) >= self._max_entries:
                oldest = self._by_expiry[0][0]
                raise NonceStoreFull("the nonce cache is full; try again later",
                                     retry_after_s=max(1, math.ceil(oldest - self._clock())))
            self._expiry[key] = expires_at
            heapq.heappush(self._by_expiry, (expires_at, key))
            return False

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._expiry)

    def _forget_expired(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] < now:
            _, key = heapq.heappop(self._by_expiry)
            del self._expiry[key]
