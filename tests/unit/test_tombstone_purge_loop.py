"""The tombstone purge's loop: it tries again after a failure and stops when cancelled,
also when the cancellation comes back from the database call as another error."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from common.store import now
from worker.tombstone_purge import TOMBSTONE_KEPT, TombstonePurge


class _Store:
    def __init__(self, *, failures: int = 0, hang: bool = False) -> None:
        self.asked: list[datetime] = []
        self._failures, self._hang = failures, hang
        self.called = asyncio.Event()
        self.third = asyncio.Event()

    async def purge_tombstones(self, removed_before: datetime) -> int:
        self.asked.append(removed_before)
        self.called.set()
        if len(self.asked) == 3:
            self.third.set()
        if self._hang:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                # A driver can report a cancelled call as its own error (a closed connection).
                raise ConnectionError("connection closed while waiting") from None
        if len(self.asked) <= self._failures:
            raise ConnectionError("the database did not answer")
        return 2


async def test_a_week_of_tombstones_is_kept() -> None:
    store = _Store()
    before = now()  # in whole milliseconds, as MongoDB keeps instants
    assert await TombstonePurge(store).purge() == 2
    [asked] = store.asked
    assert before - TOMBSTONE_KEPT <= asked <= now() - TOMBSTONE_KEPT


async def test_a_failed_purge_is_tried_again_next_round() -> None:
    store = _Store(failures=2)
    task = asyncio.create_task(TombstonePurge(store, every_s=0.01).run())
    await asyncio.wait_for(store.third.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_that_comes_back_as_another_error_still_stops_it() -> None:
    store = _Store(hang=True)
    task = asyncio.create_task(TombstonePurge(store, every_s=3600).run())
    await store.called.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert len(store.asked) == 1
