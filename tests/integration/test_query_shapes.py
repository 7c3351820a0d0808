"""Every query of the write path is served by an index, on the server itself.

The worker's commands and the gateway's write path (the pending operation, its
withdrawal and reading, the Idempotency-Key records) run against a real
MongoDB-wire server while every command the driver sends is recorded, and the
shape of each query is pinned below. No command may be a findAndModify, which
some servers answer by scanning the collection.

- A read filters on one indexed field and nothing else, names no index, and
  the server's `explain` of it shows an index scan.
- A write (an update's or a delete's `q`) needs more fields (its guard), so it
  names its index (`hint`), and the server's `explain` of a find with that
  filter and that hint shows an index scan of that index. (A write itself is
  not explained usefully: SecantusDB's explain of an update shows no query.)

Why the split, on SecantusDB: its explain shows a collection scan for any
filter of more than one field (which it runs on the index all the same), and
a find that names its index walks all of that index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from api.verify.read_model import ClientReadModel
from api.views import idempotency_records as records
from api.views.queries import find_client
from common.client_origin import registration_origin
from common.commands import ApproveClient, RemoveClient, UpdateClient, encode_command
from common.operations_store import (
    fence,
    get_operation,
    pending_operation,
    record_pending,
    record_queued,
    withdraw,
)
from common.store import (
    BY_ID,
    BY_KEY,
    CLIENTS,
    IDEMPOTENCY_KEYS,
    OPERATIONS,
    PENDING_SELF_REGISTERED,
    REGISTRATION_TOKENS,
    TOMBSTONES,
    Document,
    now,
)
from common.token_commands import RevokeRegistrationToken
from tests.fakes import FAKE_KEYRING, FakeMessage
from tests.integration.counted_worker import CountedWorker, counted_worker
from tests.integration.test_round_trips import token_command
from tests.unit.test_worker_handlers import create_command
from worker.pending_sweep import PendingSweep
from worker.repository import MongoClientStore

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


def plan_stages(plan: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(stage, index name) of a winning plan, outermost first."""
    while plan:
        yield plan["stage"], plan.get("indexName")
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
    # An initial access token made, a use taken (and asked again, as on a redelivery),
    # revoked, and its outbox cleared by the relay, also of what is gone.
    made = token_command()
    await worker.apply(made)
    registration = create_command(origin=registration_origin(made.token_id, "t"))
    await worker.apply(registration)
    tokens = worker.consumer.store.tokens
    assert await tokens.take_use(made.token_id, registration.id, now())
    await worker.apply(RevokeRegistrationToken(id="revoke", actor="a", request_id="r",
                                               token_id=made.token_id))
    await worker.consumer.relay.publish(made.token_id, kept_in=tokens)
    await tokens.events_sent(made.token_id, ["gone"])
    # Tombstones a week old purged (worker.tombstone_purge).
    await MongoClientStore(worker.db).purge_tombstones(now())


