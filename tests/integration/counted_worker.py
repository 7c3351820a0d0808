"""A worker on a real MongoDB-wire server whose every database command is recorded.

For the tests that pin what a command costs: round trips (test_round_trips.py)
and query shapes (test_query_shapes.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from api.views.operations import record_pending
from common.commands import Command, encode_command
from common.outcome_replies import OutcomeReply
from common.outcomes import OperationStatus, Outcome
from common.store import Document, database, ensure_indexes
from tests.fakes import FAKE_KEYRING, FakeMessage, RecordingBus
from worker.consumer import CommandConsumer
from worker.relay import OutboxRelay
from worker.repository import MongoClientStore
from worker.worker_metrics import WorkerMetrics


@dataclass
class SentCommands(CommandListener):
    """(command name, collection) of every command the driver sends, in round trips."""

    trips: list[list[tuple[str, str]]] = field(default_factory=list)
    waiting: set[int] = field(default_factory=set)
    # Every command as sent since the start (not cleared), for test_query_shapes.
    commands: list[tuple[str, Document]] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name in ("ping", "endSessions"):
            return
        if not self.waiting:  # nothing in flight: a new round trip
            self.trips.append([])
        self.waiting.add(event.request_id)
        self.trips[-1].append((event.command_name, str(event.command[event.command_name])))
        self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self.waiting.discard(event.request_id)

    def failed(self, event: CommandFailedEvent) -> None:
        self.waiting.discard(event.request_id)

    def clear(self) -> None:
        self.trips.clear()


@dataclass
class CountedWorker:
    db: AsyncDatabase[Document]
    consumer: CommandConsumer
    bus: RecordingBus
    listener: SentCommands

    async def apply(self, command: Command, *, recorded: bool = False
                    ) -> tuple[Outcome, list[list[tuple[str, str]]]]:
        """The outcome of a command, and the worker's round trips (the commands of each
        sorted: those sent together go in any order). Its operation is recorded by the
        worker's start, as on the usual path, or first as a gateway does (`recorded`:
        an Idempotency-Key request, api.views.dispatch)."""
        if recorded:
            await record_pending(self.db, command)
        # Connections for the commands sent together, so none waits for one to open.
        await asyncio.gather(*(self.db.command("ping") for _ in range(4)))
        self.listener.clear()
        message = FakeMessage(encode_command(command))
        await self.consumer.on_message(message)
        assert message.settled == ["ack"]
        outcome = OutcomeReply.decode(self.bus.replies[-1][1]).outcome
        assert outcome.status is OperationStatus.SUCCEEDED
        return outcome, [sorted(trip) for trip in self.listener.trips]


@asynccontextmanager
async def counted_worker(mongodb_uri: str) -> AsyncIterator[CountedWorker]:
    listener = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[listener])
    db = database(client)
    await ensure_indexes(db)
    store = MongoClientStore(db)
    bus = RecordingBus()
    metrics = WorkerMetrics(CollectorRegistry())
    consumer = CommandConsumer(bus, store, OutboxRelay(bus, store, "ns", metrics, FAKE_KEYRING),
                               asyncio.Event(), metrics, FAKE_KEYRING)
    try:
        yield CountedWorker(db, consumer, bus, listener)
    finally:
        await client.close()
