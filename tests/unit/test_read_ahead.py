"""The consumer's first round trip: the operation started beside the client's read.

With the in-memory store: the handler is handed the read the consumer already
made (once: a write that lost a race reads again), and the audit entry of a
command whose outcome was recorded without it is appended on its redelivery,
but never for a command the gateway withdrew.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import CollectorRegistry

from common.client_documents import ClientDocument
from common.commands import ApproveClient, encode_command
from common.operations_store import Started
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from tests.fakes import FAKE_KEYRING, FakeMessage, InMemoryClientStore, RecordingBus
from tests.unit.test_worker_handlers import create_command
from worker.consumer import CommandConsumer
from worker.handlers import handle
from worker.read_ahead import ReadAhead
from worker.relay import OutboxRelay
from worker.worker_metrics import WorkerMetrics


class CountingStore(InMemoryClientStore):
    """Counts reads, and notes whether one began before the operation's start ended."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.starting = False
        self.read_while_starting = False

    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        self.reads += 1
        self.read_while_starting = self.read_while_starting or self.starting
        return await super().get_client(key, include_removed=include_removed)

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None, actor: str | None = None,
                              request_id: str | None = None) -> Started:
        self.starting = True
        await asyncio.sleep(0)  # a round trip: the read goes out meanwhile
        try:
            return await super().start_operation(operation_id, kind, claim_key=claim_key,
                                              actor=actor, request_id=request_id)
        finally:
            self.starting = False


def consumer_of(store: InMemoryClientStore, bus: RecordingBus) -> CommandConsumer:
    metrics = WorkerMetrics(CollectorRegistry())
    return CommandConsumer(bus, store, OutboxRelay(bus, store, "ns", metrics, FAKE_KEYRING),
                           asyncio.Event(), metrics, FAKE_KEYRING)


async def created(store: InMemoryClientStore) -> str:
    key = (await handle(create_command(), store, FAKE_KEYRING)).outcome.client_key
    assert key is not None
    return key


async def test_the_client_is_read_once_while_the_operation_starts() -> None:
    store, bus = CountingStore(), RecordingBus()
    key = await created(store)
    approve = ApproveClient(id="a1", actor="bob", request_id="r", client_key=key)
    await consumer_of(store, bus).on_message(FakeMessage(encode_command(approve)))
    assert store.outcomes["a1"].status is OperationStatus.SUCCEEDED
    assert store.reads == 1 and store.read_while_starting
    assert store.clients[key]["status"] == "approved"


async def test_the_read_ahead_answers_once_then_reads_again() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    stale = await store.get_client(key)
    assert stale is not None
    ahead = ReadAhead(store, key, stale)
    assert await ahead.get_client(key) is stale
    assert await ahead.get_client(key) == await store.get_client(key)
    assert await ahead.get_client(key) is not stale
    # A tombstone read asks the store: the read ahead was of live clients only.
    removed = ReadAhead(store, key, None)
    assert await removed.get_client(key, include_removed=True) is not None


@pytest.mark.parametrize(("error", "audited"), [
    (None, True),                                                      # succeeded
    (OperationError(ErrorCode.NOT_FOUND, "no such client"), True),     # rejected
    (OperationError(ErrorCode.UNDELIVERABLE, "withdrawn"), False),     # never applied
])
async def test_a_redelivered_finished_command_has_its_audit_entry(
        error: OperationError | None, audited: bool) -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    command = ApproveClient(id=str(uuid.uuid4()), actor="bob", request_id="r", client_key="k")
    status = OperationStatus.FAILED if error else OperationStatus.SUCCEEDED
    # Recorded by a worker whose audit write was lost (or withdrawn by the gateway).
    store.outcomes[command.id] = Outcome(command.id, command.kind, status, client_key="k",
                                         error=error)
    message = FakeMessage(encode_command(command), redelivered=True)
    await consumer_of(store, bus).on_message(message)
    assert message.settled == ["ack"]
    assert (command.id in store.audit) is audited
    assert len(bus.replies) == 1 and bus.events == []
