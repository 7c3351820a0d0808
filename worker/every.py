"""A worker's periodic job: run it, log a failure and try again next round, stop when
cancelled.

A cancellation that lands inside a database call can come back as another error
(the driver's own); taken for a failed round, the loop would sleep for another
period and a stopping worker would wait on it. The task's cancelling count tells
the two apart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def run_every(every_s: float, job: Callable[[], Awaitable[object]], what: str,
                    log: logging.Logger) -> None:
    """`job()` now and then every `every_s` seconds, until cancelled."""
    while True:
        try:
            await job()
        except Exception:  # an outage: the next round tries again
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from None
            log.warning("%s failed; retrying in %.0fs", what, every_s, exc_info=True)
        await asyncio.sleep(every_s)
