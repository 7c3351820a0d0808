"""How many MongoDB commands the worker sends per command, pinned.

Every round trip costs the database CPU, so a change that adds one to the
common path shows here. The commands are counted as the driver sends them
(a CommandListener): deterministic, not a timing.
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
    """(command name, collection) of every command the driver sends."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command[event.command_name])))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        return None

    def failed(self, event: CommandFailedEvent) -> None:
        return None


@dataclass
class CountedWorker:
    db: AsyncDatabase[Document]
    consumer: CommandConsumer
    bus: RecordingBus
    listener: SentCommands

    async def apply(self, command: Command) -> tuple[Outcome, list[tuple[str, str]]]:
        """The outcome of a command the gateway recorded, and what the worker sent."""
        await record_pending(self.db, command)
        self.listener.sent.clear()
        message = FakeMessage(encode_command(command))
        await self.consumer.on_message(message)
        assert message.settled == ["ack"]
        outcome = Outcome.decode(self.bus.replies[-1][1])
        assert outcome.status is OperationStatus.SUCCEEDED
        return outcome, list(self.listener.sent)


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


async def test_a_create_takes_five_round_trips(worker: CountedWorker) -> None:
    _, sent = await worker.apply(create_command())
    assert sent == [
        ("update", OPERATIONS),  # started, with the client's key claimed
        ("insert", CLIENTS),     # the client, its event in the outbox
        ("update", CLIENTS),     # the outbox cleared after the broker's confirm
        ("insert", AUDIT),       # the audit entry, before...
        ("update", OPERATIONS),  # ...the outcome
    ]
    assert [rk for rk, _ in worker.bus.events] == ["client.oidc.created"]


async def test_an_approve_takes_six_round_trips(worker: CountedWorker) -> None:
    created, _ = await worker.apply(create_command())
    assert created.client_key is not None
    approve = ApproveClient(id="approve-1", actor="bob", request_id="r2",
                            client_key=created.client_key)
    _, sent = await worker.apply(approve)
    assert sent == [
        ("findAndModify", OPERATIONS),  # started
        ("find", CLIENTS),              # the client read, to decide
        ("findAndModify", CLIENTS),     # the change and its event, at the version read
        ("update", CLIENTS),            # the outbox cleared after the broker's confirm
        ("insert", AUDIT),
        ("update", OPERATIONS),
    ]
    assert [rk for rk, _ in worker.bus.events] == ["client.oidc.created",
                                                   "client.oidc.approved"]
