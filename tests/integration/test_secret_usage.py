"""When each secret last verified, against a real MongoDB-wire server: many checks make at
most one write per client per minute, and what one gateway writes another reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from api.verify.client_entries import ClientEntry, entry_of
from api.verify.secret_usage import SecretUsage
from common.client_documents import ClientDocument
from common.client_view import public_client
from common.keyring import Keyring, SecretSlot, client_secret_aad, new_key_entry
from common.store import (
    SECRET_USAGE,
    SECRET_USAGE_EXPIRY,
    SECRET_USAGE_KEPT_DAYS,
    Document,
    database,
    ensure_indexes,
    now,
)

KEYRING = Keyring.parse(new_key_entry("k1"))
AT = datetime(2026, 12, 6, 10, 0, 5, tzinfo=UTC)
ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROTATED = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@dataclass
class Updates(CommandListener):
    """How many updates each write to secret_usage carried."""

    sent: list[int] = field(default_factory=list)

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "update" and event.command["update"] == SECRET_USAGE:
            self.sent.append(len(event.command["updates"]))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        return None

    def failed(self, event: CommandFailedEvent) -> None:
        return None


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[tuple[AsyncDatabase[Document], Updates]]:
    updates = Updates()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, tz_aware=True,
                                                          event_listeners=[updates])
    db = database(client)
    await ensure_indexes(db)
    yield db, updates
    await client.close()


def client(key: str) -> ClientEntry:
    """A client with a current secret and the one a rotation left valid."""
    seal = KEYRING.seal
    document: dict[str, Any] = {
        "_id": ObjectId(), "key": key, "type": "oauth2", "name": key, "status": "approved",
        "redirect_uris": [], "grant_types": [], "response_types": [], "version": 2,
        "created_at": ISSUED, "updated_at": ROTATED, "status_changed_at": ISSUED,
        "secret_rotated_at": ROTATED, "client_secret_issued_at": ROTATED,
        "token_endpoint_auth_method": "client_secret_basic",
        "secret": seal("new", client_secret_aad(key, SecretSlot.CURRENT)).to_document(),
        "previous_secrets": [{
            "secret": seal("old", client_secret_aad(key, SecretSlot.PREVIOUS)).to_document(),
            # Still valid whenever the test runs (shown_in drops an expired one).
            "expires_at": now() + timedelta(days=1), "issued_at": ISSUED}]}
    return entry_of(cast(ClientDocument, document))


async def test_checks_in_one_minute_make_one_write_per_client(
        db: tuple[AsyncDatabase[Document], Updates]) -> None:
    database_, updates = db
    usage = SecretUsage(database_)
    one, other = client("client-1"), client("client-2")
    for second in range(50):
        usage.note(one, 0, AT + timedelta(seconds=second % 50))
        usage.note(one, 1, AT + timedelta(seconds=second % 50))
    usage.note(other, 0, AT)
    assert await usage.write() == 2
    assert updates.sent == [2]  # one round trip, one update per client
    assert await usage.write() == 0  # nothing new
    for _ in range(10):
        usage.note(one, 0, AT + timedelta(seconds=30))  # the same minute: nothing new
    assert await usage.write() == 0
    usage.note(one, 0, AT + timedelta(minutes=1))
    assert await usage.write() == 1
    assert updates.sent == [2, 1]


async def test_another_gateway_reads_the_uses_and_answers_them(
        db: tuple[AsyncDatabase[Document], Updates]) -> None:
    database_, _ = db
    here, there = SecretUsage(database_), SecretUsage(database_)
    entry = client("client-1")
    await there.read()  # its first look, before any use
    here.note(entry, 1, AT)  # the previous secret, still used
    here.note(entry, 0, AT + timedelta(minutes=3))
    await here.write()
    await there.read()  # a later look: what was written since
    view = there.shown_in(public_client(entry.document()))
    assert view["client_secret_last_used_at"] == (AT + timedelta(minutes=3)).replace(
        second=0).isoformat()
    [previous] = view["previous_secrets"]
    assert previous["last_used_at"] == AT.replace(second=0).isoformat()
    # An older use written later never moves a newer one back.
    here.note(entry, 0, AT)
    stale = SecretUsage(database_)
    stale.note(entry, 0, AT)
    await stale.write()
    await there.read()
    assert there.shown_in(public_client(entry.document()))["client_secret_last_used_at"] \
        == (AT + timedelta(minutes=3)).replace(second=0).isoformat()


async def test_a_secret_never_seen_verifying_shows_null(
        db: tuple[AsyncDatabase[Document], Updates]) -> None:
    usage = SecretUsage(db[0])
    view = usage.shown_in(public_client(client("client-1").document()))
    assert view["client_secret_last_used_at"] is None
    assert [p["last_used_at"] for p in view["previous_secrets"]] == [None]


async def test_notes_expire_once_no_secret_of_the_client_verified_for_long(
        db: tuple[AsyncDatabase[Document], Updates]) -> None:
    """A removed client's notes go with the others that stopped being written: the index
    the gateways read by is a TTL one, which replaces the plain index older versions made."""
    database_, _ = db
    collection = database_[SECRET_USAGE]
    await collection.drop_indexes()
    await collection.create_index([("updated_at", ASCENDING)], name="updated_at")
    await ensure_indexes(database_)
    found = {index["name"]: (dict(index["key"]), index.get("expireAfterSeconds"))
             async for index in await collection.list_indexes()}
    assert "updated_at" not in found
    assert found[SECRET_USAGE_EXPIRY] == ({"updated_at": 1}, SECRET_USAGE_KEPT_DAYS * 86400)
    await ensure_indexes(database_)  # again: nothing changes
    assert {index["name"] async for index in await collection.list_indexes()} == set(found)
