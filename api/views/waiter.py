"""Futures for the outcomes this gateway is waiting on.

The worker sends each outcome to the gateway that published the command; this
resolves the matching waiter. Unknown or late outcomes are dropped: the
operation document in MongoDB is the record, this is only the fast path. So is
an outcome no key of the keyring vouches for (common.command_mac): the gateway
answers its caller with an outcome's client view and applies it to its read model,
so one published to the broker by anyone but a worker must count for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping

from common.command_mac import Rejection, verify_reply
from common.keyring import SecretKeyring
from common.outcome_replies import OutcomeReply

log = logging.getLogger(__name__)


class OutcomeWaiter:
    def __init__(self, keyring: SecretKeyring,
                 rejected: Callable[[Rejection], None] = lambda _: None) -> None:
        """`rejected`: told of each reply refused, and why (the gateway counts them)."""
        self._keyring = keyring
        self._rejected = rejected
        self._waiting: dict[str, asyncio.Future[OutcomeReply]] = {}

    @contextlib.contextmanager
    def expect(self, operation_id: str) -> Iterator[asyncio.Future[OutcomeReply]]:
        """Register before publishing, so a fast reply cannot arrive unseen."""
        future: asyncio.Future[OutcomeReply] = asyncio.get_running_loop().create_future()
        self._waiting[operation_id] = future
        try:
            yield future
        finally:
            self._waiting.pop(operation_id, None)

    def awaits(self, operation_id: str) -> bool:
        """Whether a request here still waits for that command's reply."""
        return operation_id in self._waiting

    def on_reply(self, body: bytes, headers: Mapping[str, object]) -> None:
        rejection = verify_reply(self._keyring, body, headers)
        if rejection is not None:
            log.warning("ignoring an outcome reply no key vouches for (%s)", rejection.value)
            self._rejected(rejection)
            return
        try:
            reply = OutcomeReply.decode(body)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            log.warning("ignoring an outcome reply that cannot be read")
            return
        future = self._waiting.get(reply.outcome.operation_id)
        if future is not None and not future.done():
            future.set_result(reply)
