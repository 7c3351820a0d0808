"""The worker's store against a real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from api.operations import record_pending, withdraw
from common.commands import RemoveClient
from common.outcomes import ErrorCode
from common.store import APPLIED_COMMANDS_KEPT, Document, connect, database, ensure_indexes, now
from worker.repository import AlreadyCreated, MongoClientStore


@pytest.fixture
async def store(mongodb_uri: str) -> AsyncIterator[MongoClientStore]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    db = database(client)
    await ensure_indexes(db)
    yield MongoClientStore(db)
    await client.close()


def client_document(key: str, created_by: str, **extra: Any) -> Document:
    at = now()
    document: Document = {
        "key": key, "type": "oauth1", "name": "N", "name_sort": "n", "status": "pending",
        "redirect_uris": [], "grant_types": [], "response_types": [], "created_at": at,
        "updated_at": at, "status_changed_at": at, "version": 1, "created_by": created_by,
        "applied_commands": [created_by], "outbox": [{"id": "e1"}]}
    document.update(extra)
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


async def test_a_withdrawn_operation_is_not_started(store: MongoClientStore,
                                                   mongodb_uri: str) -> None:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    try:
        db = database(client)
        command = RemoveClient(id="op1", actor="a", request_id="r", client_key="k")
        await record_pending(db, command)
        assert await withdraw(db, "op1")
        outcome = await store.start_operation("op1", command.kind)
        assert outcome is not None and outcome.error is not None
        assert outcome.error.code is ErrorCode.UNDELIVERABLE

        started = RemoveClient(id="op2", actor="a", request_id="r", client_key="k")
        await record_pending(db, started)
        assert await store.start_operation("op2", started.kind) is None
        assert not await withdraw(db, "op2")  # a worker has it: the broker took it
    finally:
        await client.close()


async def test_update_holds_only_at_the_version_read(store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op1"))
    updated = await store.update_client("k1", 1, {"name": "A"}, "op2", {"id": "e2"})
    assert updated is not None
    assert updated["version"] == 2
    assert [e["id"] for e in updated["outbox"]] == ["e1", "e2"]
    assert await store.update_client("k1", 1, {"name": "B"}, "op3", None) is None
    current = await store.get_client("k1")
    assert current is not None and current["name"] == "A"


async def test_applied_commands_are_bounded(store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op0"))
    for version in range(1, APPLIED_COMMANDS_KEPT + 6):
        assert await store.update_client("k1", version, {}, f"op{version}", None) is not None
    current = await store.get_client("k1")
    assert current is not None
    assert len(current["applied_commands"]) == APPLIED_COMMANDS_KEPT
    assert current["applied_commands"][-1] == f"op{APPLIED_COMMANDS_KEPT + 5}"


async def test_outbox_is_cleared_and_a_tombstone_stays_hidden(
        store: MongoClientStore) -> None:
    await store.insert_client(client_document("k1", "op1"))
    await store.update_client("k1", 1, {"removed_at": now()}, "op2", {"id": "e2"})
    assert await store.get_client("k1") is None  # removed for readers at once
    assert [e["id"] for e in await store.pending_events("k1")] == ["e1", "e2"]
    await store.events_sent("k1", ["e1"])
    assert [e["id"] for e in await store.pending_events("k1")] == ["e2"]
    await store.events_sent("k1", ["e2"])
    assert await store.pending_events("k1") == []
    assert await store.get_client("k1") is None
    tombstone = await store.get_client("k1", include_removed=True)
    assert tombstone is not None and "op2" in tombstone["applied_commands"]
