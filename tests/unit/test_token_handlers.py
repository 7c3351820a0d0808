"""Initial access tokens through the worker: made and revoked by commands, a use taken
by the create of each self-registered client, events left in the token's outbox and
published by the consumer right after the write, as a client's are."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from common.client_origin import registration_origin
from common.commands import CreateClient, encode_command
from common.events import RegistrationTokenEventType, decode_event
from common.outcomes import ErrorCode, OperationStatus
from common.token_commands import CreateRegistrationToken, RevokeRegistrationToken
from tests.fakes import FAKE_KEYRING, FakeMessage, InMemoryClientStore, RecordingBus
from tests.unit.test_read_ahead import consumer_of
from tests.unit.test_worker_handlers import create_command
from worker.handlers import handle

TOKEN = "cki_a-token-only-the-gateway-ever-sees"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
TOKEN_ID = DIGEST[:12]


def make(max_uses: int = 2, *, days: float = 1, id_: str | None = None
         ) -> CreateRegistrationToken:
    return CreateRegistrationToken(
        id=id_ or str(uuid.uuid4()), actor="alice", request_id="r1", token_sha256=DIGEST,
        label=" partner ", expires_at=datetime.now(UTC) + timedelta(days=days),
        max_uses=max_uses, policy={"client_types": ["oidc", "oidc"], "grant_types": [],
                                   "redirect_uri_hosts": ["APP.example"],
                                   "auto_approve": False})


def revoke(id_: str | None = None) -> RevokeRegistrationToken:
    return RevokeRegistrationToken(id=id_ or str(uuid.uuid4()), actor="bob",
                                   request_id="r2", token_id=TOKEN_ID)


def registration(**overrides: object) -> CreateClient:
    return create_command(origin=registration_origin(TOKEN_ID, "partner"),
                          actor=f"registration:{TOKEN_ID}", **overrides)


async def test_a_token_is_made_once_with_its_event_and_never_its_digest() -> None:
    store = InMemoryClientStore()
    command = make()
    applied = await handle(command, store, FAKE_KEYRING)
    token = applied.outcome.token
    assert applied.outcome.status is OperationStatus.SUCCEEDED and token is not None
    assert (token["id"], token["label"], token["uses_left"], token["created_by"]) == (
        TOKEN_ID, "partner", 2, "alice")
    assert token["policy"] == {"client_types": ["oidc"], "grant_types": [],
                               "redirect_uri_hosts": ["app.example"], "auto_approve": False}
    assert DIGEST not in json.dumps(token) and "used_by" not in token
    assert [e.type for e in applied.events] == [RegistrationTokenEventType.CREATED]
    assert [e["id"] for e in applied.outbox] == [applied.events[0].id]
    assert applied.kept_in is not None and applied.kept_in.owner == TOKEN_ID
    # Redelivered: the same answer and outbox, no second token, no second event.
    again = await handle(command, store, FAKE_KEYRING)
    assert again.outcome.token == token and again.events == []
    assert [e["id"] for e in again.outbox] == [applied.events[0].id]
    # Another command with the same digest is refused, not answered with this token.
    other = await handle(make(), store, FAKE_KEYRING)
    assert other.outcome.error is not None and other.outcome.error.code is ErrorCode.CONFLICT


async def test_a_token_is_revoked_once_and_an_unknown_one_is_not_found() -> None:
    store = InMemoryClientStore()
    missing = await handle(revoke(), store, FAKE_KEYRING)
    assert missing.outcome.error is not None
    assert missing.outcome.error.code is ErrorCode.NOT_FOUND
    await handle(make(), store, FAKE_KEYRING)
    first = await handle(revoke(), store, FAKE_KEYRING)
    assert first.outcome.token is not None and first.outcome.token["revoked"] is True
    assert [e.type for e in first.events] == [RegistrationTokenEventType.REVOKED]
    assert [e["type"] for e in first.outbox] == ["registration_token_created",
                                                "registration_token_revoked"]
    second = await handle(revoke(), store, FAKE_KEYRING)
    assert second.outcome.status is OperationStatus.SUCCEEDED and second.events == []


async def test_each_registration_takes_one_use_and_a_redelivery_none() -> None:
    store = InMemoryClientStore()
    await handle(make(max_uses=2), store, FAKE_KEYRING)
    first = registration()
    made = await handle(first, store, FAKE_KEYRING)
    assert made.outcome.status is OperationStatus.SUCCEEDED
    assert (await handle(first, store, FAKE_KEYRING)).outcome.client_key \
        == made.outcome.client_key
    assert store.tokens.tokens[TOKEN_ID]["uses_left"] == 1
    assert (await handle(registration(), store, FAKE_KEYRING)
            ).outcome.status is OperationStatus.SUCCEEDED
    refused = await handle(registration(), store, FAKE_KEYRING)
    assert refused.outcome.error is not None
    assert refused.outcome.error.code is ErrorCode.TOKEN_UNUSABLE
    assert refused.events == [] and len(store.clients) == 2
    assert store.tokens.tokens[TOKEN_ID]["uses_left"] == 0


async def test_a_refused_registration_takes_no_use_and_an_unusable_token_gives_none() -> None:
    store = InMemoryClientStore()
    await handle(make(max_uses=1), store, FAKE_KEYRING)
    invalid = await handle(registration(redirect_uris=["http://a.example/cb"]), store,
                           FAKE_KEYRING)
    assert invalid.outcome.error is not None
    assert invalid.outcome.error.code is ErrorCode.INVALID
    assert store.tokens.tokens[TOKEN_ID]["uses_left"] == 1
    await handle(revoke(), store, FAKE_KEYRING)
    revoked = await handle(registration(), store, FAKE_KEYRING)
    assert revoked.outcome.error is not None
    assert revoked.outcome.error.code is ErrorCode.TOKEN_UNUSABLE
    assert store.clients == {}


async def test_an_administrators_create_takes_no_use() -> None:
    store = InMemoryClientStore()
    await handle(make(max_uses=1), store, FAKE_KEYRING)
    assert (await handle(create_command(), store, FAKE_KEYRING)).outcome.error is None
    assert store.tokens.tokens[TOKEN_ID]["uses_left"] == 1


async def test_the_consumer_publishes_a_token_event_right_after_the_write() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    consumer = consumer_of(store, bus)
    command = make()
    await consumer.on_message(FakeMessage(encode_command(command)))
    await consumer.on_message(FakeMessage(encode_command(revoke()), message_id="m2"))
    assert [key for key, _ in bus.events] == ["registration_token.created",
                                              "registration_token.revoked"]
    decoded = [decode_event(key, body) for key, body in bus.events]
    assert [e.type for e in decoded] == list(RegistrationTokenEventType)
    assert all(TOKEN.encode() not in body and DIGEST.encode() not in body
               for _, body in bus.events)
    # Confirmed, so cleared from the outbox; audited and answered like any command.
    assert store.tokens.tokens[TOKEN_ID].get("outbox") == []
    assert store.audit[command.id].action == "create_registration_token"
    assert store.outcomes[command.id].token is not None
    assert len(bus.replies) == 2


async def test_the_relays_sweep_publishes_a_token_outbox_left_behind() -> None:
    """A worker that stopped between the token's write and its publish leaves the event
    in the outbox: the sweep of any worker sends it, as it does a client's."""
    store, bus = InMemoryClientStore(), RecordingBus()
    applied = await handle(make(), store, FAKE_KEYRING)  # written, never published
    store.tokens.tokens[TOKEN_ID]["outbox_since"] -= timedelta(minutes=1)
    assert await consumer_of(store, bus).relay.sweep() == 1
    assert [decode_event(key, body).id for key, body in bus.events] == [applied.events[0].id]
    assert store.tokens.tokens[TOKEN_ID].get("outbox") == []
