"""What only the AMQP bus does, against the machine's RabbitMQ: unconfirmed publishes
fail loudly, and every message passes a named exchange. What every bus does is in
test_bus_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest

from common.amqp_bus import AmqpBus
from common.bus import BrokerUnavailable, IncomingCommand
from common.settings import Settings
from common.topology import Topology
from tests.harness import wire_tap


@pytest.fixture
async def bus(settings: Settings, topology_cleanup: None) -> AsyncIterator[AmqpBus]:
    connected = await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace))
    yield connected
    await connected.close()


async def collect(bus: AmqpBus, count: int, settle: str) -> list[IncomingCommand]:
    seen: list[IncomingCommand] = []
    done = asyncio.Event()

    async def handler(message: IncomingCommand) -> None:
        seen.append(message)
        await getattr(message, settle)()
        if len(seen) >= count:
            done.set()

    await bus.consume_commands(handler, prefetch=4)
    await asyncio.wait_for(done.wait(), 10)
    await bus.stop_consuming()
    return seen


async def test_publishing_on_a_closed_connection_is_broker_unavailable(bus: AmqpBus) -> None:
    await bus.close()
    with pytest.raises(BrokerUnavailable):
        await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})
    with pytest.raises(BrokerUnavailable):
        await bus.publish_event("client.oidc.created", b"{}", message_id="e1", headers={})


async def test_a_command_with_no_queue_bound_fails_loudly(bus: AmqpBus,
                                                          settings: Settings) -> None:
    topology = Topology(settings.namespace)
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(topology.commands_queue, passive=True)
        await queue.unbind(topology.commands_exchange, routing_key=topology.commands_routing_key)
    finally:
        await connection.close()
    with pytest.raises(BrokerUnavailable):
        await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})


async def test_every_message_passes_a_named_exchange_a_tap_can_bind_to(
        bus: AmqpBus, settings: Settings) -> None:
    topology = Topology(settings.namespace)
    received: asyncio.Queue[bytes] = asyncio.Queue()
    address = await bus.listen_for_replies(lambda body, headers: received.put_nowait(body))
    async with wire_tap(settings, reply_addresses=[address]) as tap:
        await bus.publish_command(b"command", message_id="m1", reply_to=address, headers={})
        await bus.publish_reply(address, b"outcome", correlation_id="m1", headers={})
        await bus.publish_event("client.oidc.created", b"event", message_id="e1", headers={})
        await collect(bus, 1, "dead_letter")
        assert await asyncio.wait_for(received.get(), 5) == b"outcome"
        for _ in range(50):
            if len(tap.messages) >= 4:
                break
            await asyncio.sleep(0.1)
    assert sorted((m.exchange, m.body) for m in tap.messages) == sorted([
        (topology.commands_exchange, b"command"), (topology.replies_exchange, b"outcome"),
        (topology.events_exchange, b"event"), (topology.dead_letter_exchange, b"command")])
