"""The worker's handlers with the RFC 7591 metadata: public clients without a secret,
an edit that makes a client public or secret-based again, the secret's issue and
expiry times, and the changed fields its events name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from common.commands import RotateSecret, UpdateClient
from common.keyring import command_secret_aad
from common.outcomes import ErrorCode, OperationStatus
from tests.client_keys import ec_pair, jwks, rsa_pair
from tests.fakes import InMemoryClientStore
from tests.unit.test_worker_handlers import KEYRING, create_command
from worker.handlers import handle

LATER = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def update(key: str, **changes: Any) -> UpdateClient:
    command_id = str(uuid.uuid4())
    if changes.pop("new_secret", False):
        changes["secret"] = KEYRING.seal("another-long-secret",
                                         command_secret_aad(command_id, UpdateClient.kind))
    return UpdateClient(id=command_id, actor="alice", request_id="r", client_key=key, **changes)


async def created(store: InMemoryClientStore, **overrides: Any) -> str:
    applied = await handle(create_command(**overrides), store, KEYRING)
    assert applied.outcome.status is OperationStatus.SUCCEEDED, applied.outcome.error
    assert applied.outcome.client_key is not None
    return applied.outcome.client_key


async def test_a_public_client_is_stored_without_a_secret() -> None:
    store = InMemoryClientStore()
    key = await created(store, secret=None, token_endpoint_auth_method="none",
                        scope=["read"])
    document = store.clients[key]
    assert document["secret"] is None and document["client_secret_issued_at"] is None
    assert (document["token_endpoint_auth_method"], document["scope"],
            document["require_pkce"]) == ("none", ["openid", "read"], True)


async def test_a_public_client_with_a_secret_is_refused_by_the_worker_too() -> None:
    store = InMemoryClientStore()
    applied = await handle(create_command(token_endpoint_auth_method="none"), store, KEYRING)
    assert applied.outcome.error is not None
    assert applied.outcome.error.code is ErrorCode.INVALID
    assert "secret" in (applied.outcome.error.fields or {})
    assert store.clients == {}


async def test_a_secret_based_client_without_a_secret_is_refused() -> None:
    store = InMemoryClientStore()
    applied = await handle(create_command(secret=None), store, KEYRING)
    assert applied.outcome.error is not None
    assert "secret" in (applied.outcome.error.fields or {})


async def test_create_records_when_the_secret_was_issued_and_when_it_expires() -> None:
    store = InMemoryClientStore()
    key = await created(store, client_secret_expires_at=LATER)
    document = store.clients[key]
    assert document["client_secret_issued_at"] == document["created_at"]
    assert document["client_secret_expires_at"] == LATER
    client = (await handle(update(key, name="Same"), store, KEYRING)).outcome.client
    assert client is not None and client["client_secret_expires_at"] == LATER.isoformat()


async def test_making_a_client_public_drops_its_secrets_and_names_what_changed() -> None:
    store = InMemoryClientStore()
    key = await created(store, client_secret_expires_at=LATER)
    applied = await handle(update(key, token_endpoint_auth_method="none"), store, KEYRING)
    [event] = applied.events
    assert event.changed_fields == ["token_endpoint_auth_method", "secret",
                                    "client_secret_expires_at"]
    document = store.clients[key]
    assert (document["secret"], document["previous_secrets"],
            document["client_secret_expires_at"]) == (None, [], None)
    assert event.client["client_secret_issued_at"] is None


async def test_a_public_client_made_secret_based_again_needs_a_secret() -> None:
    store = InMemoryClientStore()
    key = await created(store, secret=None, token_endpoint_auth_method="none")
    refused = await handle(update(key, token_endpoint_auth_method="client_secret_post"),
                           store, KEYRING)
    assert refused.outcome.error is not None
    assert "secret" in (refused.outcome.error.fields or {})
    applied = await handle(update(key, token_endpoint_auth_method="client_secret_post",
                                  new_secret=True), store, KEYRING)
    assert applied.events[0].changed_fields == ["token_endpoint_auth_method", "secret"]
    assert store.clients[key]["secret"] is not None


async def test_rotating_a_public_clients_secret_is_refused() -> None:
    store = InMemoryClientStore()
    key = await created(store, secret=None, token_endpoint_auth_method="none")
    command_id = str(uuid.uuid4())
    rotate = RotateSecret(id=command_id, actor="a", request_id="r", client_key=key,
                          secret=KEYRING.seal("a-new-long-secret",
                                              command_secret_aad(command_id, RotateSecret.kind)),
                          grace_seconds=0)
    applied = await handle(rotate, store, KEYRING)
    assert applied.outcome.error is not None and applied.events == []


async def test_an_edit_moves_or_clears_the_expiry_and_a_new_secret_resets_it() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    moved = await handle(update(key, client_secret_expires_at=LATER), store, KEYRING)
    assert moved.events[0].changed_fields == ["client_secret_expires_at"]
    cleared = await handle(update(key, cleared=["client_secret_expires_at"]), store, KEYRING)
    assert cleared.events[0].changed_fields == ["client_secret_expires_at"]
    assert store.clients[key]["client_secret_expires_at"] is None
    await handle(update(key, client_secret_expires_at=LATER), store, KEYRING)
    renewed = await handle(update(key, new_secret=True), store, KEYRING)
    assert renewed.events[0].changed_fields == ["secret", "client_secret_expires_at"]
    document = store.clients[key]
    assert document["client_secret_expires_at"] is None
    assert document["client_secret_issued_at"] == document["updated_at"]


async def test_metadata_edits_are_named_in_the_event() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    applied = await handle(update(key, scope=["write", "read"], contacts=["ops@example.com"],
                                  client_uri="https://portal.example.com/"), store, KEYRING)
    assert applied.events[0].changed_fields == ["scope", "client_uri", "contacts"]
    assert applied.events[0].client["scope"] == "openid read write"
    cleared = await handle(update(key, cleared=["client_uri"]), store, KEYRING)
    assert cleared.events[0].changed_fields == ["client_uri"]
    assert cleared.events[0].client["client_uri"] is None


async def test_an_old_document_is_edited_without_naming_the_defaults_as_changes() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    for name in ("token_endpoint_auth_method", "scope", "require_pkce", "contacts",
                 "post_logout_redirect_uris", "client_uri", "logo_uri", "policy_uri",
                 "tos_uri", "client_secret_issued_at", "client_secret_expires_at"):
        del store.clients[key][name]  # as stored before the metadata was kept
    applied = await handle(update(key, name="Renamed"), store, KEYRING)
    assert applied.events[0].changed_fields == ["name"]
    assert applied.events[0].client["scope"] == "openid"
    assert store.clients[key]["require_pkce"] is True


async def test_public_keys_are_stored_compact_and_their_edits_named_in_the_event() -> None:
    store = InMemoryClientStore()
    old, new = rsa_pair("old"), ec_pair("new")
    padded = {"keys": [old.public_jwk(x5t="abc")]}
    key = await created(store, secret=None, token_endpoint_auth_method="private_key_jwt",
                        jwks=padded)
    assert store.clients[key]["jwks"] == jwks(old) and store.clients[key]["secret"] is None
    rotated = await handle(update(key, jwks=jwks(new)), store, KEYRING)
    [event] = rotated.events
    assert event.changed_fields == ["jwks"] and event.client["jwks"] == jwks(new)
    moved = await handle(update(key, cleared=["jwks"], jwks_uri="https://keys.example/j"),
                         store, KEYRING)
    assert moved.events[0].changed_fields == ["jwks", "jwks_uri"]
    assert (moved.events[0].client["jwks"], moved.events[0].client["jwks_uri"]) == (
        None, "https://keys.example/j")


async def test_a_private_key_is_refused_by_the_worker_too() -> None:
    store = InMemoryClientStore()
    applied = await handle(create_command(
        secret=None, token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [rsa_pair("old").private_jwk()]}), store, KEYRING)
    assert applied.outcome.error is not None
    assert "jwks" in (applied.outcome.error.fields or {}) and store.clients == {}
