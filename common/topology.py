"""The RabbitMQ topology, declared once, as values.

Every exchange and queue name is derived from the namespace here; nobody else
spells a queue name. `common.amqp_bus` declares exactly what is listed.

Every message travels through a named exchange, never the default one: the
default exchange cannot be bound to, so a message sent through it could not be
observed by an auditing or test queue. Commands go through the direct exchange
`<ns>.commands` to the quorum queue of the same name; outcomes through the
direct exchange `<ns>.replies` to each gateway's own reply queue, bound with
its name as routing key (that name is what `reply_to` carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# A command that fails this many deliveries is dead-lettered instead of looping.
COMMAND_DELIVERY_LIMIT = 10

ExchangeKind = Literal["direct", "topic"]


@dataclass(frozen=True)
class Exchange:
    name: str
    kind: ExchangeKind


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
        """A process's own exclusive queue on the events exchange (a gateway's read model)."""
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
        """Topic exchange; routing key `client.<type>.<event>`."""
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.commands.dead"

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        """Every exchange a message of this namespace can pass through."""
        return (Exchange(self.commands_exchange, "direct"),
                Exchange(self.replies_exchange, "direct"),
                Exchange(self.events_exchange, "topic"),
                Exchange(self.dead_letter_exchange, "direct"))

    def fixed_routing_keys(self, exchange: str) -> tuple[str, ...]:
        """The routing keys a direct exchange is used with, where they are fixed.

        The replies exchange has none: each gateway's key is made at its start.
        """
        return {self.commands_exchange: (self.commands_routing_key,),
                self.dead_letter_exchange: (self.dead_letter_queue,)}.get(exchange, ())

    def commands_queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": COMMAND_DELIVERY_LIMIT,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.dead_letter_queue,
        }

    def dead_letter_queue_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"}
