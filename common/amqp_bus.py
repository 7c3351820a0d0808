"""The message bus on RabbitMQ, with aio-pika.

Declares the topology of `common.topology` and nothing else, by looping over
its table (`declare_queue` and `declare_own_queue` serve the other processes
that declare: the events tail and the dead-letter tool). Commands and
events are persistent and published with publisher confirms on a channel that
raises on returned (unroutable) messages, so "published" always means "the
broker has it": a command published while no queue is bound to the commands
exchange comes back as returned and is reported as BrokerUnavailable.
Connections are robust: aio-pika reconnects and re-declares exchanges, queues,
bindings and consumers by itself after a broker restart.

The durable topology (the four exchanges, the commands and dead-letter queues
and their bindings) is declared only where it does not exist yet (a broker of
one's own, tests). Where it exists, as deploy/rabbitmq/definitions.json makes
it, each process only checks it passively, so a process's broker user needs no
configure permission on it: each may configure only queues of its own
(deploy/README.md, "Broker users").
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, AMQPError, ChannelNotFoundEntity

from common.bus import (
    BrokerUnavailable,
    CommandHandler,
    EventSubscriber,
    QueueDepths,
    ReplyHandler,
)
from common.media_types import EVENT_CONTENT_TYPE, JSON_TYPE
from common.settings import Settings, Unreachable
from common.topology import Exchange, OwnQueue, Queue, Topology

log = logging.getLogger(__name__)

# How long a stopping process waits for the broker to answer its close.
CLOSE_TIMEOUT_S = 10.0

_PUBLISH_ERRORS = (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError)
# How soon a lost connection is tried again (aio-pika's default is 5 s).
RECONNECT_INTERVAL_S = 1
# Events a subscriber holds unacknowledged at most (bounds its memory).
EVENT_PREFETCH = 100


async def declare_queue(channel: AbstractChannel, queue: Queue, *,
                        passive: bool = False) -> AbstractQueue:
    """Declare (or, `passive`, only check) one queue of the table as it says."""
    return await channel.declare_queue(
        queue.name, durable=queue.durable, exclusive=queue.exclusive,
        auto_delete=queue.exclusive, arguments=dict(queue.arguments) or None, passive=passive)


async def declare_exchanges(channel: AbstractChannel, exchanges: Iterable[Exchange], *,
                            passive: bool) -> dict[str, AbstractExchange]:
    """Declare (or, `passive`, only check) exchanges of the table, by name."""
    return {exchange.name: await channel.declare_exchange(
        exchange.name, aio_pika.ExchangeType(exchange.kind), durable=True, passive=passive)
        for exchange in exchanges}


async def declare_own_queue(channel: AbstractChannel, topology: Topology, own: OwnQueue, *,
                            passive_exchanges: bool) -> AbstractQueue:
    """A process's own queue, bound as the table says to exchanges declared on the same
    channel (so a robust channel declares them again after a reconnect), or only checked
    with `passive_exchanges` (ChannelNotFoundEntity if one is missing)."""
    exchanges = await declare_exchanges(
        channel, [topology.exchange(name) for name in dict.fromkeys(
            binding.exchange for binding in own.bindings)], passive=passive_exchanges)
    queue = await declare_queue(channel, own.queue)
    for binding in own.bindings:
        await queue.bind(exchanges[binding.exchange], routing_key=binding.routing_key)
    return queue


async def _declare_durable(channel: AbstractChannel,
                           topology: Topology) -> dict[str, AbstractExchange]:
    """The durable exchanges, queues and bindings of the table, on a broker without them."""
    exchanges = await declare_exchanges(channel, topology.exchanges, passive=False)
    queues = {queue.name: await declare_queue(channel, queue) for queue in topology.queues}
    for binding in topology.bindings:
        await queues[binding.queue].bind(exchanges[binding.exchange],
                                         routing_key=binding.routing_key)
    return exchanges


class AmqpIncomingCommand:
    def __init__(self, message: AbstractIncomingMessage) -> None:
        self._message = message
        self.body = message.body
        self.redelivered = bool(message.redelivered)
        self.reply_to = message.reply_to
        self.message_id = message.message_id
        self.headers: Mapping[str, object] = message.headers or {}
        # Quorum queues count deliveries in this header; absent on the first one.
        count = self.headers.get("x-delivery-count", 0)
        self.previous_deliveries = count if isinstance(count, int) else 0

    async def _settle(self, settle: Callable[[], Awaitable[Any]], what: str) -> None:
        try:
            await settle()
        except _PUBLISH_ERRORS:
            # The channel it came on is gone; the broker hands the message out
            # again, and its recorded operation keeps it from being applied twice.
            log.warning("could not %s message %s: the connection was lost; the broker "
                        "will redeliver it", what, self._message.message_id)

    async def ack(self) -> None:
        await self._settle(self._message.ack, "ack")

    async def requeue(self) -> None:
        await self._settle(lambda: self._message.nack(requeue=True), "requeue")

    async def retry(self) -> None:
        # basic.reject increments a quorum queue's x-delivery-count on every
        # RabbitMQ version (basic.nack no longer does from 4.3 on).
        await self._settle(lambda: self._message.reject(requeue=True), "retry")

    async def dead_letter(self) -> None:
        await self._settle(lambda: self._message.reject(requeue=False), "dead-letter")


class AmqpBus:
    """One robust connection, one confirming channel for publishing, one for consuming."""

    def __init__(self, connection: AbstractRobustConnection, topology: Topology,
                 publish_timeout_s: float) -> None:
        self._connection = connection
        self._topology = topology
        self._timeout = publish_timeout_s
        self._publish_channel: AbstractChannel | None = None
        self._commands_exchange: AbstractExchange | None = None
        self._replies: AbstractExchange | None = None
        self._events: AbstractExchange | None = None
        self._consume_channel: AbstractChannel | None = None
        self._commands: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        # Channels that consume (replies, event subscriptions, commands).
        self._consuming: list[AbstractChannel] = []
        # The durable topology existed at start: it is only checked, never declared.
        self._passive = False

    @classmethod
    async def connect(cls, url: str, topology: Topology, *,
                      publish_timeout_s: float = 5.0) -> AmqpBus:
        connection = await aio_pika.connect_robust(
            url, reconnect_interval=RECONNECT_INTERVAL_S,
            client_properties={"connection_name": f"clientkeys {topology.namespace}"})
        bus = cls(connection, topology, publish_timeout_s)
        try:
            await bus._declare()
        except BaseException:
            await connection.close()
            raise
        return bus

    async def _topology_exists(self) -> bool:
        """Whether every durable exchange and queue is there (passive declares need no
        permission); on a channel of its own, since a failed one closes its channel."""
        t = self._topology
        try:
            async with self._connection.channel(publisher_confirms=False) as channel:
                for exchange in t.exchanges:
                    await channel.declare_exchange(exchange.name, passive=True, robust=False)
                for queue in t.queues:
                    await channel.declare_queue(queue.name, passive=True, robust=False)
        except ChannelNotFoundEntity:
            return False
        return True

    async def _declare(self) -> None:
        t = self._topology
        self._passive = await self._topology_exists()
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._publish_channel = channel
        published = (await declare_exchanges(channel, t.exchanges, passive=True)
                     if self._passive else await _declare_durable(channel, t))
        self._commands_exchange = published[t.commands_exchange]
        self._replies = published[t.replies_exchange]
        self._events = published[t.events_exchange]

    def is_ready(self) -> bool:
        """Connected, with the publishing channel open (and consuming, if asked to)."""
        channels = [self._publish_channel]
        if self._consumer_tag is not None:
            channels.append(self._consume_channel)
        return not self._connection.is_closed and all(
            channel is not None and not channel.is_closed for channel in channels)

    def consumers_attached(self) -> bool:
        """Every consumer this bus started is on an open channel (none started: False)."""
        return (bool(self._consuming) and not self._connection.is_closed
                and not any(channel.is_closed for channel in self._consuming))

    async def _publish(self, exchange: AbstractExchange, routing_key: str,
                       message: aio_pika.Message, *, mandatory: bool = True) -> None:
        try:
            await exchange.publish(message, routing_key, mandatory=mandatory,
                                   timeout=self._timeout)
        except _PUBLISH_ERRORS as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: the broker did not confirm") from exc

    async def publish_command(self, body: bytes, *, message_id: str, reply_to: str | None,
                              headers: Mapping[str, str]) -> None:
        assert self._commands_exchange is not None
        message = aio_pika.Message(
            body, headers=dict(headers), message_id=message_id, correlation_id=message_id,
            reply_to=reply_to,
            content_type=JSON_TYPE, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self._publish(self._commands_exchange, self._topology.commands_routing_key,
                            message)

    async def publish_event(self, routing_key: str, body: bytes, *, message_id: str,
                            headers: Mapping[str, str],
                            correlation_id: str | None = None) -> None:
        assert self._events is not None
        message = aio_pika.Message(
            body, message_id=message_id, correlation_id=correlation_id, headers=dict(headers),
            content_type=EVENT_CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        # Not mandatory: an event nobody subscribes to yet is not an error.
        await self._publish(self._events, routing_key, message, mandatory=False)

    async def publish_reply(self, reply_to: str, body: bytes, *, correlation_id: str,
                            headers: Mapping[str, str]) -> None:
        assert self._replies is not None
        message = aio_pika.Message(body, correlation_id=correlation_id, headers=dict(headers),
                                   content_type=JSON_TYPE)
        try:
            # Not mandatory: a gateway that has gone away has no queue, and the
            # operation document holds the outcome anyway.
            await self._publish(self._replies, reply_to, message, mandatory=False)
        except BrokerUnavailable:
            log.warning("outcome reply for %s not sent; the operation holds it", correlation_id)

    async def listen_for_replies(self, handler: ReplyHandler) -> str:
        channel = await self._connection.channel(publisher_confirms=False)
        # Our own name (not a server-generated one) so the robust channel can
        # declare and bind the same queue again after a reconnect.
        own = self._topology.own_reply_queue(uuid.uuid4().hex)
        queue = await declare_own_queue(channel, self._topology, own,
                                        passive_exchanges=self._passive)

        async def on_reply(message: AbstractIncomingMessage) -> None:
            handler(message.body, message.headers or {})

        await queue.consume(on_reply, no_ack=True)
        self._consuming.append(channel)
        return own.queue.name

    async def subscribe_events(self, patterns: list[str], subscriber: EventSubscriber) -> None:
        channel = await self._connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=EVENT_PREFETCH)
        # Our own name, so the robust channel declares and binds it again after a reconnect.
        t = self._topology
        queue = await declare_own_queue(
            channel, t, t.own_events_queue(t.event_subscriber_queue(uuid.uuid4().hex), patterns),
            passive_exchanges=self._passive)

        async def on_event(message: AbstractIncomingMessage) -> None:
            async with message.process(ignore_processed=True):
                await subscriber(message.routing_key or "", message.body,
                                 message.headers or {})

        await queue.consume(on_event)
        self._consuming.append(channel)

    async def consume_commands(self, handler: CommandHandler, *, prefetch: int) -> None:
        channel = await self._connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=prefetch)
        t = self._topology
        queue = await declare_queue(channel, t.queue(t.commands_queue), passive=self._passive)

        async def on_command(message: AbstractIncomingMessage) -> None:
            await handler(AmqpIncomingCommand(message))

        self._consume_channel, self._commands = channel, queue
        self._consumer_tag = await queue.consume(on_command)
        self._consuming.append(channel)

    async def stop_consuming(self) -> None:
        if self._commands is not None and self._consumer_tag is not None:
            try:
                await self._commands.cancel(self._consumer_tag)
            except _PUBLISH_ERRORS:
                log.warning("could not cancel the command consumer; closing will end it")
            self._consumer_tag = None

    async def queue_depths(self) -> QueueDepths:
        t = self._topology
        try:
            # A channel of its own: a failed passive declare closes the channel it ran on.
            async with asyncio.timeout(self._timeout):
                async with self._connection.channel(publisher_confirms=False) as channel:
                    commands = await channel.declare_queue(t.commands_queue, passive=True)
                    dead = await channel.declare_queue(t.dead_letter_queue, passive=True)
        except (*_PUBLISH_ERRORS, AMQPError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: queue depths unknown") from exc
        counted, set_aside = commands.declaration_result, dead.declaration_result
        return QueueDepths(waiting=counted.message_count or 0,
                           consumers=counted.consumer_count or 0,
                           dead_lettered=set_aside.message_count or 0)

    async def close(self) -> None:
        """Close the connection; a broker that never answers the close cannot hold a
        stopping process: after CLOSE_TIMEOUT_S the close is given up and logged (once a
        broker dropped a connection with a channel error, aiormq waited on a Channel.Close
        reply that never came)."""
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._connection.close()
        except TimeoutError:
            log.warning("the broker did not answer the close within %.0f s; "
                        "stopping without it", CLOSE_TIMEOUT_S)

    async def delete_topology(self) -> None:
        """Remove every queue and exchange of this namespace (for test runs)."""
        channel: Any = await self._connection.channel()
        t = self._topology
        for queue in t.queues:
            await channel.queue_delete(queue.name)
        for exchange in t.exchanges:
            await channel.exchange_delete(exchange.name)
        await channel.close()


async def connect_bus(settings: Settings) -> AmqpBus:
    """The bus of a gateway or worker; Unreachable (one clear line) if the broker is not there."""
    try:
        return await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace),
                                     publish_timeout_s=settings.publish_timeout_s)
    except _PUBLISH_ERRORS as exc:
        raise Unreachable("RabbitMQ", settings.amqp_url, exc) from None
