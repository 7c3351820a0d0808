"""The message bus as the gateway and the worker see it.

Two implementations: `common.amqp_bus.AmqpBus` (RabbitMQ, the real one) and
`common.memory_bus.MemoryBus` (one process, for `clientkeys dev` without a
broker). Both route and count the same way, so code above this line cannot tell
them apart; one contract suite (tests/integration/test_bus_contract.py) runs
against both.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class BrokerUnavailable(Exception):
    """The broker did not confirm a publish; the caller must not report success."""


class IncomingCommand(Protocol):
    body: bytes
    redelivered: bool
    reply_to: str | None
    message_id: str | None
    # The message's application headers, the command's MAC among them (common.command_mac).
    headers: Mapping[str, object]
    # How many deliveries of this message failed before this one (0 on the first try):
    # a quorum queue's x-delivery-count. A retry counts; a requeue does not (RabbitMQ
    # 4.3 on; older brokers count every return). tests/integration/test_bus_contract.py.
    previous_deliveries: int

    async def ack(self) -> None: ...

    async def requeue(self) -> None:
        """Give the message back untouched (shutting down); not counted as a failure."""

    async def retry(self) -> None:
        """Give the message back after a failure; counts towards the delivery limit."""

    async def dead_letter(self) -> None: ...


CommandHandler = Callable[[IncomingCommand], Coroutine[Any, Any, None]]
# (body, AMQP headers) of one outcome reply.
ReplyHandler = Callable[[bytes, Mapping[str, object]], None]
# (routing key, body, AMQP headers) of one event.
EventSubscriber = Callable[[str, bytes, Mapping[str, object]], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class QueueDepths:
    """What the commands queues hold right now, as the broker counts it."""

    waiting: int  # commands not yet handed to a worker
    consumers: int  # workers consuming from the commands queue
    dead_lettered: int  # commands set aside for an operator


class MessageBus(Protocol):
    async def publish_command(self, body: bytes, *, message_id: str, reply_to: str | None,
                              headers: Mapping[str, str]) -> None:
        """Persistent publish to the command queue; returns once the broker confirmed it.

        `headers` travel with the command as AMQP headers: its MAC (common.command_mac).

        Raises BrokerUnavailable otherwise.
        """

    async def publish_event(self, routing_key: str, body: bytes, *, message_id: str,
                            headers: Mapping[str, str],
                            correlation_id: str | None = None) -> None:
        """Persistent, confirmed publish to the events exchange; `headers` travel with
        the event as AMQP headers: its MAC (common.command_mac)."""

    async def publish_reply(self, reply_to: str, body: bytes, *, correlation_id: str,
                            headers: Mapping[str, str]) -> None:
        """Best-effort outcome to one gateway; the operation document is the record.
        `headers`: its MAC, as for an event."""

    async def listen_for_replies(self, handler: ReplyHandler) -> str:
        """Start receiving outcomes; returns the address to put in `reply_to`."""

    async def consume_commands(self, handler: CommandHandler, *, prefetch: int) -> None:
        """Start handing commands to `handler`, at most `prefetch` unacknowledged."""

    async def subscribe_events(self, patterns: list[str], subscriber: EventSubscriber) -> None:
        """Receive the events matching `patterns` on a queue of this process's own.

        The queue lives as long as the connection (declared again after a
        reconnect); events published while it was gone are not delivered to it.
        """

    async def stop_consuming(self) -> None:
        """Take no new commands; those already handed out may still be acked."""

    def consumers_attached(self) -> bool:
        """Whether every consumer this process started (replies, events, commands) is attached."""

    async def queue_depths(self) -> QueueDepths:
        """The commands queue and the dead-letter queue; BrokerUnavailable if it cannot tell."""

    def is_ready(self) -> bool:
        """Whether commands can be published and consumed right now."""

    async def close(self) -> None: ...
