"""The gauges' poller stops even when a cancellation comes back as another error, as one
landing inside a read of the broker or the database can (a stopping gateway hung there)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from api.views.stats import StatsPoller


class _SwallowingPoller(StatsPoller):
    """Its refresh turns the cancellation into an ordinary error, as a client library can."""

    def __init__(self) -> None:
        super().__init__(cast(Any, None), cast(Any, None), cast(Any, None), every_s=30.0,
                         known=lambda: None)
        self.refreshing = asyncio.Event()

    async def refresh(self) -> bool:
        self.refreshing.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("connection closed") from None
        return True


async def test_a_swallowed_cancellation_does_not_keep_the_poller_running() -> None:
    poller = _SwallowingPoller()
    poller.start()
    await asyncio.wait_for(poller.refreshing.wait(), 5)
    await asyncio.wait_for(poller.stop(timeout_s=5), 2)  # not the 30 s round after it
    assert poller._task is not None and poller._task.done()
