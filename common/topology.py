"""The RabbitMQ topology, declared once, as values.

Every exchange and queue name is derived from the namespace here; nobody else
spells a queue name. `common.amqp_bus` declares exactly what is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A command that fails this many deliveries is dead-lettered instead of looping.
COMMAND_DELIVERY_LIMIT = 10


@dataclass(frozen=True)
class Topology:
    namespace: str

    @property
    def commands_queue(self) -> str:
        """Durable quorum queue the workers compete on."""
        return f"{self.namespace}.commands"

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

    def commands_queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": COMMAND_DELIVERY_LIMIT,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.dead_letter_queue,
        }

    def dead_letter_queue_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"}
