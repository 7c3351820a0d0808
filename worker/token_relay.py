"""Publishes the events of initial access tokens from their outboxes.

The gateway writes a token and its event in one write (common.registration_tokens);
each worker polls every second for outboxes waiting (the sparse index
on `outbox_since`: a read of the few tokens with events waiting, never a scan),
publishes their events with confirms, oldest first, and drops them from the
outbox. Several workers may publish the same event: delivery is at least once,
as for client events, and the event `id` (the AMQP `message_id`) lets
subscribers drop the second copy.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase

from common.bus import MessageBus
from common.registration_tokens import events_sent, waiting_outboxes
from common.store import Document, now
from common.token_events import RegistrationTokenEvent, encode_token_event

log = logging.getLogger(__name__)

POLL_EVERY_S: Final = 1.0
BATCH: Final = 100


class TokenEventRelay:
    def __init__(self, db: AsyncDatabase[Document], bus: MessageBus, namespace: str,
                 every_s: float = POLL_EVERY_S) -> None:
        self._db, self._bus, self._namespace, self._every_s = db, bus, namespace, every_s

    async def publish_waiting(self) -> int:
        """Publish every waiting token event; returns how many were confirmed."""
        sent = 0
        # Every outbox waiting now (`outbox_since` is at millisecond precision).
        waiting = await waiting_outboxes(self._db, now() + timedelta(milliseconds=1), BATCH)
        for token_id, outbox in waiting:
            confirmed: list[str] = []
            for stored in outbox:
                event = RegistrationTokenEvent.from_document(stored)
                await self._bus.publish_event(event.routing_key,
                                              encode_token_event(event, self._namespace),
                                              message_id=event.id)
                confirmed.append(event.id)
            if confirmed:
                await events_sent(self._db, token_id, confirmed)
                sent += len(confirmed)
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.publish_waiting()
            except Exception:  # an outage: the next poll tries again
                log.warning("token event relay failed; retrying in %.0fs", self._every_s,
                            exc_info=True)
            await asyncio.sleep(self._every_s)
