"""The worker's store against a real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from api.views.operations import record_pending
from common.client_documents import ClientDocument
from common.clients import ClientType
from common.commands import CreateClient, RemoveClient
from common.keyring import Keyring, command_secret_aad, new_key_entry
from common.operations_store import (
    any_pending,
    fail_purged,
    get_operation,
    is_withdrawn,
    pending_operation,
    record_outcome,
    record_queued,
    reset_for_replay,
    withdraw,
)
from common.outcomes import ErrorCode, OperationStatus, Outcome
from common.store import (
    APPLIED_COMMANDS_KEPT,
    CLIENTS,
    OPERATIONS,
    PENDING_SELF_REGISTERED,
    RETIRED_CLIENT_INDEXES,
    TOMBSTONE_TTL_S,
    TOMBSTONES,
    Document,
    connect,
    database,
    ensure_indexes,
    now,
)
from worker.repository import AlreadyCreated, MongoClientStore
from worker.tombstone_purge import TOMBSTONE_KEPT, TombstonePurge


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    db = database(client)
    await ensure_indexes(db)
    yield db
    await client.close()


@pytest.fixture
def store(db: AsyncDatabase[Document]) -> MongoClientStore:
    return MongoClientStore(db)


def client_document(key: str, created_by: str, **extra: Any) -> ClientDocument:
    at = now()
    document: ClientDocument = {
        "key": key, "type": "oauth1", "name": "N", "name_sort": "n", "status": "pending",
        "redirect_uris": [], "grant_types": [], "response_types": [], "created_at": at,
        "updated_at": at, "status_changed_at": at, "version": 1, "created_by": created_by,
        "applied_commands": [created_by], "outbox": [{"id": "e1"}]}
    document.update(cast(ClientDocument, extra))
    return document


async def test_a_key_belongs_to_one_client(store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op1"))
    with pytest.raises(DuplicateKeyError):
        await store.insert_client(client_document("k1", "op2"))
    with pytest.raises(AlreadyCreated) as raised:
        await store.insert_client(client_document("k1", "op1"))
    assert raised.value.document["created_by"] == "op1"


async def test_a_create_claims_its_key_once(store: MongoClientStore) -> None:
    await store.start_operation("op1", "create_client")
    assert await store.claim_client_key("op1", "first") == "first"
    assert await store.claim_client_key("op1", "second") == "first"
    with pytest.raises(LookupError):
        await store.claim_client_key("unknown-op", "k")


def create(operation_id: str) -> CreateClient:
    return CreateClient(id=operation_id, actor="a", request_id="r", type=ClientType.OAUTH1,
                        name="N", secret=Keyring.parse(new_key_entry("k1")).seal(
                            "a-long-secret", command_secret_aad(operation_id, CreateClient.kind)))


async def test_a_create_claims_its_key_as_it_starts(store: MongoClientStore,
                                                 db: AsyncDatabase[Document]) -> None:
    await record_pending(db, create("op1"))
    started = await store.start_operation("op1", "create_client", claim_key="first")
    assert (started.outcome, started.client_key, started.recorded) == (None, "first", False)
    operation = await db[OPERATIONS].find_one({"_id": "op1"})
    assert operation is not None
    assert operation["client_key"] == "first" and operation["started_at"] is not None
    # A redelivery finds the key claimed before.
    again = await store.start_operation("op1", "create_client", claim_key="second")
    assert (again.outcome, again.client_key, again.recorded) == (None, "first", False)
    # Not recorded by the gateway (its record lost): recorded here, and said so.
    unrecorded = await store.start_operation("op2", "create_client", claim_key="k2")
    assert unrecorded.client_key == "k2" and unrecorded.recorded
    assert (await store.start_operation("op3", "approve_client")).recorded
    assert await store.claim_client_key("op2", "other") == "k2"


async def test_a_finished_or_withdrawn_create_claims_nothing(
        store: MongoClientStore, db: AsyncDatabase[Document]) -> None:
    await store.start_operation("op1", "create_client", claim_key="k1")
    await store.record_outcome(Outcome("op1", "create_client", OperationStatus.SUCCEEDED,
                                       client_key="k1"))
    finished = await store.start_operation("op1", "create_client", claim_key="k9")
    assert finished.outcome is not None and finished.outcome.client_key == "k1"

    await record_pending(db, create("op2"))
    assert await withdraw(db, "op2")
    withdrawn = await store.start_operation("op2", "create_client", claim_key="k2")
    assert withdrawn.outcome is not None and withdrawn.outcome.error is not None
    assert withdrawn.outcome.error.code is ErrorCode.UNDELIVERABLE
    assert withdrawn.client_key is None
    assert await db[OPERATIONS].find_one({"_id": "op2", "client_key": None}) is not None


async def test_a_withdrawn_operation_is_not_started(store: MongoClientStore,
                                                   db: AsyncDatabase[Document]) -> None:
    command = RemoveClient(id="op1", actor="a", request_id="r", client_key="k")
    await record_pending(db, command)
    assert await withdraw(db, "op1")
    outcome = (await store.start_operation("op1", command.kind)).outcome
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.UNDELIVERABLE

    started = RemoveClient(id="op2", actor="a", request_id="r", client_key="k")
    await record_pending(db, started)
    assert (await store.start_operation("op2", started.kind)).outcome is None
    assert not await withdraw(db, "op2")  # a worker has it: the broker took it


async def test_a_command_no_gateway_recorded_is_withdrawn_by_its_record(
        store: MongoClientStore, db: AsyncDatabase[Document]) -> None:
    """The usual path records nothing before publishing: a withdrawal writes the record
    withdrawn, so a worker that gets the command after all never applies it."""
    command = RemoveClient(id="op1", actor="alice", request_id="r1", client_key="k")
    assert await withdraw(db, "op1", pending=pending_operation(command))
    stored = await get_operation(db, "op1")
    assert stored is not None and is_withdrawn(stored)
    assert (stored["kind"], stored["actor"], stored["request_id"]) == \
        (command.kind, "alice", "r1")
    outcome = (await store.start_operation("op1", command.kind)).outcome
    assert outcome is not None and outcome.error is not None
    assert outcome.error.code is ErrorCode.UNDELIVERABLE

    # Started first (recorded by the worker's start): the broker had it, nothing withdrawn.
    started = RemoveClient(id="op2", actor="a", request_id="r", client_key="k")
    assert (await store.start_operation("op2", started.kind)).outcome is None
    assert not await withdraw(db, "op2", pending=pending_operation(started))
    kept = await get_operation(db, "op2")
    assert kept is not None and kept["status"] == OperationStatus.PENDING.value


async def test_a_queued_record_never_replaces_the_workers(
        store: MongoClientStore, db: AsyncDatabase[Document]) -> None:
    command = RemoveClient(id="op1", actor="a", request_id="r", client_key="k")
    await record_queued(db, pending_operation(command))
    queued = await get_operation(db, "op1")
    assert queued is not None and queued["status"] == OperationStatus.PENDING.value
    assert (await store.start_operation("op1", command.kind)).outcome is None
    await store.record_outcome(Outcome("op1", command.kind, OperationStatus.SUCCEEDED,
                                       client_key="k"))
    await record_queued(db, pending_operation(command))  # a 202 after it finished
    finished = await get_operation(db, "op1")
    assert finished is not None and finished["status"] == OperationStatus.SUCCEEDED.value


async def read(store: MongoClientStore, key: str) -> ClientDocument:
    current = await store.get_client(key, include_removed=True)
    assert current is not None
    return current


async def test_update_holds_only_at_the_version_read(store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op1"))
    first = await read(store, "k1")
    updated = await store.update_client(first, {"name": "A"}, "op2", {"id": "e2"})
    assert updated is not None
    assert updated["version"] == 2
    assert [e["id"] for e in updated["outbox"]] == ["e1", "e2"]
    # Computed, not read back: exactly what the write left.
    assert updated == await read(store, "k1")
    assert await store.update_client(first, {"name": "B"}, "op3", None) is None
    current = await store.get_client("k1")
    assert current is not None and current["name"] == "A"


async def test_update_does_not_hold_once_the_outbox_was_sent(store: MongoClientStore) -> None:
    # Sending events changes no version, so the outbox's length is part of the guard:
    # a document computed from an outbox that was sent meanwhile would be wrong.
    await store.insert_client(client_document("k1", "op1"))
    before = await read(store, "k1")
    await store.events_sent("k1", ["e1"])
    assert await store.update_client(before, {"name": "A"}, "op2", {"id": "e2"}) is None
    again = await store.update_client(await read(store, "k1"), {"name": "A"}, "op2",
                                      {"id": "e2"})
    assert again is not None and [e["id"] for e in again["outbox"]] == ["e2"]
    assert again == await read(store, "k1")


async def test_applied_commands_are_bounded(store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op0"))
    for version in range(1, APPLIED_COMMANDS_KEPT + 6):
        updated = await store.update_client(await read(store, "k1"), {}, f"op{version}", None)
        assert updated is not None and updated == await read(store, "k1")
    current = await store.get_client("k1")
    assert current is not None
    assert len(current["applied_commands"]) == APPLIED_COMMANDS_KEPT
    assert current["applied_commands"][-1] == f"op{APPLIED_COMMANDS_KEPT + 5}"


async def test_outbox_is_cleared_and_a_tombstone_stays_hidden(
        store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op1"))
    await store.update_client(await read(store, "k1"), {"removed_at": now()}, "op2",
                              {"id": "e2"})
    assert await store.get_client("k1") is None  # removed for readers at once
    assert [e["id"] for e in await store.pending_events("k1")] == ["e1", "e2"]
    await store.events_sent("k1", ["e1"])
    assert [e["id"] for e in await store.pending_events("k1")] == ["e2"]
    await store.events_sent("k1", ["e2"])
    assert await store.pending_events("k1") == []
    assert await store.stale_outboxes(now(), 10) == []
    assert await store.get_client("k1") is None
    tombstone = await store.get_client("k1", include_removed=True)
    assert tombstone is not None and "op2" in tombstone["applied_commands"]


async def waiting(store: MongoClientStore, key: str) -> tuple[list[str], bool]:
    """The ids in the outbox, and whether the relay's sweep would find it."""
    client = await store.get_client(key, include_removed=True)
    assert client is not None
    return [e["id"] for e in client["outbox"]], "outbox_since" in client


