"""The outbox relay: events leave a client's outbox for the events exchange.

The consumer calls `send` right after a change, which is the fast path, with
the outbox its write left (so it is not read again), and clears what was sent
beside recording the outcome. `run` sweeps,
every few seconds, the outboxes that stayed non-empty for a while — left
behind by a worker that crashed or lost the broker between its write and its
publish — so every stored event leaves even if no command ever touches that
client again. An event is marked sent only after the broker's confirm; it may
therefore leave twice, always with the same id, and the events of one client
leave in the order they were written.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from common.bus import MessageBus
from common.events import ClientEvent, encode_event
from common.store import Document, now
from worker.repository import ClientStore
from worker.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 5.0
# An outbox younger than this is left to the worker that just wrote it.
SWEEP_AFTER = timedelta(seconds=10)
SWEEP_BATCH = 100


class OutboxRelay:
    def __init__(self, bus: MessageBus, store: ClientStore, namespace: str,
                 metrics: WorkerMetrics) -> None:
        self._bus = bus
        self._store = store
        self._namespace = namespace
        self._metrics = metrics

    async def publish(self, client_key: str, outbox: list[Document] | None = None) -> int:
        """Publish the client's pending events in order and clear them; returns how many left.

        `outbox`: the client's outbox as the caller's own write left it (every
        event written before that write, oldest first); read here when not given.
        """
        if outbox is None:
            outbox = await self._store.pending_events(client_key)
        sent = await self.send(outbox)
        if sent:
            await self._store.events_sent(client_key, sent)
        return len(sent)

    async def send(self, outbox: list[Document]) -> list[str]:
        """Publish `outbox` in order, each event confirmed; the ids sent.

        The outbox is left as it is: the caller clears them (`ClientStore.events_sent`),
        in a round trip of its own choosing (the consumer, beside the outcome).
        """
        pending = [ClientEvent.from_document(d) for d in outbox]
        for event in pending:
            await self._bus.publish_event(event.routing_key,
                                          encode_event(event, self._namespace),
                                          message_id=event.id, correlation_id=event.request_id)
            self._metrics.events_published.labels(event.type.value).inc()
            self._metrics.event_publish.observe(max(0.0, (now() - event.time).total_seconds()))
        return [event.id for event in pending]

    async def sweep(self) -> int:
        """Publish every outbox left pending for longer than SWEEP_AFTER."""
        sent = 0
        for key in await self._store.stale_outboxes(now() - SWEEP_AFTER, SWEEP_BATCH):
            sent += await self.publish(key)
        if sent:
            log.warning("relay published %d event(s) left behind in outboxes", sent)
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep()
                self._metrics.outbox_backlog.set(await self._store.outbox_backlog())
            except Exception:  # an outage: the next sweep tries again
                log.warning("outbox sweep failed; retrying in %.0fs", SWEEP_EVERY_S,
                            exc_info=True)
