"""Futures for the outcomes this gateway is waiting on.

The worker sends each outcome to the gateway that published the command; this
resolves the matching waiter. Unknown or late outcomes are dropped: the
operation document in MongoDB is the record, this is only the fast path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator

from common.outcomes import Outcome

log = logging.getLogger(__name__)


class OutcomeWaiter:
    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}

    @contextlib.contextmanager
    def expect(self, operation_id: str) -> Iterator[asyncio.Future[Outcome]]:
        """Register before publishing, so a fast reply cannot arrive unseen."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[operation_id] = future
        try:
            yield future
        finally:
            self._waiting.pop(operation_id, None)

    def on_reply(self, body: bytes) -> None:
        try:
            outcome = Outcome.decode(body)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            log.warning("ignoring an outcome reply that cannot be read")
            return
        future = self._waiting.get(outcome.operation_id)
        if future is not None and not future.done():
            future.set_result(outcome)
