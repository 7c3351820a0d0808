"""One contract for every message bus: the in-memory one, the tests' recording one
(the in-memory one, recording) and RabbitMQ.

Code above `common.bus.MessageBus` must not be able to tell the buses apart, so
each case here runs against each of them. Counting follows RabbitMQ's quorum
queues: `previous_deliveries` is the message's `x-delivery-count`, the failed
deliveries before this one. A retry (basic.reject) is a failure and counts; a
requeue on shutdown (basic.nack) is not a failure and, from RabbitMQ 4.3 on,
does not count. Older brokers count every return of a message, which no client
can undo; on them the requeue case expects the broker's count.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import aio_pika
import pytest

from common.amqp_bus import AmqpBus
from common.bus import IncomingCommand, MessageBus
from common.memory_bus import MemoryBus
from common.topology import COMMAND_DELIVERY_LIMIT, Topology
from tests.fakes import RecordingBus

WAIT_S = 10
MAC_HEADERS = {"x-clientkeys-mac": "mac", "x-clientkeys-mac-kid": "k1"}


class Contract:
    """The bus under test, and whether its broker counts a requeue as a delivery."""

    def __init__(self, bus: MessageBus, *, requeue_counted: bool) -> None:
        self.bus = bus
        self.requeue_counted = requeue_counted


async def _broker_version(amqp_url: str) -> tuple[int, ...]:
    connection = await aio_pika.connect(amqp_url)
    try:
        assert connection.transport is not None
        properties = connection.transport.connection.server_properties
        version = properties.get("version", "0")
        text = version.decode() if isinstance(version, bytes) else str(version)
    finally:
        await connection.close()
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


@pytest.fixture(params=["memory", "recording", "amqp"])
async def contract(request: pytest.FixtureRequest, amqp_url: str,
                   namespace: str) -> AsyncIterator[Contract]:
    if request.param != "amqp":
        memory = MemoryBus() if request.param == "memory" else RecordingBus()
        yield Contract(memory, requeue_counted=False)
        await memory.close()
        return
    bus = await AmqpBus.connect(amqp_url, Topology(namespace))
    try:
        yield Contract(bus, requeue_counted=await _broker_version(amqp_url) < (4, 3))
    finally:
        await bus.close()
        cleanup = await AmqpBus.connect(amqp_url, Topology(namespace))
        try:
            await cleanup.delete_topology()
        finally:
            await cleanup.close()


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until `check` holds; the AMQP bus acts on the broker's time, not ours."""
    for _ in range(int(WAIT_S / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{check.__name__} did not hold within {WAIT_S} s")


async def deliveries(bus: MessageBus, settle: Callable[[int, IncomingCommand], Awaitable[None]],
                     count: int, *, prefetch: int = 1) -> list[IncomingCommand]:
    """Consume until `count` deliveries were seen; `settle(n, message)` settles the n-th."""
    seen: list[IncomingCommand] = []
    done = asyncio.Event()

    async def handler(message: IncomingCommand) -> None:
        seen.append(message)
        await settle(len(seen), message)
        if len(seen) >= count:
            done.set()

    await bus.consume_commands(handler, prefetch=prefetch)
    await asyncio.wait_for(done.wait(), WAIT_S)
    await bus.stop_consuming()
    return seen


async def ack(_: int, message: IncomingCommand) -> None:
    await message.ack()


async def test_a_command_arrives_with_its_id_reply_address_and_mac_headers(
        contract: Contract) -> None:
    bus = contract.bus
    await bus.publish_command(b'{"x": 1}', message_id="m1", reply_to="gateway-a",
                              headers=MAC_HEADERS)
    [message] = await deliveries(bus, ack, 1)
    assert (message.body, message.message_id, message.reply_to) == (b'{"x": 1}', "m1",
                                                                    "gateway-a")
    assert {k: message.headers.get(k) for k in MAC_HEADERS} == MAC_HEADERS
    assert (message.previous_deliveries, message.redelivered) == (0, False)


async def test_an_acked_command_is_gone_from_the_queue(contract: Contract) -> None:
    bus = contract.bus
    await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})
    await deliveries(bus, ack, 1)

    async def settled() -> bool:
        depths = await bus.queue_depths()
        return (depths.waiting, depths.dead_lettered) == (0, 0)

    await eventually(settled)


async def test_no_more_than_prefetch_commands_are_handed_out_unsettled(
        contract: Contract) -> None:
    bus = contract.bus
    held: list[IncomingCommand] = []

    async def hold(message: IncomingCommand) -> None:
        held.append(message)

    for n in range(3):
        await bus.publish_command(b"{}", message_id=f"m{n}", reply_to=None, headers={})
    await bus.consume_commands(hold, prefetch=2)

    async def two_held_one_waiting() -> bool:
        return len(held) == 2 and (await bus.queue_depths()).waiting == 1

    await eventually(two_held_one_waiting)
    assert len(held) == 2
    await held[0].ack()

    async def third_handed_out() -> bool:
        return len(held) == 3

    await eventually(third_handed_out)
    assert [m.message_id for m in held] == ["m0", "m1", "m2"]
    for message in held[1:]:
        await message.ack()
    await bus.stop_consuming()


async def test_a_requeued_command_comes_back_redelivered_and_not_counted_as_a_failure(
        contract: Contract) -> None:
    bus = contract.bus

    async def requeue_first(n: int, message: IncomingCommand) -> None:
        await (message.requeue() if n == 1 else message.ack())

    await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})
    first, second = await deliveries(bus, requeue_first, 2)
    assert (first.previous_deliveries, first.redelivered) == (0, False)
    assert second.redelivered
    assert second.previous_deliveries == (1 if contract.requeue_counted else 0)