@pytest.mark.parametrize(("outbox", "sent", "left"), [
    (["e1"], ["e1"], []),                    # the usual case: one write clears it
    (["e1", "e2"], ["e1", "e2"], []),
    (["e1", "e2"], ["e1"], ["e2"]),          # another worker queued e2 meanwhile
    (["e1", "e2", "e3"], ["e1", "e2"], ["e3"]),
    (["e2"], ["e1", "e2"], []),              # another worker had sent e1 already
    ([], ["e1"], []),                        # ...or all of them
    (["e1", "e3"], ["e1", "e2"], ["e3"]),    # as many, but not the same
    (["e1", "e2"], ["e2", "e1"], []),        # not in the same order
])
async def test_sent_events_leave_the_outbox(store: MongoClientStore, outbox: list[str],
                                            sent: list[str], left: list[str]) -> None:
    await store.insert_client(client_document(
        "k1", "op1", outbox=[{"id": i} for i in outbox], outbox_since=now()))
    await store.events_sent("k1", sent)
    assert await waiting(store, "k1") == (left, bool(left))



async def test_a_dead_letter_replay_and_purge_move_only_what_they_expect(
        db: AsyncDatabase[Document]) -> None:
    await record_pending(db, create("op1"))
    assert await any_pending(db)
    await fail_purged(db, "op1")  # purged while pending: failed, never applied
    purged = await get_operation(db, "op1")
    assert purged is not None and purged["status"] == OperationStatus.FAILED.value
    assert (purged["error"] or {}).get("code") == ErrorCode.INTERNAL.value
    assert not await any_pending(db)

    await reset_for_replay(db, "op1")  # replayed: pending again, its error gone
    replayed = await get_operation(db, "op1")
    assert replayed is not None and replayed["status"] == OperationStatus.PENDING.value
    assert replayed["error"] is None and await any_pending(db)

    await record_outcome(db, Outcome("op1", "create_client", OperationStatus.SUCCEEDED,
                                     client_key="k1"))
    await reset_for_replay(db, "op1")  # a finished operation is not reopened...
    await fail_purged(db, "op1")  # ...nor failed after the fact
    finished = await get_operation(db, "op1")
    assert finished is not None and finished["status"] == OperationStatus.SUCCEEDED.value
    assert finished["client_key"] == "k1" and finished["error"] is None
    assert not await any_pending(db)


