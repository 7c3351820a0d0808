"""The outbox relay: events leave an outbox for the events exchange.

Clients and initial access tokens keep their events in an outbox of their own
(`worker.applied.Outboxes`: the client store, and its `tokens`). The consumer
calls `send` right after a change, which is the fast path, with the outbox its
write left (so it is not read again), and clears what was sent beside recording
the outcome. `run` sweeps, every few seconds, the outboxes of both that stayed
non-empty for a while — left behind by a worker that crashed or lost the broker
between its write and its publish — so every stored event leaves even if no
command ever touches that document again. An event is marked sent only after
the broker's confirm; it may therefore leave twice, always with the same id,
and the events of one client (or token) leave in the order they were written.
Each carries a MAC (common.command_mac), so that a gateway applies
to its read model only events a worker published.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from common.bus import MessageBus
from common.command_mac import sign_event
from common.events import encode_event, event_from_document
from common.keyring import SecretKeyring
from common.store import Document, now
from worker.applied import Outboxes
from worker.repository import ClientStore
from worker.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 5.0
# An outbox younger than this is left to the worker that just wrote it.
SWEEP_AFTER = timedelta(seconds=10)
SWEEP_BATCH = 100


class OutboxRelay:
    def __init__(self, bus: MessageBus, store: ClientStore, namespace: str,
                 metrics: WorkerMetrics, keyring: SecretKeyring) -> None:
        self._bus = bus
        self._store = store
        self._namespace = namespace
        self._metrics = metrics
        self._keyring = keyring

    async def publish(self, owner: str, outbox: list[Document] | None = None, *,
                      kept_in: Outboxes | None = None) -> int:
        """Publish the pending events of `owner` in order and clear them; returns how many left.

        `kept_in`: its outboxes (default: the clients'); `outbox`: its outbox as the
        caller's own write left it (every event written before that write, oldest
        first); read here when not given.
        """
        outboxes = self._store if kept_in is None else kept_in
        if outbox is None:
            outbox = await outboxes.pending_events(owner)
        sent = await self.send(outbox)
        if sent:
            await outboxes.events_sent(owner, sent)
        return len(sent)

    async def send(self, outbox: list[Document]) -> list[str]:
        """Publish `outbox` in order, each event confirmed; the ids sent.

        The outbox is left as it is: the caller clears them (`Outboxes.events_sent`),
        in a round trip of its own choosing (the consumer, beside the outcome).
        """
        pending = [event_from_document(d) for d in outbox]
        for event in pending:
            body = encode_event(event, self._namespace)
            await self._bus.publish_event(
                event.routing_key, body, message_id=event.id, correlation_id=event.request_id,
                headers=sign_event(self._keyring, event.routing_key, body))
            self._metrics.events_published.labels(event.type.value).inc()
            self._metrics.event_publish.observe(max(0.0, (now() - event.time).total_seconds()))
        return [event.id for event in pending]

    def _outboxes(self) -> tuple[Outboxes, ...]:
        return (self._store, self._store.tokens)

    async def sweep(self) -> int:
        """Publish every outbox left pending for longer than SWEEP_AFTER."""
        sent = 0
        for outboxes in self._outboxes():
            for owner in await outboxes.stale_outboxes(now() - SWEEP_AFTER, SWEEP_BATCH):
                sent += await self.publish(owner, kept_in=outboxes)
        if sent:
            log.warning("relay published %d event(s) left behind in outboxes", sent)
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep()
                self._metrics.outbox_backlog.set(
                    sum([await outboxes.outbox_backlog() for outboxes in self._outboxes()]))
            except Exception:  # an outage: the next sweep tries again
                log.warning("outbox sweep failed; retrying in %.0fs", SWEEP_EVERY_S,
                            exc_info=True)
