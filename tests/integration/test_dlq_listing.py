"""`clientkeys dlq list` against RabbitMQ: an empty dead-letter queue is said to be empty."""

from __future__ import annotations

import pytest

from common.amqp_bus import AmqpBus
from common.settings import Settings
from common.topology import Topology
from tests.harness import run_cli


async def test_an_empty_dead_letter_queue_is_said_to_be_empty(
        settings: Settings, topology_cleanup: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    bus = await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace))
    await bus.close()  # the topology is declared; nothing was dead-lettered
    assert await run_cli(settings, "dlq", "list") == 0
    assert capsys.readouterr().out == "the dead-letter queue is empty\n"
    assert await run_cli(settings, "dlq", "list", "--json") == 0
    assert capsys.readouterr().out == ""  # nothing for a script to parse