async def gateway_path(worker: CountedWorker) -> None:
    """The gateway's write path: operations and Idempotency-Key records."""
    db = worker.db
    # A client read by its key: the one a write changes, and the read model's after a
    # change (a tombstone is left out after the read, not in the filter).
    created, _ = await worker.apply(create_command())
    assert created.client_key is not None
    await find_client(db, created.client_key)
    await ClientReadModel(db, reconcile_every_s=60).refresh(created.client_key)
    command = ApproveClient(id="gw-1", actor="a", request_id="r", client_key="k")
    await record_pending(db, command)
    await withdraw(db, command.id)
    # The usual path: no record until a worker's start, so a withdrawal writes one.
    unrecorded = ApproveClient(id="gw-3", actor="a", request_id="r", client_key="k")
    await withdraw(db, unrecorded.id, pending=pending_operation(unrecorded))
    await record_queued(db, pending_operation(unrecorded))
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
        if name == "find":
            assert hint is None and len(query) == 1, (collection, query, hint)
            explained = await worker.db[collection].find(query).explain()
        else:
            assert hint is not None, f"{name} on {collection} names no index: {query}"
            explained = await worker.db[collection].find(query).hint(hint).explain()
        plan = list(plan_stages(explained["queryPlanner"]["winningPlan"]))
        assert "COLLSCAN" not in [stage for stage, _ in plan], (name, collection, query, plan)
        [index] = [index for stage, index in plan if stage == "IXSCAN"]
        assert index is not None and (hint is None or index == hint)
        shapes.add((name, collection, index, tuple(sorted(query))))
    assert shapes == {
        # The worker: a client read by key; its change guarded by what was read; its
        # outbox cleared of what was sent (usually one write, else a few).
        ("find", CLIENTS, BY_KEY, ("key",)),
        ("update", CLIENTS, BY_KEY, ("key", "outbox", "removed_at", "version")),
        ("update", CLIENTS, BY_KEY, ("key", "outbox", "outbox.0.id")),
        ("update", CLIENTS, BY_KEY, ("key", "outbox")),
        ("update", CLIENTS, BY_KEY, ("key",)),
        # ...and, once an hour, the tombstones a week old deleted.
        ("delete", CLIENTS, TOMBSTONES, ("removed_at",)),
        # ...a token: a use taken if one is left (read by id when none was), revoked
        # unless it was, its outbox cleared as a client's.
        ("update", REGISTRATION_TOKENS, BY_ID,
         ("_id", "expires_at", "revoked", "used_by", "uses_left")),
        ("find", REGISTRATION_TOKENS, BY_ID, ("_id",)),
        ("update", REGISTRATION_TOKENS, BY_ID, ("_id", "revoked")),
        ("update", REGISTRATION_TOKENS, BY_ID, ("_id", "outbox", "outbox.0.id")),
        ("update", REGISTRATION_TOKENS, BY_ID, ("_id", "outbox")),
        ("update", REGISTRATION_TOKENS, BY_ID, ("_id",)),
        # ...an operation by id: started if pending (a create: with no key claimed
        # yet), read when it was not, its outcome recorded.
        ("update", OPERATIONS, BY_ID, ("_id", "status")),
        ("update", OPERATIONS, BY_ID, ("_id", "client_key", "status")),
        ("find", OPERATIONS, BY_ID, ("_id",)),
        ("update", OPERATIONS, BY_ID, ("_id",)),
        # The gateway: a withdrawal only of what no worker started.
        ("update", OPERATIONS, BY_ID, ("_id", "started_at")),
        # ...and an Idempotency-Key record by id, changed while its claim is the caller's.
        ("find", IDEMPOTENCY_KEYS, BY_ID, ("_id",)),
        ("update", IDEMPOTENCY_KEYS, BY_ID, ("_id", "owner")),
        ("delete", IDEMPOTENCY_KEYS, BY_ID, ("_id", "owner")),
    }


async def test_the_pending_sweep_reads_only_the_self_registered_pending_clients(
        worker: CountedWorker) -> None:
    """Its index is partial: it holds the self-registered clients still pending and no
    others, so the sweep costs what there is to sweep, not a walk of every pending
    client (on SecantusDB an index over all of them was read by scanning, 0.7 s among
    100,000 clients, at each worker's start)."""
    made = token_command()  # two uses
    await worker.apply(made)
    admins = [create_command(id=f"admin-{n}") for n in range(6)]
    registered = [create_command(id=f"registered-{n}",
                                 origin=registration_origin(made.token_id, "t"))
                  for n in range(2)]
    keys: dict[str, str] = {}
    for created in (*admins, *registered):
        outcome, _ = await worker.apply(created)
        assert outcome.client_key is not None
        keys[created.id] = outcome.client_key
    approved = ApproveClient(id="approve-r1", actor="a", request_id="r",
                             client_key=keys["registered-1"])
    await worker.apply(approved)
    old = now() - timedelta(days=40)
    await worker.db[CLIENTS].update_many(
        {"key": {"$in": [keys[each.id] for each in (*admins, registered[0])]}},
        {"$set": {"created_at": old, "status_changed_at": old}})
    store = MongoClientStore(worker.db)
    sweep = PendingSweep(worker.db, store, worker.consumer.relay, FAKE_KEYRING, ttl_days=30)
    worker.listener.commands.clear()
    assert await sweep.expired(now()) == [(keys["registered-0"], 1)]
    [(name, command)] = worker.listener.commands
    assert (name, command["hint"]) == ("find", PENDING_SELF_REGISTERED)
    explained = await worker.db[CLIENTS].find(command["filter"]).hint(command["hint"]).explain()
    plan = list(plan_stages(explained["queryPlanner"]["winningPlan"]))
    assert ("IXSCAN", PENDING_SELF_REGISTERED) in plan, plan
    # The six admins' pending clients and the approved self-registration are not in it
    # (SecantusDB's explain counts only the keys it returns, so the index itself says).
    [index] = [index async for index in await worker.db[CLIENTS].list_indexes()
               if index["name"] == PENDING_SELF_REGISTERED]
    assert dict(index["key"]) == {"status_changed_at": 1}
    assert dict(index["partialFilterExpression"]) == {"status": "pending",
                                                      "origin.kind": "registration"}
