"""The worker seals a command's secret again for the client and slot it stores it in
(worker.stored_secrets), through its handlers and an in-memory store."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from common.clients import ClientType
from common.commands import CreateClient, RotateSecret, UpdateClient
from common.keyring import (
    LEGACY_AAD,
    Keyring,
    SealedSecret,
    SecretSlot,
    client_secret_aad,
    command_secret_aad,
    new_key_entry,
)
from common.outcomes import ErrorCode, OperationStatus
from tests.fakes import InMemoryClientStore
from worker.applied import Applied
from worker.handlers import handle

KEYRING = Keyring.parse(new_key_entry("k1"))
SECRET, NEW = "the-first-secret-0a1b", "the-second-secret-2c3d"


def opened(value: dict[str, Any], key: str, slot: SecretSlot) -> str:
    return KEYRING.open(SealedSecret.from_document(value), client_secret_aad(key, slot))


def legacy(plaintext: str) -> SealedSecret:
    """Sealed as a release from before the binding sealed everything: the constant, no `v`."""
    return dataclasses.replace(KEYRING.seal(plaintext, LEGACY_AAD), bound=False)


def create(secret: SealedSecret | None = None, command_id: str | None = None) -> CreateClient:
    command_id = command_id or str(uuid.uuid4())
    return CreateClient(
        id=command_id, actor="alice", request_id="r", type=ClientType.OAUTH1, name="Portal",
        secret=secret or KEYRING.seal(SECRET, command_secret_aad(command_id, "create_client")))


def rotate(key: str, secret: str = NEW, grace_seconds: int = 600) -> RotateSecret:
    command_id = str(uuid.uuid4())
    return RotateSecret(id=command_id, actor="alice", request_id="r", client_key=key,
                        secret=KEYRING.seal(secret, command_secret_aad(command_id,
                                                                       "rotate_secret")),
                        grace_seconds=grace_seconds)


async def created(store: InMemoryClientStore, command: CreateClient | None = None) -> str:
    applied = await handle(command or create(), store, KEYRING)
    assert applied.outcome.status is OperationStatus.SUCCEEDED, applied.outcome.error
    assert applied.outcome.client_key is not None
    return applied.outcome.client_key


def refused_as_not_sealed_for_it(applied: Applied[Any]) -> None:
    error = applied.outcome.error
    assert error is not None and error.code is ErrorCode.INVALID
    assert error.fields == {"secret": ["The command's secret was not sealed for this command."]}
    assert applied.events == []


async def test_a_created_secret_is_stored_for_its_client_and_the_current_slot_only() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    stored = store.clients[key]["secret"]
    assert stored["v"] == 2
    assert opened(stored, key, SecretSlot.CURRENT) == SECRET
    for elsewhere in (client_secret_aad(key, SecretSlot.PREVIOUS),
                      client_secret_aad("another-client", SecretSlot.CURRENT)):
        with pytest.raises(InvalidTag):
            KEYRING.open(SealedSecret.from_document(stored), elsewhere)


async def test_a_secret_sealed_for_another_command_is_refused_and_nothing_is_stored() -> None:
    store = InMemoryClientStore()
    other = KEYRING.seal(SECRET, command_secret_aad("another-command", "create_client"))
    refused_as_not_sealed_for_it(await handle(create(other), store, KEYRING))
    assert store.clients == {}


async def test_a_stored_secret_copied_into_a_command_is_refused() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    stored = SealedSecret.from_document(store.clients[key]["secret"])
    command = rotate(key)
    refused_as_not_sealed_for_it(
        await handle(dataclasses.replace(command, secret=stored), store, KEYRING))
    edit = UpdateClient(id="u", actor="a", request_id="r", client_key=key, secret=stored)
    refused_as_not_sealed_for_it(await handle(edit, store, KEYRING))
    assert opened(store.clients[key]["secret"], key, SecretSlot.CURRENT) == SECRET
    assert store.clients[key]["version"] == 1


async def test_a_rotation_seals_the_replaced_secret_again_for_the_previous_slot() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    await handle(rotate(key), store, KEYRING)
    stored = store.clients[key]
    [replaced] = stored["previous_secrets"]
    assert opened(stored["secret"], key, SecretSlot.CURRENT) == NEW
    assert opened(replaced["secret"], key, SecretSlot.PREVIOUS) == SECRET
    with pytest.raises(InvalidTag):
        opened(replaced["secret"], key, SecretSlot.CURRENT)


async def test_a_legacy_secret_in_a_command_is_stored_bound() -> None:
    store = InMemoryClientStore()
    key = await created(store, create(legacy(SECRET)))
    assert store.clients[key]["secret"]["v"] == 2
    assert opened(store.clients[key]["secret"], key, SecretSlot.CURRENT) == SECRET


async def test_a_legacy_current_secret_is_bound_as_it_moves_to_the_previous_slot() -> None:
    store = InMemoryClientStore()
    key = await created(store)
    store.clients[key]["secret"] = legacy(SECRET).to_document()
    await handle(rotate(key), store, KEYRING)
    [replaced] = store.clients[key]["previous_secrets"]
    assert replaced["secret"]["v"] == 2
    assert opened(replaced["secret"], key, SecretSlot.PREVIOUS) == SECRET


async def test_a_current_secret_that_does_not_open_is_not_kept_for_a_grace(
        caplog: pytest.LogCaptureFixture) -> None:
    store = InMemoryClientStore()
    key = await created(store)
    other = await created(store)
    store.clients[key]["secret"] = store.clients[other]["secret"]  # copied in the database
    applied = await handle(rotate(key), store, KEYRING)
    assert applied.outcome.status is OperationStatus.SUCCEEDED
    assert store.clients[key]["previous_secrets"] == []
    assert opened(store.clients[key]["secret"], key, SecretSlot.CURRENT) == NEW
    assert any("does not open" in r.getMessage() for r in caplog.records)
    assert all(SECRET not in r.getMessage() for r in caplog.records)