async def test_each_retry_counts_and_a_requeue_after_it_keeps_the_count(
        contract: Contract) -> None:
    bus = contract.bus

    async def retry_twice_then_requeue(n: int, message: IncomingCommand) -> None:
        if n <= 2:
            await message.retry()
        elif n == 3:
            await message.requeue()
        else:
            await message.ack()

    await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})
    seen = await deliveries(bus, retry_twice_then_requeue, 4)
    requeue = 1 if contract.requeue_counted else 0
    assert [m.previous_deliveries for m in seen] == [0, 1, 2, 2 + requeue]
    assert [m.redelivered for m in seen] == [False, True, True, True]


async def test_a_command_retried_past_the_delivery_limit_is_dead_lettered(
        contract: Contract) -> None:
    bus = contract.bus
    seen: list[int] = []

    async def always_fail(message: IncomingCommand) -> None:
        seen.append(message.previous_deliveries)
        await message.retry()

    await bus.publish_command(b"poison", message_id="m1", reply_to=None, headers={})
    await bus.consume_commands(always_fail, prefetch=1)

    async def set_aside() -> bool:
        depths = await bus.queue_depths()
        return (depths.waiting, depths.dead_lettered) == (0, 1)

    await eventually(set_aside)
    await bus.stop_consuming()
    assert seen == list(range(COMMAND_DELIVERY_LIMIT + 1))


async def test_a_dead_lettered_command_is_counted_as_set_aside(contract: Contract) -> None:
    bus = contract.bus

    async def dead_letter(_: int, message: IncomingCommand) -> None:
        await message.dead_letter()

    await bus.publish_command(b"poison", message_id="m1", reply_to=None, headers={})
    await deliveries(bus, dead_letter, 1)

    async def set_aside() -> bool:
        depths = await bus.queue_depths()
        return (depths.waiting, depths.dead_lettered) == (0, 1)

    await eventually(set_aside)


async def test_after_stop_consuming_commands_wait_in_the_queue(contract: Contract) -> None:
    bus = contract.bus
    await bus.publish_command(b"{}", message_id="m1", reply_to=None, headers={})
    [first] = await deliveries(bus, ack, 1)
    await bus.publish_command(b"{}", message_id="m2", reply_to=None, headers={})

    async def waiting_unconsumed() -> bool:
        depths = await bus.queue_depths()
        return (depths.waiting, depths.consumers) == (1, 0)

    await eventually(waiting_unconsumed)
    assert first.message_id == "m1"


async def test_queue_depths_count_the_consumers(contract: Contract) -> None:
    bus = contract.bus

    async def never(message: IncomingCommand) -> None:
        raise AssertionError("no command was published")

    await bus.consume_commands(never, prefetch=1)

    async def one_consumer() -> bool:
        return (await bus.queue_depths()).consumers == 1

    await eventually(one_consumer)
    await bus.stop_consuming()


async def test_replies_go_to_the_listener_that_asked_only(contract: Contract) -> None:
    bus = contract.bus
    mine: asyncio.Queue[tuple[bytes, dict[str, object]]] = asyncio.Queue()
    theirs: asyncio.Queue[tuple[bytes, dict[str, object]]] = asyncio.Queue()
    address = await bus.listen_for_replies(lambda body, headers: mine.put_nowait(
        (body, dict(headers))))
    other = await bus.listen_for_replies(lambda body, headers: theirs.put_nowait(
        (body, dict(headers))))
    assert address != other
    # Its headers (a reply's MAC) travel with it.
    await bus.publish_reply(address, b"outcome", correlation_id="op-1", headers={"x-mac": "1"})
    await bus.publish_reply(other, b"theirs", correlation_id="op-2", headers={"x-mac": "2"})
    # A reply to an address nobody listens on is dropped, never an error.
    await bus.publish_reply("nobody", b"lost", correlation_id="op-3", headers={})
    assert await asyncio.wait_for(mine.get(), WAIT_S) == (b"outcome", {"x-mac": "1"})
    assert await asyncio.wait_for(theirs.get(), WAIT_S) == (b"theirs", {"x-mac": "2"})
    assert mine.empty()


async def test_events_reach_the_subscribers_whose_pattern_matches(contract: Contract) -> None:
    bus = contract.bus
    approvals: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    everything: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def approved(routing_key: str, body: bytes, headers: Mapping[str, object]) -> None:
        # Its headers (an event's MAC) travel with it.
        assert dict(headers) == {"x-mac": routing_key}
        approvals.put_nowait((routing_key, body))

    async def any_event(routing_key: str, body: bytes, headers: Mapping[str, object]) -> None:
        everything.put_nowait((routing_key, body))

    await bus.subscribe_events(["client.*.approved"], approved)
    await bus.subscribe_events(["client.#"], any_event)
    keys = ["client.oidc.approved", "client.oidc.created", "other.oidc.approved",
            "client.oauth1.approved"]
    for key in keys:
        await bus.publish_event(key, key.encode(), message_id=key, headers={"x-mac": key})
    # One queue keeps its order: once the last approval is in, a stray one would be too.
    got = [await asyncio.wait_for(approvals.get(), WAIT_S) for _ in range(2)]
    assert got == [(k, k.encode()) for k in ("client.oidc.approved", "client.oauth1.approved")]
    got = [await asyncio.wait_for(everything.get(), WAIT_S) for _ in range(3)]
    assert [k for k, _ in got] == ["client.oidc.approved", "client.oidc.created",
                                   "client.oauth1.approved"]
    assert approvals.empty() and everything.empty()


async def test_consumers_are_attached_once_started_and_not_after_close(
        contract: Contract) -> None:
    bus = contract.bus
    assert not bus.consumers_attached()
    await bus.listen_for_replies(lambda body, headers: None)
    assert bus.consumers_attached()
    await bus.close()
    assert not bus.consumers_attached()
