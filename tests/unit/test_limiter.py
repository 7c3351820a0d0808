"""The failure limiter: a moving window of failures per key."""

from __future__ import annotations

import asyncio

from api.auth.limiter import KEY_CHARS, FailureLimiter


async def test_a_key_is_held_back_after_its_failures_and_others_are_not() -> None:
    limiter = FailureLimiter("t", limit=3, window_s=60)
    for _ in range(3):
        assert await limiter.retry_after("10.0.0.1") is None
        await limiter.failed("10.0.0.1")
    wait = await limiter.retry_after("10.0.0.1")
    assert wait is not None and 1 <= wait <= 60
    assert await limiter.retry_after("10.0.0.2") is None


async def test_failures_leave_the_window() -> None:
    limiter = FailureLimiter("t", limit=1, window_s=1)
    await limiter.failed("k")
    assert await limiter.retry_after("k") is not None
    await asyncio.sleep(1.2)
    assert await limiter.retry_after("k") is None


async def test_huge_keys_are_cut_to_a_bounded_size() -> None:
    limiter = FailureLimiter("t", limit=1, window_s=60)
    await limiter.failed("x" * KEY_CHARS + "tail-one")
    # The same first KEY_CHARS characters are the same key.
    assert await limiter.retry_after("x" * KEY_CHARS + "tail-two") is not None


async def test_old_failures_are_forgotten_while_recent_ones_still_count() -> None:
    limiter = FailureLimiter("t", limit=1, window_s=1)
    await limiter.failed("old")
    await asyncio.sleep(1.2)
    await limiter.failed("recent")  # more than a window since the last pruning: prunes
    assert await limiter.retry_after("old") is None
    assert await limiter.retry_after("recent") is not None


async def test_has_failed_tells_a_key_that_failed_inside_the_window() -> None:
    limiter = FailureLimiter("t", limit=5, window_s=1)
    assert not limiter.has_failed("k")
    await limiter.failed("k")
    assert limiter.has_failed("k") and not limiter.has_failed("other")
    assert await limiter.retry_after("k") is None  # failed, but not held back yet
    await asyncio.sleep(1.2)
    assert not limiter.has_failed("k")
