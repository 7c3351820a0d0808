"""A command whose operation is gone is applied only if it is younger than operations are kept.

Its operation missing can mean its record was lost (apply it, as ever) or that it
was withdrawn, finished and expired while the command waited in the queue: a
withdrawn command must never be applied, so one that old is set aside instead.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from common.commands import ApproveClient, encode_command
from common.operations_store import Started
from common.outcomes import ErrorCode, OperationStatus
from common.store import now
from tests.fakes import FAKE_KEYRING, FakeMessage, InMemoryClientStore, RecordingBus
from tests.unit.test_worker_handlers import create_command
from worker.consumer import CommandConsumer
from worker.handlers import handle
from worker.relay import OutboxRelay
from worker.worker_metrics import WorkerMetrics

KEPT = timedelta(hours=24)


class UnrecordedStore(InMemoryClientStore):
    """Every operation started here was not there before (`recorded`)."""

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None, actor: str | None = None,
                              request_id: str | None = None) -> Started:
        started = await super().start_operation(operation_id, kind, claim_key=claim_key,
                                              actor=actor, request_id=request_id)
        return Started(started.outcome, started.client_key, recorded=started.outcome is None)


@pytest.mark.parametrize(("age", "applied"), [
    (None, True),                              # no issue time: cannot tell, applied
    (timedelta(hours=1), True),                # its record was lost some other way
    (KEPT - timedelta(minutes=1), True),
    (KEPT + timedelta(minutes=1), False),      # may have been withdrawn: set aside
    (timedelta(days=30), False),
])
async def test_an_unrecorded_command_is_applied_only_while_young(
        age: timedelta | None, applied: bool) -> None:
    store, bus = UnrecordedStore(), RecordingBus()
    key = (await handle(create_command(), store, FAKE_KEYRING)).outcome.client_key
    assert key is not None
    command = ApproveClient(id="old", actor="bob", request_id="r", client_key=key,
                            issued_at=None if age is None else now() - age)
    metrics = WorkerMetrics(CollectorRegistry())
    consumer = CommandConsumer(bus, store, OutboxRelay(bus, store, "ns", metrics, FAKE_KEYRING),
                               asyncio.Event(), metrics, FAKE_KEYRING, operations_kept=KEPT)
    message = FakeMessage(encode_command(command))
    await consumer.on_message(message)
    assert message.settled == (["ack"] if applied else ["dead_letter"])
    assert (store.clients[key]["status"] == "approved") is applied
    outcome = store.outcomes["old"]
    if applied:
        assert outcome.status is OperationStatus.SUCCEEDED
    else:
        assert outcome.error is not None and outcome.error.code is ErrorCode.UNDELIVERABLE
        assert "old" not in store.audit and len(bus.replies) == 1
