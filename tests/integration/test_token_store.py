"""The registration_tokens collection's writer against a real MongoDB-wire server: the
guarded use, the revoke, the outbox, and what the gateway's reads leave out."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from api.registration.token_reads import find_token, get_token, list_tokens
from common.registration_tokens import INTERNAL, RegistrationTokenDocument, new_document
from common.store import Document, connect, database, ensure_indexes, now
from worker.token_store import MongoTokenStore, TokenExists


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    db = database(client)
    await ensure_indexes(db)
    yield db
    await client.close()


def token(max_uses: int = 3) -> RegistrationTokenDocument:
    digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    document = new_document(digest, label="t", created_by="alice", created_at=now(),
                            expires_at=now() + timedelta(days=1), max_uses=max_uses,
                            policy={"client_types": [], "grant_types": [],
                                    "redirect_uri_hosts": [], "auto_approve": False})
    document["outbox"], document["outbox_since"] = [{"id": "e1"}], now()
    return document


async def test_ten_takes_at_once_on_three_uses_get_three(db: AsyncDatabase[Document]) -> None:
    tokens, made = MongoTokenStore(db), token(3)
    await tokens.insert_token(made)
    taken = await asyncio.gather(*(tokens.take_use(made["_id"], f"c{n}", now())
                                   for n in range(10)))
    assert sorted(taken) == [False] * 7 + [True] * 3
    stored = await tokens.get_token(made["_id"])
    assert stored is not None and stored["uses_left"] == 0 and len(stored["used_by"]) == 3
    # A command that took one gets it again (a redelivery), and no other use goes.
    winner = stored["used_by"][0]
    assert await tokens.take_use(made["_id"], winner, now())


async def test_a_revoked_or_expired_token_gives_no_use(db: AsyncDatabase[Document]) -> None:
    tokens, made = MongoTokenStore(db), token(3)
    await tokens.insert_token(made)
    assert not await tokens.take_use(made["_id"], "c1", now() + timedelta(days=2))
    assert await tokens.revoke_token(made["_id"], "r1", now(), {"id": "e2"})
    assert not await tokens.revoke_token(made["_id"], "r2", now(), {"id": "e3"})
    assert not await tokens.take_use(made["_id"], "c1", now())
    stored = await tokens.get_token(made["_id"])
    assert stored is not None and stored["uses_left"] == 3
    assert stored["applied_commands"] == ["r1"]
    with pytest.raises(TokenExists):
        await tokens.insert_token(made)


async def test_sent_events_leave_the_outbox_and_the_sweep(db: AsyncDatabase[Document]) -> None:
    tokens, made = MongoTokenStore(db), token()
    await tokens.insert_token(made)
    assert made["_id"] in await tokens.stale_outboxes(now() + timedelta(seconds=1), 1000)
    assert [e["id"] for e in await tokens.pending_events(made["_id"])] == ["e1"]
    await tokens.events_sent(made["_id"], ["e1"])
    assert await tokens.pending_events(made["_id"]) == []
    assert made["_id"] not in await tokens.stale_outboxes(now() + timedelta(seconds=1), 1000)


async def test_the_gateway_reads_leave_out_what_the_worker_keeps(
        db: AsyncDatabase[Document]) -> None:
    tokens, made = MongoTokenStore(db), token()
    await tokens.insert_token(made)
    await tokens.take_use(made["_id"], "c1", now())
    found = await find_token(db, made["sha256"])
    assert found is not None and found["_id"] == made["_id"]
    assert set(found) & set(INTERNAL) == {"sha256"}
    by_id = await get_token(db, made["_id"])
    assert by_id is not None and not set(by_id) & set(INTERNAL)
    listed = [t for t in await list_tokens(db) if t["_id"] == made["_id"]]
    assert len(listed) == 1 and not set(listed[0]) & set(INTERNAL)
    assert await find_token(db, "0" * 64) is None
