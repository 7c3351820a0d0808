"""The audit trail's expiry (a TTL index) follows CLIENTKEYS_AUDIT_RETENTION_DAYS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from common.store import AUDIT, AUDIT_EXPIRY, Document, connect, database, ensure_indexes

DAY_S = 24 * 3600


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    yield database(client)
    await client.close()


async def expiry(db: AsyncDatabase[Document]) -> Any:
    indexes = {index["name"]: index async for index in await db[AUDIT].list_indexes()}
    found = indexes.get(AUDIT_EXPIRY)
    return None if found is None else (dict(found["key"]), found["expireAfterSeconds"])


async def test_the_expiry_is_created_changed_and_removed_as_the_setting_says(
        db: AsyncDatabase[Document]) -> None:
    await ensure_indexes(db, audit_retention_days=400)
    assert await expiry(db) == ({"at": 1}, 400 * DAY_S)
    await ensure_indexes(db, audit_retention_days=400)  # a restart with the same setting
    assert await expiry(db) == ({"at": 1}, 400 * DAY_S)
    await ensure_indexes(db, audit_retention_days=30)   # a changed setting
    assert await expiry(db) == ({"at": 1}, 30 * DAY_S)
    await ensure_indexes(db)                            # a worker: leaves it as it is
    assert await expiry(db) == ({"at": 1}, 30 * DAY_S)
    await ensure_indexes(db, audit_retention_days=0)    # forever
    assert await expiry(db) is None
    await ensure_indexes(db, audit_retention_days=0)
    assert await expiry(db) is None
    await ensure_indexes(db, audit_retention_days=1)
    assert await expiry(db) == ({"at": 1}, DAY_S)
