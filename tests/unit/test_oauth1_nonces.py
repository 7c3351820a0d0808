"""The in-memory nonce cache: remembered until expiry, bounded, never forgetting a live nonce."""

from __future__ import annotations

import pytest

from api.verify.oauth1_nonces import NonceCache, NonceKey, NonceStore, NonceStoreFull


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def key(nonce: str = "nonce-1", *, client_key: str = "client-a", timestamp: str = "1800000000",
        token: str = "") -> NonceKey:
    return NonceKey(client_key, timestamp, nonce, token)


def test_a_nonce_is_seen_the_second_time() -> None:
    cache: NonceStore = NonceCache(clock=Clock())
    assert cache.seen_before(key(), expires_at=1_800_000_300) is False
    assert cache.seen_before(key(), expires_at=1_800_000_300) is True


@pytest.mark.parametrize("other", [
    key("nonce-2"), key(client_key="client-b"), key(timestamp="1800000001"), key(token="t"),
], ids=["nonce", "client", "timestamp", "token"])
def test_each_part_of_the_key_tells_nonces_apart(other: NonceKey) -> None:
    cache = NonceCache(clock=Clock())
    assert cache.seen_before(key(), expires_at=1_800_000_300) is False
    assert cache.seen_before(other, expires_at=1_800_000_300) is False


def test_a_nonce_is_remembered_until_its_expiry_and_then_forgotten() -> None:
    clock = Clock()
    cache = NonceCache(clock=clock)
    cache.seen_before(key(), expires_at=clock.now + 300)
    clock.now += 300
    assert cache.seen_before(key(), expires_at=clock.now) is True
    clock.now += 1
    assert len(cache) == 0
    assert cache.seen_before(key(), expires_at=clock.now + 300) is False


def test_a_full_cache_refuses_rather_than_forgetting_a_live_nonce() -> None:
    clock = Clock()
    cache = NonceCache(max_entries=2, clock=clock)
    cache.seen_before(key("early"), expires_at=clock.now + 10)
    cache.seen_before(key("late"), expires_at=clock.now + 300)
    with pytest.raises(NonceStoreFull) as full:
        cache.seen_before(key("third"), expires_at=clock.now + 300)
    assert full.value.retry_after_s == 10  # when the oldest nonce leaves its window
    assert cache.seen_before(key("late"), expires_at=clock.now + 300) is True
    clock.now += 11
    assert cache.seen_before(key("third"), expires_at=clock.now + 300) is False
    assert len(cache) == 2


def test_a_cache_needs_room_for_one_nonce() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        NonceCache(max_entries=0)
