"""The RabbitMQ topology, declared once, as values.

Every exchange, queue and binding of a namespace, with its arguments and
routing key, is a value of this module; every declaration loops over them:
the message bus (`common.amqp_bus`), the dead-letter tool, the events tail,
the AsyncAPI document, and the check of deploy/rabbitmq/definitions.json.
Nobody else spells a queue name or a routing key.

Every message travels through a named exchange, never the default one: the
default exchange cannot be bound to, so a message sent through it could not be
observed by an auditing or test queue. Commands go through the direct exchange
`<ns>.commands` to the quorum queue of the same name; outcomes through the
direct exchange `<ns>.replies` to each gateway's own reply queue, bound with
its name as routing key (that name is what `reply_to` carries); events through
the topic exchange `<ns>.events`, routing key `client.<type>.<event>`.

The durable part (`exchanges`, `queues`, `bindings`) exists once per namespace;
a process's own queues (`own_reply_queue`, `own_events_queue`) are
exclusive, go away with its connection, and are bound as their value says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# A command that fails this many deliveries is dead-lettered instead of looping.
COMMAND_DELIVERY_LIMIT = 10
# Every event, whatever its client type: what a gateway binds its one events queue with.
ALL_EVENTS = "client.#"

ExchangeKind = Literal["direct", "topic"]


def event_routing_key(client_type: str, event: str) -> str:
    """`client.<type>.<event>`: the routing key of an event on the events exchange."""
    return f"client.{client_type}.{event}"


# Events about initial access tokens (common.token_events), on the same exchange.
TOKEN_EVENTS = "registration_token.#"


def token_event_routing_key(event: str) -> str:
    """`registration_token.<created|revoked>`: an initial access token's event."""
    return f"registration_token.{event}"


@dataclass(frozen=True)
class Exchange:
    name: str
    kind: ExchangeKind


@dataclass(frozen=True)
class Queue:
    """A queue as declared: durable and shared, or exclusive to one connection."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    durable: bool = True

    @property
    def exclusive(self) -> bool:
        # A process's own queue: gone with its connection, however the process ends.
        return not self.durable


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class OwnQueue:
    """A process's own queue and the bindings that feed it."""

    queue: Queue
    bindings: tuple[Binding, ...]


@dataclass(frozen=True)
class Topology:
    namespace: str

    @property
    def commands_exchange(self) -> str:
        """Direct exchange in front of the commands queue."""
        return f"{self.namespace}.commands"

    @property
    def commands_queue(self) -> str:
        """Durable quorum queue the workers compete on."""
        return f"{self.namespace}.commands"

    @property
    def commands_routing_key(self) -> str:
        return self.commands_queue

    @property
    def replies_exchange(self) -> str:
        """Direct exchange for outcomes; one binding per gateway's reply queue."""
        return f"{self.namespace}.replies"

    def event_subscriber_queue(self, subscriber_id: str) -> str:
        """A gateway's own queue on the events exchange (read model and live streams)."""
        return f"{self.namespace}.events.{subscriber_id}"

    def subscriber_queue(self, name: str) -> str:
        """A subscribing service's queue on the events exchange (`clientkeys events tail`'s too).

        The subscriber broker user may declare, bind and read queues of this prefix and
        nothing else but the events exchange (deploy/rabbitmq/definitions.json).
        """
        return f"{self.namespace}.subscriber.{name}"

    def reply_queue(self, gateway_id: str) -> str:
        """A gateway's exclusive reply queue; also its routing key on the replies exchange."""
        return f"{self.namespace}.replies.{gateway_id}"

    @property
    def events_exchange(self) -> str:
        """Topic exchange; routing key `client.<type>.<event>` (`event_routing_key`)."""
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.commands.dead"

    # -- the table -----------------------------------------------------------------

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        """Every exchange a message of this namespace can pass through (all durable)."""
        return (Exchange(self.commands_exchange, "direct"),
                Exchange(self.replies_exchange, "direct"),
                Exchange(self.events_exchange, "topic"),
                Exchange(self.dead_letter_exchange, "direct"))

    @property
    def queues(self) -> tuple[Queue, ...]:
        """The durable queues: commands (dead-lettered after the delivery limit) and the
        dead letters'. Listed after the exchanges, as they are declared."""
        return (Queue(self.dead_letter_queue, {"x-queue-type": "quorum"}),
                Queue(self.commands_queue, {
                    "x-queue-type": "quorum",
                    "x-delivery-limit": COMMAND_DELIVERY_LIMIT,
                    "x-dead-letter-exchange": self.dead_letter_exchange,
                    "x-dead-letter-routing-key": self.dead_letter_queue,
                }))

    @property
    def bindings(self) -> tuple[Binding, ...]:
        """The durable bindings: each durable queue to its exchange."""
        return (Binding(self.dead_letter_exchange, self.dead_letter_queue,
                        self.dead_letter_queue),
                Binding(self.commands_exchange, self.commands_queue,
                        self.commands_routing_key))

    def queue(self, name: str) -> Queue:
        """The durable queue `name` of the table."""
        (found,) = (queue for queue in self.queues if queue.name == name)
        return found

    def exchange(self, name: str) -> Exchange:
        (found,) = (exchange for exchange in self.exchanges if exchange.name == name)
        return found

    def own_reply_queue(self, gateway_id: str) -> OwnQueue:
        """A gateway's reply queue, bound to the replies exchange with its own name."""
        name = self.reply_queue(gateway_id)
        return OwnQueue(Queue(name, durable=False),
                        (Binding(self.replies_exchange, name, name),))

    def own_events_queue(self, name: str, patterns: Iterable[str]) -> OwnQueue:
        """A queue of `name` on the events exchange, bound with each of `patterns`."""
        return OwnQueue(Queue(name, durable=False),
                        tuple(Binding(self.events_exchange, name, pattern)
                              for pattern in patterns))

    def fixed_routing_keys(self, exchange: str) -> tuple[str, ...]:
        """The routing keys a direct exchange is used with, where they are fixed.

        The replies exchange has none: each gateway's key is made at its start.
        """
        return tuple(b.routing_key for b in self.bindings if b.exchange == exchange)

    def commands_queue_arguments(self) -> dict[str, Any]:
        return dict(self.queue(self.commands_queue).arguments)

    def dead_letter_queue_arguments(self) -> dict[str, Any]:
        return dict(self.queue(self.dead_letter_queue).arguments)
