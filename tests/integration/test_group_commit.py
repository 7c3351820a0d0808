"""Group commit against a real MongoDB-wire server: each caller answered as if alone.

Writes handed in together go as one command (counted by a CommandListener),
and still each caller learns what its own write did: which guarded change
matched when only some of a batch did, which upsert inserted, which insert
was a duplicate; and a server that is away fails every caller as an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from api.views.operations import record_pending
from common.audit import AuditEntry, AuditOutcome
from common.client_documents import ClientDocument
from common.commands import RemoveClient
from common.group_commit import GroupedUpdates
from common.outcomes import OperationStatus, Outcome
from common.store import (
    AUDIT,
    BY_ID,
    CLIENTS,
    Document,
    database,
    ensure_indexes,
    is_outage,
    now,
)
from tests.integration.counted_worker import SentCommands
from tests.integration.test_mongo_store import client_document
from worker.repository import AlreadyCreated, MongoClientStore


@pytest.fixture
async def sent(mongodb_uri: str) -> AsyncIterator[tuple[AsyncDatabase[Document], SentCommands]]:
    listener = SentCommands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[listener])
    db = database(client)
    await ensure_indexes(db)
    listener.commands.clear()
    yield db, listener
    await client.close()


def commands(listener: SentCommands) -> list[tuple[str, str]]:
    return [(name, str(command[name])) for name, command in listener.commands]


async def test_concurrent_client_reads_go_as_one_find(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, listener = sent
    store = MongoClientStore(db)
    for key in ("k1", "k2"):
        await store.insert_client(client_document(key, f"op-{key}"))
    listener.commands.clear()
    one, missing, two, again = await asyncio.gather(
        store.get_client("k1"), store.get_client("nope"), store.get_client("k2"),
        store.get_client("k1"))
    assert commands(listener) == [("find", CLIENTS)]
    assert one is not None and one["key"] == "k1" and two is not None and two["key"] == "k2"
    assert missing is None
    # Two callers of one key each own their document.
    assert again == one and again is not one


async def test_only_the_guarded_change_that_matched_is_applied_and_says_so(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, listener = sent
    store = MongoClientStore(db)
    for key in ("k1", "k2"):
        await store.insert_client(client_document(key, f"op-{key}"))
    k1 = await store.get_client("k1")
    k2 = await store.get_client("k2")
    assert k1 is not None and k2 is not None
    listener.commands.clear()
    # Two changes of k1 from the same read: one wins, the other lost the race.
    changes: list[ClientDocument] = [{"name": "A"}, {"name": "B"}, {"name": "C"}]
    results = await asyncio.gather(
        store.update_client(k1, changes[0], "c-a", {"id": "ea"}),
        store.update_client(k1, changes[1], "c-b", {"id": "eb"}),
        store.update_client(k2, changes[2], "c-c", None))
    # One bulk of three updates; then one read, as its totals could not say which matched.
    assert commands(listener)[:2] == [("update", CLIENTS), ("find", CLIENTS)]
    assert len(listener.commands[0][1]["updates"]) == 3
    stored = await store.get_client("k1")
    assert stored is not None
    winners = [r for r in results[:2] if r is not None]
    assert len(winners) == 1, results
    [winner] = winners
    assert winner["name"] == stored["name"] and winner["version"] == stored["version"] == 2
    assert stored["applied_commands"][-1] in ("c-a", "c-b")
    assert stored["outbox"] == winner["outbox"] and len(stored["outbox"]) == 2
    assert results[2] is not None and results[2]["name"] == "C"


async def test_all_matched_needs_no_read(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, listener = sent
    store = MongoClientStore(db)
    keys = [f"k{n}" for n in range(5)]
    for key in keys:
        await store.insert_client(client_document(key, f"op-{key}"))
    read = await asyncio.gather(*(store.get_client(key) for key in keys))
    listener.commands.clear()
    results = await asyncio.gather(*(store.update_client(c, {"name": "X"}, f"c-{n}", None)
                                     for n, c in enumerate(read) if c is not None))
    assert all(r is not None and r["version"] == 2 for r in results)
    assert commands(listener) == [("update", CLIENTS)]


async def test_inserts_together_a_duplicate_fails_its_own_caller(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, listener = sent
    store = MongoClientStore(db)
    await store.insert_client(client_document("taken", "op-first"))
    listener.commands.clear()
    answers = await asyncio.gather(
        store.insert_client(client_document("new-1", "op-1")),
        store.insert_client(client_document("taken", "op-first")),  # a redelivered create
        store.insert_client(client_document("taken", "op-other")),  # another command's key
        store.insert_client(client_document("new-2", "op-2")),
        return_exceptions=True)
    assert answers[0] is None and answers[3] is None
    assert isinstance(answers[1], AlreadyCreated)
    assert isinstance(answers[2], DuplicateKeyError) and not isinstance(answers[2],
                                                                         AlreadyCreated)
    assert commands(listener)[0] == ("insert", CLIENTS)
    assert len(listener.commands[0][1]["documents"]) == 4
    assert await db[CLIENTS].count_documents({}) == 3


async def test_operation_starts_together_each_told_what_it_found(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, listener = sent
    store = MongoClientStore(db)
    for operation_id in ("pending", "finished"):
        await record_pending(db, RemoveClient(id=operation_id, actor="a", request_id="r",
                                              client_key="k"))
    await store.record_outcome(Outcome("finished", "remove_client", OperationStatus.SUCCEEDED,
                                       client_key="k"))
    listener.commands.clear()
    pending, finished, unknown = await asyncio.gather(
        store.start_operation("pending", "remove_client"),
        store.start_operation("finished", "remove_client"),
        store.start_operation("unknown", "remove_client"))
    assert pending.outcome is None and not pending.recorded
    assert finished.outcome is not None and finished.outcome.client_key == "k"
    assert unknown.outcome is None and unknown.recorded  # upserted: no gateway's record
    assert len(listener.commands[0][1]["updates"]) == 3  # one bulk, then the finished read


async def test_audit_entries_together_a_repeated_one_is_ignored(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, listener = sent
    store = MongoClientStore(db)

    def entry(entry_id: str) -> AuditEntry:
        return AuditEntry(id=entry_id, at=now(), actor="a", action="approve_client",
                          client_key="k", outcome=AuditOutcome.APPLIED, request_id="r",
                          remote_addr=None)

    listener.commands.clear()
    await asyncio.gather(*(store.record_audit(entry(i)) for i in ("e1", "e2", "e1")))
    assert commands(listener) == [("insert", AUDIT)]
    assert sorted(d["_id"] for d in await db[AUDIT].find({}).to_list()) == ["e1", "e2"]


async def test_upserts_and_plain_updates_in_one_batch_are_told_apart(
        sent: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    db, _ = sent
    collection = db["group_commit_probe"]
    await collection.insert_many([{"_id": "a", "v": 0}, {"_id": "b", "v": 0}])
    updates = GroupedUpdates(collection)

    def plain(doc_id: str) -> Any:
        return updates.update_one({"_id": doc_id, "v": 0}, {"$inc": {"v": 1}}, hint=BY_ID)

    def upsert(doc_id: str) -> Any:
        return updates.update_one({"_id": doc_id}, {"$set": {"u": 1}}, hint=BY_ID,
                                  upsert=True)

    # Upserts that match and insert, beside plain updates that all match: all known.
    written = await asyncio.gather(upsert("a"), plain("a"), upsert("new"), plain("b"))
    assert [(w.upserted, w.matched) for w in written] == [
        (False, True), (False, True), (True, False), (False, True)]
    # Plain updates none of which match: known too.
    missed = await asyncio.gather(plain("a"), plain("b"), upsert("b"))
    assert [(w.upserted, w.matched) for w in missed] == [
        (False, False), (False, False), (False, True)]


async def test_a_server_away_fails_every_caller_as_an_outage() -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        "mongodb://127.0.0.1:9/none", serverSelectionTimeoutMS=200, timeoutMS=500)
    store = MongoClientStore(client["none"])
    try:
        answers = await asyncio.gather(
            store.get_client("k"), store.start_operation("op", "remove_client"),
            store.record_outcome(Outcome("op", "remove_client", OperationStatus.SUCCEEDED)),
            store.insert_client(client_document("k", "op")),
            return_exceptions=True)
    finally:
        await client.close()
    assert all(isinstance(a, Exception) and is_outage(a) for a in answers), answers
