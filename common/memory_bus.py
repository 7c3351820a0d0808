"""An in-process message bus for `clientkeys dev` when no broker is configured.

Same contract as the AMQP bus (tests/integration/test_bus_contract.py runs one
suite against both): commands wait in a queue until a consumer acks them; a
requeued command goes back to the end uncounted, a retried one counted, and one
retried past the delivery limit is dead-lettered, as a quorum queue does;
events are routed to subscribers by topic pattern, replies go to the listener
that asked. Nothing survives the process, which is why it is for development
only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.bus import CommandHandler, EventSubscriber, QueueDepths, ReplyHandler
from common.topology import COMMAND_DELIVERY_LIMIT

log = logging.getLogger(__name__)


@dataclass
class _Envelope:
    body: bytes
    reply_to: str | None
    message_id: str | None = None
    headers: dict[str, object] = field(default_factory=dict)
    redelivered: bool = False
    deliveries: int = 0


class MemoryIncomingCommand:
    def __init__(self, bus: MemoryBus, envelope: _Envelope) -> None:
        self._bus = bus
        self._envelope = envelope
        self.body = envelope.body
        self.redelivered = envelope.redelivered
        self.reply_to = envelope.reply_to
        self.message_id = envelope.message_id
        self.headers: Mapping[str, object] = envelope.headers
        self.previous_deliveries = envelope.deliveries

    async def ack(self) -> None:
        self._bus._settled()

    async def requeue(self) -> None:
        self._bus._settled()
        self._envelope.redelivered = True
        self._bus._commands.put_nowait(self._envelope)

    async def retry(self) -> None:
        self._envelope.deliveries += 1
        # A quorum queue dead-letters a message whose failed deliveries exceed its limit.
        if self._envelope.deliveries > COMMAND_DELIVERY_LIMIT:
            await self.dead_letter()
        else:
            await self.requeue()

    async def dead_letter(self) -> None:
        self._bus._settled()
        # Nothing reads a dead letter back in one process (`clientkeys dlq` needs RabbitMQ).
        self._bus._dead_lettered += 1


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` is zero or more."""
    words, keys = pattern.split("."), routing_key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(words):
            return j == len(keys)
        if words[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(keys) + 1))
        return j < len(keys) and words[i] in ("*", keys[j]) and match(i + 1, j + 1)

    return match(0, 0)


class MemoryBus:
    def __init__(self) -> None:
        self._commands: asyncio.Queue[_Envelope] = asyncio.Queue()
        self._replies: dict[str, ReplyHandler] = {}
        self._subscribers: list[tuple[str, EventSubscriber]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._in_flight: asyncio.Semaphore | None = None
        self._dead_lettered = 0
        # Whether a consumer (replies, events, commands) was started, and not closed since.
        self._listening = False

    def _settled(self) -> None:
        if self._in_flight is not None:
            self._in_flight.release()

    async def publish_command(self, body: bytes, *, message_id: str, reply_to: str | None,
                              headers: Mapping[str, str]) -> None:
        self._commands.put_nowait(_Envelope(body, reply_to, message_id, dict(headers)))

    async def publish_event(self, routing_key: str, body: bytes, *, message_id: str,
                            headers: Mapping[str, str],
                            correlation_id: str | None = None) -> None:
        for pattern, subscriber in list(self._subscribers):
            if topic_matches(pattern, routing_key):
                await subscriber(routing_key, body, dict(headers))

    async def publish_reply(self, reply_to: str, body: bytes, *, correlation_id: str,
                            headers: Mapping[str, str]) -> None:
        handler = self._replies.get(reply_to)
        if handler is not None:
            handler(body, dict(headers))

    async def listen_for_replies(self, handler: ReplyHandler) -> str:
        address = f"memory.replies.{uuid.uuid4().hex}"
        self._replies[address] = handler
        self._listening = True
        return address

    async def subscribe_events(self, patterns: list[str], subscriber: EventSubscriber) -> None:
        self._subscribers.extend((pattern, subscriber) for pattern in patterns)
        self._listening = True

    async def consume_commands(self, handler: CommandHandler, *, prefetch: int) -> None:
        self._in_flight = asyncio.Semaphore(prefetch)
        self._consumer = asyncio.create_task(self._consume(handler, self._in_flight))
        self._listening = True

    async def _consume(self, handler: CommandHandler, in_flight: asyncio.Semaphore) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await in_flight.acquire()
            envelope = await self._commands.get()
            task = asyncio.create_task(handler(MemoryIncomingCommand(self, envelope)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def stop_consuming(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None

    async def queue_depths(self) -> QueueDepths:
        return QueueDepths(waiting=self._commands.qsize(),
                           consumers=0 if self._consumer is None else 1,
                           dead_lettered=self._dead_lettered)

    def consumers_attached(self) -> bool:
        return self._listening

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        await self.stop_consuming()
        self._listening = False