async def test_indexes_an_earlier_release_made_and_no_query_uses_are_dropped(
        db: AsyncDatabase[Document]) -> None:
    """Each index is a write of its own on every client change, so one left over costs
    every write for nothing: starting drops them (twice over is no error)."""
    await db[CLIENTS].create_index([("type", 1), ("created_at", -1), ("_id", -1)],
                                   name="type_created")
    await ensure_indexes(db)
    await ensure_indexes(db)
    names = {index["name"] async for index in await db[CLIENTS].list_indexes()}
    assert names.isdisjoint(RETIRED_CLIENT_INDEXES)
    assert {"key_unique", "created", "status_created", "name", "updated"} <= names


async def test_the_tombstones_expiry_index_becomes_the_purges_plain_one(
        db: AsyncDatabase[Document]) -> None:
    """SecantusDB's TTL monitor reads every document of a collection with a TTL index
    once a minute, holding its lock (worker.tombstone_purge): the clients keep none.
    An index of the same key with an expiry, as an earlier release made, is replaced."""
    await db[CLIENTS].drop_index(TOMBSTONES)
    await db[CLIENTS].create_index([("removed_at", 1)], expireAfterSeconds=TOMBSTONE_TTL_S,
                                   name="tombstone_expiry")
    await ensure_indexes(db)
    indexes = {index["name"]: index async for index in await db[CLIENTS].list_indexes()}
    assert "tombstone_expiry" not in indexes
    assert dict(indexes[TOMBSTONES]["key"]) == {"removed_at": 1}
    assert indexes[TOMBSTONES].get("sparse") is True
    assert [name for name, index in indexes.items() if "expireAfterSeconds" in index] == []


