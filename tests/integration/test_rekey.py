"""Re-encrypting stored secrets (worker.rekey, `clientkeys keys`) on a MongoDB-wire server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from pymongo import MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from common.keyring import (
    LEGACY_AAD,
    Keyring,
    SealedSecret,
    SecretSlot,
    client_secret_aad,
    idempotent_response_aad,
    new_key_entry,
)
from common.keyring_file import read_keyring_file
from common.settings import Settings
from common.store import CLIENTS, IDEMPOTENCY_KEYS, Document, connect, database, now
from tests.harness import run_cli, with_keyring_file
from worker.rekey import BATCH_SIZE, count_stored, reencrypt

OLD_ENTRY, NEW_ENTRY = new_key_entry("old"), new_key_entry("new")
OLD = Keyring.parse(OLD_ENTRY)
ROTATED = Keyring.parse(f"{NEW_ENTRY},{OLD_ENTRY}")


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    yield database(client)
    await client.close()


def current(key: str) -> bytes:
    return client_secret_aad(key, SecretSlot.CURRENT)


def previous(key: str) -> bytes:
    return client_secret_aad(key, SecretSlot.PREVIOUS)


def client(number: int, keyring: Keyring = OLD, **extra: Any) -> Document:
    at = now()
    key = f"key-{number}"
    return {"key": key, "name": f"Client {number}", "version": 3, "updated_at": at,
            "secret": keyring.seal(f"secret-{number}", current(key)).to_document(), **extra}


def opened(keyring: Keyring, value: Document, aad: bytes) -> tuple[str, str]:
    sealed = SealedSecret.from_document(value)
    return sealed.key_id, keyring.open(sealed, aad)


def without_sealed(document: Document) -> Document:
    return {k: v for k, v in document.items() if k not in ("secret", "previous_secrets",
                                                            "response")}


async def test_every_sealed_value_moves_to_the_new_key_and_nothing_else_changes(
        db: AsyncDatabase[Document]) -> None:
    count = BATCH_SIZE * 2 + 7
    await db[CLIENTS].insert_many([client(n) for n in range(count)])
    await db[CLIENTS].insert_one(client(
        count, previous_secrets=[
            {"secret": OLD.seal("previous-a", previous(f"key-{count}")).to_document(),
             "expires_at": now()},
            OLD.seal("previous-b", previous(f"key-{count}")).to_document()]))
    await db[CLIENTS].insert_one({"key": "removed", "version": 9, "secret": None})
    await db[IDEMPOTENCY_KEYS].insert_many([
        {"_id": "done", "kid": "old", "fingerprint": "f", "state": "done",
         "response": {"status": 201, "body": OLD.seal(
             '{"secret": "shown-once"}', idempotent_response_aad("done")).to_document()}},
        {"_id": "running", "kid": "old", "fingerprint": "f", "state": "running"}])
    before = {d["_id"]: d for name in (CLIENTS, IDEMPOTENCY_KEYS)
              for d in await db[name].find({}).to_list()}

    report = await reencrypt(db, lambda: ROTATED)

    assert report.reencrypted == {CLIENTS: count + 1, IDEMPOTENCY_KEYS: 1}
    assert not report.changed_meanwhile and not report.unreadable
    stored = await count_stored(db)
    assert stored.by_key == {CLIENTS: {"new": count + 3}, IDEMPOTENCY_KEYS: {"new": 1}}
    assert stored.legacy == {CLIENTS: 0, IDEMPOTENCY_KEYS: 0}
    for document in await db[CLIENTS].find({"secret": {"$ne": None}}).to_list():
        number = int(document["key"].removeprefix("key-"))
        assert opened(ROTATED, document["secret"], current(document["key"])) == (
            "new", f"secret-{number}")
    with_previous = await db[CLIENTS].find_one({"key": f"key-{count}"})
    assert with_previous is not None
    assert [opened(ROTATED, with_previous["previous_secrets"][0]["secret"],
                   previous(f"key-{count}")),
            opened(ROTATED, with_previous["previous_secrets"][1], previous(f"key-{count}"))] == [
        ("new", "previous-a"), ("new", "previous-b")]
    assert with_previous["previous_secrets"][0]["expires_at"] == \
        before[with_previous["_id"]]["previous_secrets"][0]["expires_at"]
    answer = await db[IDEMPOTENCY_KEYS].find_one({"_id": "done"})
    assert answer is not None
    assert opened(ROTATED, answer["response"]["body"], idempotent_response_aad("done")) == (
        "new", '{"secret": "shown-once"}')
    after = {d["_id"]: d for name in (CLIENTS, IDEMPOTENCY_KEYS)
             for d in await db[name].find({}).to_list()}
    assert {k: without_sealed(d) for k, d in after.items()} == \
        {k: without_sealed(d) for k, d in before.items()}

    again = await reencrypt(db, lambda: ROTATED)
    assert not again.reencrypted and not again.changed_meanwhile


def legacy(keyring: Keyring, plaintext: str) -> Document:
    """A value as stored before values were bound to their place: the constant, no `v`."""
    return dataclasses.replace(keyring.seal(plaintext, LEGACY_AAD), bound=False).to_document()


async def test_legacy_values_are_bound_to_their_place_under_the_same_key(
        db: AsyncDatabase[Document]) -> None:
    await db[CLIENTS].insert_one({
        "key": "key-1", "version": 3, "secret": legacy(OLD, "secret-1"),
        "previous_secrets": [{"secret": legacy(OLD, "previous-1"), "expires_at": now()}]})
    await db[IDEMPOTENCY_KEYS].insert_one(
        {"_id": "done", "kid": "old", "fingerprint": "f", "state": "done",
         "response": {"status": 201, "body": legacy(OLD, '{"secret": "shown-once"}')}})
    assert (await count_stored(db)).legacy == {CLIENTS: 2, IDEMPOTENCY_KEYS: 1}

    report = await reencrypt(db, lambda: OLD)

    assert report.reencrypted == {CLIENTS: 1, IDEMPOTENCY_KEYS: 1}
    assert (await count_stored(db)).legacy == {CLIENTS: 0, IDEMPOTENCY_KEYS: 0}
    document = await db[CLIENTS].find_one({"key": "key-1"})
    assert document is not None and document["version"] == 3
    bound, bound_previous = document["secret"], document["previous_secrets"][0]["secret"]
    assert bound["v"] == bound_previous["v"] == 2
    assert opened(OLD, bound, current("key-1")) == ("old", "secret-1")
    assert opened(OLD, bound_previous, previous("key-1")) == ("old", "previous-1")
    for elsewhere in (previous("key-1"), current("key-2"), LEGACY_AAD):
        with pytest.raises(InvalidTag):
            OLD.open(SealedSecret.from_document(bound), elsewhere)
    answer = await db[IDEMPOTENCY_KEYS].find_one({"_id": "done"})
    assert answer is not None and answer["response"]["body"]["v"] == 2
    assert opened(OLD, answer["response"]["body"], idempotent_response_aad("done")) == (
        "old", '{"secret": "shown-once"}')

    again = await reencrypt(db, lambda: OLD)
    assert not again.reencrypted and not again.changed_meanwhile and not again.unreadable
    assert await db[CLIENTS].find_one({"key": "key-1"}) == document


class EditingWhileRead:
    """The rotated keyring, except that the first time a value is opened, a
    worker sets a new secret (under the old key) on the target client first."""

    def __init__(self, mongodb_uri: str, target: str) -> None:
        self._uri, self._target = mongodb_uri, target
        self.edited = False
        self.current_key_id = ROTATED.current_key_id

    def open(self, sealed: SealedSecret, aad: bytes) -> str:
        if not self.edited:
            with MongoClient[Document](self._uri) as sync:
                edited = sync.get_default_database()[CLIENTS].update_one(
                    {"key": self._target},
                    {"$set": {"secret": OLD.seal("edited-meanwhile",
                                                 current(self._target)).to_document()},
                     "$inc": {"version": 1}})
            self.edited = edited.modified_count == 1
        return ROTATED.open(sealed, aad)

    def seal(self, plaintext: str, aad: bytes) -> SealedSecret:
        return ROTATED.seal(plaintext, aad)

    def fingerprint(self, data: bytes, key_id: str | None = None) -> tuple[str, str]:
        return ROTATED.fingerprint(data, key_id)

    def command_mac(self, data: bytes, key_id: str | None = None) -> tuple[str, bytes]:
        return ROTATED.command_mac(data, key_id)


async def test_an_edit_during_the_rotation_is_never_overwritten(
        db: AsyncDatabase[Document], mongodb_uri: str) -> None:
    await db[CLIENTS].insert_one(client(1))
    keyring = EditingWhileRead(mongodb_uri, "key-1")

    report = await reencrypt(db, lambda: keyring)

    assert keyring.edited
    assert report.changed_meanwhile == {CLIENTS: 1}
    assert report.reencrypted == {CLIENTS: 1}  # the edited secret, on the re-check
    document = await db[CLIENTS].find_one({"key": "key-1"})
    assert document is not None
    assert opened(ROTATED, document["secret"], current("key-1")) == ("new", "edited-meanwhile")
    assert document["version"] == 4  # the edit's, and only the edit's


async def test_values_under_a_key_not_in_the_keyring_are_reported_and_kept(
        db: AsyncDatabase[Document]) -> None:
    retired = Keyring.parse(new_key_entry("retired"))
    await db[CLIENTS].insert_one(client(1, retired))
    stored = await db[CLIENTS].find_one({"key": "key-1"})

    report = await reencrypt(db, lambda: ROTATED)

    assert report.unreadable == {"retired": 1}
    assert await db[CLIENTS].find_one({"key": "key-1"}) == stored


async def test_rotate_and_status_from_the_command_line(
        settings: Settings, db: AsyncDatabase[Document], tmp_path: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = with_keyring_file(settings, tmp_path)
    assert settings.encryption_keys_file is not None
    before = read_keyring_file(settings.encryption_keys_file)
    await db[CLIENTS].insert_one(client(1, before))

    assert await run_cli(settings, "keys", "rotate", "--key-id", "k2", "--settle", "0") == 0
    printed = capsys.readouterr().out
    assert "clients: 1 re-encrypted under 'k2'" in printed
    assert read_keyring_file(settings.encryption_keys_file).key_ids == ("k2", "before")

    assert await run_cli(settings, "keys", "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["current_key_id"] == "k2"
    assert status["by_key"]["k2"]["stored"][CLIENTS] == 1
    assert status["by_key"]["before"] == {"role": "decrypt-only",
                                          "stored": {CLIENTS: 0, IDEMPOTENCY_KEYS: 0}}
    assert status["legacy"] == {CLIENTS: 0, IDEMPOTENCY_KEYS: 0}

    assert await run_cli(settings, "keys", "rotate", "--key-id", "k2") == 2
    assert "already in" in capsys.readouterr().err


async def test_with_the_keyring_in_the_environment_rotate_only_re_encrypts(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli(settings, "keys", "rotate") == 2
    assert "--reencrypt-only" in capsys.readouterr().err
    assert await run_cli(settings, "keys", "rotate", "--reencrypt-only") == 0
    assert "nothing to re-encrypt" in capsys.readouterr().out


async def test_a_generated_secret_kept_with_an_idempotency_key_moves_too(
        db: AsyncDatabase[Document]) -> None:
    aad = idempotent_response_aad("queued")
    await db[IDEMPOTENCY_KEYS].insert_one({
        "_id": "queued", "kid": "old", "fingerprint": "f", "state": "accepted",
        "operation_id": "op-1", "secret": OLD.seal("generated-1", aad).to_document()})

    report = await reencrypt(db, lambda: ROTATED)

    assert report.reencrypted == {IDEMPOTENCY_KEYS: 1}
    record = await db[IDEMPOTENCY_KEYS].find_one({"_id": "queued"})
    assert record is not None and record["operation_id"] == "op-1"
    assert opened(ROTATED, record["secret"], aad) == ("new", "generated-1")
