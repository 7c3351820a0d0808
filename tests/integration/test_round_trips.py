"""How many MongoDB round trips the worker makes per command, and what each is, pinned.

Every command costs the database CPU and every round trip the caller time, so
a change that adds one to the common path shows here. The commands are
recorded as the driver sends them (a CommandListener) and grouped into round
trips: commands sent while others are still waiting for their answer share
one. Deterministic, not a timing. Query shapes (each served by an index) are
pinned in test_query_shapes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
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
from common.commands import ApproveClient, Command, encode_command
from common.outcomes import OperationStatus, Outcome
from common.store import AUDIT, CLIENTS, OPERATIONS, Document, database, ensure_indexes
from tests.fakes import FAKE_KEYRING, FakeMessage, RecordingBus
from tests.unit.test_worker_handlers import create_command
from worker.consumer import CommandConsumer
from worker.relay import OutboxRelay
from worker.repository import MongoClientStore
from worker.worker_metrics import WorkerMetrics


@dataclass
class SentCommands(CommandListener):
    """(command name, collection) of every command the driver sends, in round trips."""

    trips: list[list[tuple[str, str]]] = field(default_factory=list)
    waiting: set[int] = field(default_factory=set)
    # Every command as sent, for test_query_shapes.
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
        self.commands.clear()


@dataclass
class CountedWorker:
    db: AsyncDatabase[Document]
    consumer: CommandConsumer
    bus: RecordingBus
    listener: SentCommands

    async def apply(self, command: Command) -> tuple[Outcome, list[list[tuple[str, str]]]]:
        """The outcome of a command the gateway recorded, and the worker's round trips
        (the commands of each sorted: those sent together go in any order)."""
        await record_pending(self.db, command)
        # Connections for the commands sent together, so none waits for one to open.
        await asyncio.gather(*(self.db.command("ping") for _ in range(4)))
        self.listener.clear()
        message = FakeMessage(encode_command(command))
        await self.consumer.on_message(message)
        assert message.settled == ["ack"]
        outcome = Outcome.decode(self.bus.replies[-1][1])
        assert outcome.status is OperationStatus.SUCCEEDED
        return outcome, [sorted(trip) for trip in self.listener.trips]


@pytest.fixture
async def worker(mongodb_uri: str) -> AsyncIterator[CountedWorker]:
    listener = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[listener])
    db = database(client)
    await ensure_indexes(db)
    store = MongoClientStore(db)
    bus = RecordingBus()
    metrics = WorkerMetrics(CollectorRegistry())
    consumer = CommandConsumer(bus, store, OutboxRelay(bus, store, "ns", metrics),
                               asyncio.Event(), metrics, FAKE_KEYRING)
    yield CountedWorker(db, consumer, bus, listener)
    await client.close()


async def test_a_create_takes_three_round_trips(worker: CountedWorker) -> None:
    _, trips = await worker.apply(create_command())
    assert trips == [
        # 1. The operation started, the client's key claimed in the same write; an
        #    update_one that matches only a pending operation (a finished or withdrawn
        #    one collides on _id and only then is read).
        [("update", OPERATIONS)],
        # 2. The client, with its `created` event in the outbox.
        [("insert", CLIENTS)],
        # (the event published, confirmed by the broker)
        # 3. Together: the audit entry, the outbox cleared, the outcome.
        sorted([("insert", AUDIT), ("update", CLIENTS), ("update", OPERATIONS)]),
    ]
    assert [rk for rk, _ in worker.bus.events] == ["client.oidc.created"]


async def test_an_approve_takes_three_round_trips(worker: CountedWorker) -> None:
    created, _ = await worker.apply(create_command())
    assert created.client_key is not None
    approve = ApproveClient(id="approve-1", actor="bob", request_id="r2",
                            client_key=created.client_key)
    _, trips = await worker.apply(approve)
    assert trips == [
        # 1. Together: the operation started, and the client read to decide.
        sorted([("update", OPERATIONS), ("find", CLIENTS)]),
        # 2. The change and its event, an update_one guarded by the version (and
        #    outbox) read: the document it leaves is computed, not read back.
        [("update", CLIENTS)],
        # (the event published, confirmed by the broker)
        # 3. Together: the audit entry, the outbox cleared, the outcome.
        sorted([("insert", AUDIT), ("update", CLIENTS), ("update", OPERATIONS)]),
    ]
    assert [rk for rk, _ in worker.bus.events] == ["client.oidc.created",
                                                   "client.oidc.approved"]
    client = await worker.db[CLIENTS].find_one({"key": created.client_key})
    assert client is not None and client["status"] == "approved" and client["outbox"] == []
    assert await worker.db[AUDIT].find_one({"_id": "approve-1"}) is not None


async def test_a_redelivered_finished_command_is_answered_from_its_operation(
        worker: CountedWorker) -> None:
    command = create_command()
    await worker.apply(command)
    worker.listener.clear()
    message = FakeMessage(encode_command(command), redelivered=True)
    await worker.consumer.on_message(message)
    assert message.settled == ["ack"]
    assert worker.listener.trips == [
        [("update", OPERATIONS)],  # the start matches no pending operation: collides
        [("find", OPERATIONS)],    # so the operation is read: finished
        [("insert", AUDIT)],       # its audit entry, in case it was lost (a no-op here)
    ]
    assert await worker.db[CLIENTS].count_documents({}) == 1
