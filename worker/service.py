"""The worker's lifetime: start consuming, and stop cleanly.

Stopping takes no new commands, lets every command in hand finish (and be
acked), then returns; a command whose write cannot finish goes back to the queue.
The worker is handed its bus and its store (`clientkeys.bootstrap.create_worker`
builds the real ones), so a test can hand it fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from common.bus import IncomingCommand, MessageBus
from common.keyring import SecretKeyring
from common.metrics import new_registry
from common.store import OPERATIONS_RETENTION_MIN_H
from worker.consumer import CommandConsumer
from worker.pending_sweep import PendingSweep
from worker.relay import OutboxRelay
from worker.repository import ClientStore
from worker.tombstone_purge import TombstonePurge
from worker.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, bus: MessageBus, store: ClientStore, *, namespace: str,
                 prefetch: int, keyring: SecretKeyring,
                 metrics: WorkerMetrics | None = None,
                 operations_kept: timedelta = timedelta(hours=OPERATIONS_RETENTION_MIN_H)
                 ) -> None:
        self._bus = bus
        self._prefetch = prefetch
        self._stopping = asyncio.Event()
        self.metrics = metrics if metrics is not None else WorkerMetrics(new_registry())
        self.relay = OutboxRelay(bus, store, namespace, self.metrics, keyring)
        # The keyring checks each command's MAC (common.command_mac) before anything else.
        self._consumer = CommandConsumer(bus, store, self.relay, self._stopping, self.metrics,
                                         keyring, operations_kept)
        self.consuming = False
        self._relay_task: asyncio.Task[None] | None = None
        # Set by the composition root when PENDING_REGISTRATION_TTL_DAYS is not 0.
        self.pending_sweep: PendingSweep | None = None
        # Set by the composition root when the store is MongoDB's.
        self.tombstone_purge: TombstonePurge | None = None
        self._background: list[asyncio.Task[None]] = []
        self._in_hand = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        await self._bus.consume_commands(self._on_message, prefetch=self._prefetch)
        self.consuming = True
        self.metrics.consuming.set(1)
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        if self.pending_sweep is not None:
            self._background.append(asyncio.create_task(
                self.pending_sweep.run(), name="pending-registration-sweep"))
        if self.tombstone_purge is not None:
            self._background.append(asyncio.create_task(
                self.tombstone_purge.run(), name="tombstone-purge"))
        log.info("worker consuming commands (prefetch %d)", self._prefetch)

    async def _on_message(self, message: IncomingCommand) -> None:
        self._in_hand += 1
        self._idle.clear()
        try:
            await self._consumer.on_message(message)
        finally:
            self._in_hand -= 1
            if self._in_hand == 0:
                self._idle.set()

    async def stop(self, timeout_s: float = 30.0) -> None:
        await self._bus.stop_consuming()
        self.consuming = False
        self.metrics.consuming.set(0)
        for task in (self._relay_task, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            # Give up on slow writes: they are not acked, so the broker redelivers them.
            self._stopping.set()
            log.warning("stopping with %d command(s) unfinished", self._in_hand)
            try:
                await asyncio.wait_for(self._idle.wait(), 10)
            except TimeoutError:
                log.warning("%d command(s) left unacknowledged; the broker will redeliver "
                            "them once this connection closes", self._in_hand)
        log.info("worker stopped")
