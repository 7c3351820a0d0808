"""The in-process bus of `clientkeys dev` keeps the AMQP bus's contract."""

from __future__ import annotations

import asyncio

from common.bus import IncomingCommand
from common.memory_bus import MemoryBus


async def test_events_reach_matching_subscribers_only() -> None:
    bus = MemoryBus()
    seen: list[str] = []

    async def subscriber(routing_key: str, body: bytes) -> None:
        seen.append(routing_key)

    await bus.subscribe_events(["client.*.approved"], subscriber)
    for key in ("client.oidc.approved", "client.oidc.created", "client.oauth1.approved"):
        await bus.publish_event(key, b"{}", message_id=key)
    assert seen == ["client.oidc.approved", "client.oauth1.approved"]


async def test_commands_come_back_after_a_retry_counted_and_after_a_requeue_not() -> None:
    bus = MemoryBus()
    deliveries: list[tuple[int, bool]] = []
    done = asyncio.Event()

    async def handler(message: IncomingCommand) -> None:
        deliveries.append((message.previous_deliveries, message.redelivered))
        if len(deliveries) == 1:
            await message.retry()
        elif len(deliveries) == 2:
            await message.requeue()
        else:
            await message.ack()
            done.set()

    await bus.consume_commands(handler, prefetch=1)
    await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})
    await asyncio.wait_for(done.wait(), 5)
    await bus.close()
    assert deliveries == [(0, False), (1, True), (1, True)]


async def test_replies_go_to_the_listener_that_asked() -> None:
    bus = MemoryBus()
    got: list[bytes] = []
    address = await bus.listen_for_replies(got.append)
    await bus.publish_reply(address, b"outcome", correlation_id="op")
    await bus.publish_reply("someone-else", b"lost", correlation_id="op")
    assert got == [b"outcome"]


async def test_commands_carry_their_message_id_reply_address_and_headers() -> None:
    bus = MemoryBus()
    seen: list[IncomingCommand] = []
    done = asyncio.Event()

    async def handler(message: IncomingCommand) -> None:
        seen.append(message)
        await message.ack()
        done.set()

    await bus.consume_commands(handler, prefetch=1)
    await bus.publish_command(b'{"x": 1}', message_id="m1", reply_to="gateway-a",
                              headers={"x-clientkeys-mac": "mac", "x-clientkeys-mac-kid": "k1"})
    await asyncio.wait_for(done.wait(), 5)
    await bus.close()
    [message] = seen
    assert (message.body, message.message_id, message.reply_to) == (b'{"x": 1}', "m1",
                                                                    "gateway-a")
    assert dict(message.headers) == {"x-clientkeys-mac": "mac", "x-clientkeys-mac-kid": "k1"}
