"""Group commit's lane (common.group_commit.Lane), with a recording sender.

A lone item goes at once; items handed in while a batch is in flight gather
into the next one, at most `max_batch`; each caller gets its own result or
exception; an outage reaches every caller of its batch as itself, any other
failure of a batch is retried one item at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from pymongo.errors import AutoReconnect

from common.group_commit import Lane
from common.store import is_outage


class Sender:
    """Answers each item doubled; `hold` keeps a batch in flight; records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.fail_batch: BaseException | None = None
        self.bad: set[int] = set()

    async def send(self, items: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(items))
        await self.hold.wait()
        if self.fail_batch is not None and len(items) > 1:
            raise self.fail_batch
        if self.bad & set(items) and len(items) > 1:
            raise TypeError("cannot encode")  # as a driver refuses a whole command
        return [ValueError(f"refused {i}") if i < 0 else
                TypeError("cannot encode") if i in self.bad else i * 2 for i in items]


async def test_a_lone_item_goes_at_once_and_alone() -> None:
    sender = Sender()
    lane: Lane[int, int] = Lane(sender.send)
    assert await lane.submit(3) == 6
    assert await lane.submit(4) == 8
    assert sender.batches == [[3], [4]]


async def test_items_handed_in_while_a_batch_is_in_flight_go_together_next() -> None:
    sender = Sender()
    sender.hold.clear()
    lane: Lane[int, int] = Lane(sender.send, max_batch=3)
    first = asyncio.ensure_future(lane.submit(1))
    await asyncio.sleep(0.01)
    assert sender.batches == [[1]]  # in flight
    later = [asyncio.ensure_future(lane.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0.01)
    sender.hold.set()
    assert await first == 2
    assert await asyncio.gather(*later) == [4, 6, 8, 10, 12]
    # Those that gathered went at most three at a time, in the order handed in.
    assert sender.batches == [[1], [2, 3, 4], [5, 6]]


async def test_each_caller_gets_its_own_failure() -> None:
    sender = Sender()
    lane: Lane[int, int] = Lane(sender.send)
    answers = await asyncio.gather(*(lane.submit(n) for n in (1, -2, 3)),
                                   return_exceptions=True)
    assert answers[0] == 2 and answers[2] == 6
    assert isinstance(answers[1], ValueError) and str(answers[1]) == "refused -2"
    assert sender.batches == [[1, -2, 3]]


async def test_an_outage_reaches_every_caller_of_its_batch_as_an_outage() -> None:
    sender = Sender()
    sender.fail_batch = AutoReconnect("connection reset")
    lane: Lane[int, int] = Lane(sender.send)
    answers = await asyncio.gather(*(lane.submit(n) for n in (1, 2, 3)),
                                   return_exceptions=True)
    assert all(isinstance(a, AutoReconnect) and is_outage(a) for a in answers)
    assert sender.batches == [[1, 2, 3]]  # not tried again here: the callers retry
    # The lane is not stuck: the next write goes.
    sender.fail_batch = None
    assert await lane.submit(5) == 10


async def test_any_other_failure_of_a_batch_fails_only_the_item_at_fault() -> None:
    sender = Sender()
    sender.bad = {2}
    lane: Lane[int, int] = Lane(sender.send)
    answers = await asyncio.gather(*(lane.submit(n) for n in (1, 2, 3)),
                                   return_exceptions=True)
    assert answers[0] == 2 and answers[2] == 6
    assert isinstance(answers[1], TypeError)
    assert sender.batches == [[1, 2, 3], [1], [2], [3]]


async def test_a_cancelled_caller_leaves_the_others_their_results() -> None:
    sender = Sender()
    sender.hold.clear()
    lane: Lane[int, int] = Lane(sender.send)
    cancelled = asyncio.ensure_future(lane.submit(1))
    kept = asyncio.ensure_future(lane.submit(2))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    sender.hold.set()
    assert await kept == 4
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert sender.batches == [[1, 2]]  # a write handed in may stand, as one sent alone