async def test_the_pending_sweeps_index_over_every_client_becomes_a_partial_one(
        db: AsyncDatabase[Document]) -> None:
    """An earlier release indexed every client's status, origin kind and status change
    for the pending sweep; SecantusDB read that by scanning the pending clients, so it is
    replaced by one holding only the self-registered clients still pending."""
    await db[CLIENTS].drop_index(PENDING_SELF_REGISTERED)
    await db[CLIENTS].create_index([("status", 1), ("origin.kind", 1), ("status_changed_at", 1)],
                                   name="pending_registrations")
    await ensure_indexes(db)
    indexes = {index["name"]: index async for index in await db[CLIENTS].list_indexes()}
    assert "pending_registrations" not in indexes
    assert dict(indexes[PENDING_SELF_REGISTERED]["key"]) == {"status_changed_at": 1}
    assert "partialFilterExpression" in indexes[PENDING_SELF_REGISTERED]


async def test_only_tombstones_over_a_week_old_are_purged(
        db: AsyncDatabase[Document], store: MongoClientStore) -> None:
    at = now()
    kept = TOMBSTONE_KEPT
    await db[CLIENTS].insert_many([
        dict(client_document("live", "c1")),
        dict(client_document("old-tombstone", "c2", removed_at=at - kept - timedelta(hours=1),
                             secret=None)),
        dict(client_document("new-tombstone", "c3", removed_at=at - kept + timedelta(hours=1),
                             secret=None)),
    ])
    assert await TombstonePurge(store).purge() == 1
    left = {document["key"] async for document in db[CLIENTS].find({}, {"key": 1})}
    assert left == {"live", "new-tombstone"}
    assert await TombstonePurge(store).purge() == 0
