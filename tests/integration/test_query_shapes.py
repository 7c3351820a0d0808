"""Every query of the write path is served by an index, on the server itself.

The worker's commands and the gateway's write path (the pending operation, its
withdrawal and reading, the Idempotency-Key records) run against a real
MongoDB-wire server while every command the driver sends is recorded. Each
query (a find's filter, an update's or a delete's `q`) must name the index
that serves it (`hint`), its shape is pinned below, and the server's own
`explain` of that filter with that hint must show an index scan. No command
may be a findAndModify, which some servers answer by scanning the collection.

(SecantusDB's explain shows a collection scan for any filter of more than one
field unless it is given the index, though it runs it on the index; the hint
makes the plan certain on every server.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from api.views import idempotency_records as records
from common.commands import ApproveClient, RemoveClient, UpdateClient, encode_command
from common.operations_store import fence, get_operation, record_pending, withdraw
from common.store import (
    BY_ID,
    BY_KEY,
    CLIENTS,
    IDEMPOTENCY_KEYS,
    OPERATIONS,
    Document,
    now,
)
from tests.fakes import FakeMessage
from tests.integration.counted_worker import CountedWorker, counted_worker
from tests.unit.test_worker_handlers import create_command

Shape = tuple[str, str, str, tuple[str, ...]]  # command, collection, index, filter fields


@pytest.fixture
async def worker(mongodb_uri: str) -> AsyncIterator[CountedWorker]:
    async with counted_worker(mongodb_uri) as counted:
        yield counted


def queries(sent: list[tuple[str, Document]]) -> Iterator[tuple[str, str, Document, Any]]:
    """(command, collection, filter, hint) of every query among the commands sent."""
    for name, command in sent:
        collection = str(command[name])
        if name == "find":
            yield name, collection, command.get("filter", {}), command.get("hint")
        for key in ("updates", "deletes"):
            for statement in command.get(key, []) if name in ("update", "delete") else []:
                yield name, collection, statement["q"], statement.get("hint")


def stages(plan: dict[str, Any]) -> Iterator[str]:
    while plan:
        yield plan["stage"]
        plan = plan.get("inputStage") or {}


async def worker_path(worker: CountedWorker) -> None:
    """Every worker command kind that touches storage differently, and a redelivery."""
    created, _ = await worker.apply(create_command())
    key = created.client_key
    assert key is not None
    await worker.apply(ApproveClient(id="approve", actor="a", request_id="r", client_key=key))
    await worker.apply(UpdateClient(id="update", actor="a", request_id="r", client_key=key,
                                    name="Renamed"))
    await worker.consumer.on_message(FakeMessage(encode_command(
        ApproveClient(id="approve", actor="a", request_id="r", client_key=key)),
        redelivered=True))
    await worker.apply(RemoveClient(id="remove", actor="a", request_id="r", client_key=key))
    # The relay's sweep reads an outbox and clears what it sent, also when more came.
    await worker.consumer.relay.publish(key)
    await worker.consumer.store.events_sent(key, ["gone"])


async def gateway_path(worker: CountedWorker) -> None:
    """The gateway's write path: operations and Idempotency-Key records."""
    db = worker.db
    command = ApproveClient(id="gw-1", actor="a", request_id="r", client_key="k")
    await record_pending(db, command)
    await withdraw(db, command.id)
    await get_operation(db, command.id)
    await fence(db, "gw-2", command.kind, "a", "r")
    collection = db[IDEMPOTENCY_KEYS]
    lease = timedelta(seconds=60)
    claim = await records.claim(collection, "rec-1", "kid", "fp", now(), lease)
    assert isinstance(claim, records.Claim)
    found = await records.claim(collection, "rec-1", "kid", "fp", now(), lease)
    assert not isinstance(found, records.Claim)
    taken = await records.take_over(collection, found, now(), lease)
    assert taken is not None
    await records.keep_secret(collection, taken, worker.consumer.keyring, "s3cret-value")
    await records.forget(collection, taken)


async def test_every_write_path_query_names_an_index_the_server_scans(
        worker: CountedWorker) -> None:
    await worker_path(worker)
    await gateway_path(worker)
    sent = worker.listener.commands
    assert "findAndModify" not in {name for name, _ in sent}
    shapes: set[Shape] = set()
    for name, collection, query, hint in queries(sent):
        assert hint is not None, f"{name} on {collection} names no index: {query}"
        shapes.add((name, collection, hint, tuple(sorted(query))))
        explained = await worker.db[collection].find(query).hint(hint).explain()
        plan = list(stages(explained["queryPlanner"]["winningPlan"]))
        assert "IXSCAN" in plan and "COLLSCAN" not in plan, (name, collection, query, plan)
    assert shapes == {
        # The worker: a client by key (read; change guarded by what was read; outbox).
        ("find", CLIENTS, BY_KEY, ("key", "removed_at")),
        ("find", CLIENTS, BY_KEY, ("key",)),
        ("update", CLIENTS, BY_KEY, ("key", "outbox", "removed_at", "version")),
        ("update", CLIENTS, BY_KEY, ("key", "outbox", "outbox.0.id")),
        ("update", CLIENTS, BY_KEY, ("key", "outbox")),
        ("update", CLIENTS, BY_KEY, ("key",)),
        # ...an operation by id (started if pending, its outcome, read if finished).
        ("update", OPERATIONS, BY_ID, ("_id", "status")),
        ("update", OPERATIONS, BY_ID, ("_id", "client_key", "status")),
        ("update", OPERATIONS, BY_ID, ("_id",)),
        ("find", OPERATIONS, BY_ID, ("_id",)),
        # The gateway: a withdrawal only of what no worker started.
        ("update", OPERATIONS, BY_ID, ("_id", "started_at")),
        # ...and an Idempotency-Key record by id, while its claim is the caller's.
        ("find", IDEMPOTENCY_KEYS, BY_ID, ("_id",)),
        ("update", IDEMPOTENCY_KEYS, BY_ID, ("_id", "owner")),
        ("delete", IDEMPOTENCY_KEYS, BY_ID, ("_id", "owner")),
    }
