"""Finished operations expire by a TTL index on `finished_at` (CLIENTKEYS_OPERATIONS_RETENTION_H);
pending ones never do, and the old expiry on `created_at` (which would delete pending
ones too) is dropped where it is found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from common.commands import ApproveClient
from common.operations_store import record_outcome, record_pending, reset_for_replay, withdraw
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.store import (
    OPERATIONS,
    OPERATIONS_EXPIRY,
    Document,
    connect,
    database,
    ensure_indexes,
)

HOUR_S = 3600


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    yield database(client)
    await client.close()


async def indexes(db: AsyncDatabase[Document]) -> dict[str, Any]:
    return {index["name"]: (dict(index["key"]), index.get("expireAfterSeconds"))
            async for index in await db[OPERATIONS].list_indexes()}


async def test_the_expiry_follows_the_setting_and_replaces_the_old_one(
        db: AsyncDatabase[Document]) -> None:
    # As an older version left it: a TTL on created_at, named "expire".
    await db[OPERATIONS].create_index([("created_at", ASCENDING)], name="expire",
                                      expireAfterSeconds=30 * 24 * HOUR_S)
    await ensure_indexes(db)  # no setting at hand: the shortest allowed
    found = await indexes(db)
    assert "expire" not in found
    assert found[OPERATIONS_EXPIRY] == ({"finished_at": 1}, 24 * HOUR_S)
    await ensure_indexes(db, operations_retention_h=72)
    assert (await indexes(db))[OPERATIONS_EXPIRY] == ({"finished_at": 1}, 72 * HOUR_S)
    await ensure_indexes(db)  # a caller without the setting leaves it as it is
    assert (await indexes(db))[OPERATIONS_EXPIRY] == ({"finished_at": 1}, 72 * HOUR_S)


async def test_only_finished_operations_carry_finished_at(db: AsyncDatabase[Document]) -> None:
    async def finished_at(operation_id: str) -> object:
        found = await db[OPERATIONS].find_one({"_id": operation_id})
        assert found is not None
        return found.get("finished_at")

    commands = [ApproveClient(id=f"op{n}", actor="a", request_id="r", client_key="k")
                for n in range(3)]
    for command in commands:
        await record_pending(db, command)
    assert await finished_at("op0") is None  # pending: never expires
    await record_outcome(db, Outcome("op0", commands[0].kind, OperationStatus.SUCCEEDED))
    assert await finished_at("op0") is not None
    assert await withdraw(db, "op1")
    assert await finished_at("op1") is not None
    await record_outcome(db, Outcome("op2", commands[2].kind, OperationStatus.FAILED,
                                     error=OperationError(ErrorCode.INTERNAL, "broke")))
    await reset_for_replay(db, "op2")  # pending again, for a replay: it must not expire
    assert await finished_at("op2") is None
