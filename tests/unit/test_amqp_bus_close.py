"""A stopping process is never held by a broker that does not answer its close."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from aio_pika.abc import AbstractRobustConnection

from common import amqp_bus
from common.amqp_bus import AmqpBus
from common.topology import Topology


class SilentConnection:
    """A connection whose close waits for a reply that never comes."""

    def __init__(self) -> None:
        self.close_started = asyncio.Event()

    async def close(self, *_: Any) -> None:
        self.close_started.set()
        await asyncio.Event().wait()


class PromptConnection:
    def __init__(self) -> None:
        self.closed = False

    async def close(self, *_: Any) -> None:
        self.closed = True


def bus_over(connection: object) -> AmqpBus:
    return AmqpBus(cast(AbstractRobustConnection, connection), Topology("ns"),
                   publish_timeout_s=1.0)


async def test_a_close_the_broker_never_answers_is_given_up_and_logged(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(amqp_bus, "CLOSE_TIMEOUT_S", 0.05)
    connection = SilentConnection()
    async with asyncio.timeout(5):
        await bus_over(connection).close()
    assert connection.close_started.is_set()
    assert [r.levelno for r in caplog.records if "did not answer the close" in r.message] == [
        logging.WARNING]


async def test_a_close_the_broker_answers_says_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    connection = PromptConnection()
    await bus_over(connection).close()
    assert connection.closed
    assert not [r for r in caplog.records if "did not answer the close" in r.message]
