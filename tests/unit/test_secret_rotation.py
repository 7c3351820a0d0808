"""Secret rotation with a grace period: the rules (common.secret_grace) and the worker's
handlers, with the in-memory store."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.client_view import public_client
from common.clients import ClientType
from common.commands import CreateClient, EndSecretGrace, RemoveClient, RotateSecret, UpdateClient
from common.events import ClientEventType, encode_event
from common.keyring import (
    Keyring,
    SealedSecret,
    SecretSlot,
    client_secret_aad,
    command_secret_aad,
    new_key_entry,
)
from common.outcomes import ErrorCode, OperationStatus
from common.secret_grace import MAX_PREVIOUS_SECRETS, after_rotation, unexpired, valid_secrets
from tests.fakes import InMemoryClientStore
from worker.applied import Applied
from worker.handlers import handle

KEYRING = Keyring.parse(new_key_entry("k1"))
DAY = 86400
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# The rules only move sealed values: they are all sealed for one place here.
RULES = client_secret_aad("k", SecretSlot.CURRENT)


def current(key: str) -> bytes:
    return client_secret_aad(key, SecretSlot.CURRENT)


def previous(key: str) -> bytes:
    return client_secret_aad(key, SecretSlot.PREVIOUS)


def sealed(plaintext: str, aad: bytes = RULES) -> dict[str, Any]:
    return KEYRING.seal(plaintext, aad).to_document()


def opened(document: dict[str, Any], aad: bytes = RULES) -> str:
    return KEYRING.open(SealedSecret.from_document(document), aad)


def checkable(document: dict[str, Any], key: str, at: datetime) -> list[str]:
    """The plain secrets `valid_secrets` names, each opened for its client and slot."""
    return [KEYRING.open(value, client_secret_aad(key, slot))
            for value, slot in valid_secrets(document, at)]


def for_command(secret: str, command_id: str, kind: str) -> SealedSecret:
    """The secret as the gateway seals it into a command."""
    return KEYRING.seal(secret, command_secret_aad(command_id, kind))


def rotate(key: str, secret: str, grace_seconds: int = DAY, **extra: Any) -> RotateSecret:
    command_id = str(uuid.uuid4())
    return RotateSecret(id=command_id, actor="alice", request_id="r", client_key=key,
                        secret=for_command(secret, command_id, RotateSecret.kind),
                        grace_seconds=grace_seconds, **extra)


def end_grace(key: str, **extra: Any) -> EndSecretGrace:
    return EndSecretGrace(id=str(uuid.uuid4()), actor="alice", request_id="r",
                          client_key=key, **extra)


async def new_client(store: InMemoryClientStore, secret: str = "secret-number-0") -> str:
    command_id = str(uuid.uuid4())
    applied = await handle(CreateClient(
        id=command_id, actor="alice", request_id="r", type=ClientType.OIDC, name="Portal",
        secret=for_command(secret, command_id, CreateClient.kind),
        redirect_uris=["https://a.example/cb"],
        grant_types=["authorization_code"], response_types=["code"]), store, KEYRING)
    assert applied.outcome.client_key is not None
    return applied.outcome.client_key


def succeeded(applied: Applied[Any]) -> None:
    assert applied.outcome.status is OperationStatus.SUCCEEDED, applied.outcome.error


# The rules -------------------------------------------------------------------------------

def test_a_rotation_puts_the_current_secret_first_with_its_deadline() -> None:
    older = {"secret": sealed("older"), "expires_at": NOW + timedelta(hours=1)}
    document = {"secret": sealed("current"), "previous_secrets": [older]}
    previous = after_rotation(document, NOW, 3600 * 5)
    assert [opened(p["secret"]) for p in previous] == ["current", "older"]
    assert previous[0]["expires_at"] == NOW + timedelta(hours=5)
    assert previous[1] == older


@pytest.mark.parametrize(("stored", "grace", "kept"), [
    ([], DAY, ["current"]),
    ([("a", 10)], DAY, ["current", "a"]),
    ([("a", 10), ("b", 20)], DAY, ["current", "a"]),  # at most two: the oldest goes
    ([("a", -1), ("b", 20)], DAY, ["current", "b"]),  # expired ones go first
    ([("a", 0)], DAY, ["current"]),                   # a deadline of now has passed
    ([("a", 10)], 0, ["a"]),                          # no grace: the current one ends now
    ([("a", -5), ("b", -1)], 0, []),
])
def test_what_a_rotation_keeps(stored: list[tuple[str, int]], grace: int,
                               kept: list[str]) -> None:
    document = {"secret": sealed("current"), "previous_secrets": [
        {"secret": sealed(name), "expires_at": NOW + timedelta(seconds=offset)}
        for name, offset in stored]}
    previous = after_rotation(document, NOW, grace)
    assert [opened(p["secret"]) for p in previous] == kept
    assert len(previous) <= MAX_PREVIOUS_SECRETS


def test_a_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="grace_seconds"):
        after_rotation({"secret": sealed("current")}, NOW, -1)


def test_valid_secrets_are_the_current_then_the_unexpired_previous_ones() -> None:
    document = {"secret": sealed("current", current("k")), "previous_secrets": [
        {"secret": sealed("newer", previous("k")), "expires_at": NOW + timedelta(seconds=1)},
        {"secret": sealed("expired", previous("k")), "expires_at": NOW - timedelta(seconds=1)}]}
    assert checkable(document, "k", NOW) == ["current", "newer"]
    assert checkable(document, "k", NOW + timedelta(seconds=2)) == ["current"]
    assert valid_secrets({"secret": None, "previous_secrets": []}, NOW) == []
    assert checkable({"secret": sealed("only", current("k"))}, "k", NOW) == ["only"]


def test_the_public_view_shows_deadlines_only_and_only_of_valid_secrets() -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    view = public_client({
        "key": "k", "type": "oidc", "name": "n", "status": "pending", "redirect_uris": [],
        "grant_types": [], "response_types": [], "created_at": NOW, "updated_at": NOW,
        "status_changed_at": NOW, "version": 1, "secret": sealed("current"),
        "secret_rotated_at": NOW, "previous_secrets": [
            {"secret": sealed("valid"), "expires_at": soon},
            {"secret": sealed("gone"), "expires_at": NOW}]})
    assert view["previous_secrets"] == [{"expires_at": soon.isoformat(), "issued_at": None}]
    assert view["secret_rotated_at"] == NOW.isoformat()
    assert "secret" not in view


def test_a_client_never_rotated_shows_no_rotation() -> None:
    view = public_client({"key": "k", "type": "oauth1", "name": "n", "status": "pending",
                          "created_at": NOW, "updated_at": NOW, "status_changed_at": NOW,
                          "version": 1})
    assert view["secret_rotated_at"] is None and view["previous_secrets"] == []


def test_the_audit_trail_names_what_rotation_and_end_of_grace_touch() -> None:
    assert rotate("k", "new-secret-value").audited_fields() == ["secret"]
    assert end_grace("k").audited_fields() == ["previous_secrets"]


# The handlers ----------------------------------------------------------------------------

async def test_rotation_sets_the_new_secret_and_keeps_the_old_one_for_the_grace() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    issued_before = store.clients[key]["client_secret_issued_at"]
    before = datetime.now(UTC)
    applied = await handle(rotate(key, "secret-number-1", grace_seconds=3600), store, KEYRING)
    succeeded(applied)
    stored = store.clients[key]
    assert opened(stored["secret"], current(key)) == "secret-number-1"
    [replaced] = stored["previous_secrets"]
    assert opened(replaced["secret"], previous(key)) == "secret-number-0"
    assert replaced["expires_at"] == stored["secret_rotated_at"] + timedelta(seconds=3600)
    assert stored["version"] == 2
    # Stored at MongoDB's precision, milliseconds.
    assert stored["updated_at"] == stored["secret_rotated_at"] \
        >= before.replace(microsecond=before.microsecond // 1000 * 1000)
    assert applied.outcome.client is not None
    # The replaced secret keeps its issue time: it names the secret when its use is noted.
    assert replaced["issued_at"] == issued_before
    assert applied.outcome.client["previous_secrets"] == [
        {"expires_at": replaced["expires_at"].isoformat(),
         "issued_at": replaced["issued_at"].isoformat()}]


async def test_rotations_keep_at_most_two_previous_secrets_newest_first() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    for number in range(1, 5):
        succeeded(await handle(rotate(key, f"secret-number-{number}"), store, KEYRING))
    stored = store.clients[key]
    assert opened(stored["secret"], current(key)) == "secret-number-4"
    assert [opened(p["secret"], previous(key)) for p in stored["previous_secrets"]] == [
        "secret-number-3", "secret-number-2"]
    assert checkable(stored, key, datetime.now(UTC)) == [
        "secret-number-4", "secret-number-3", "secret-number-2"]


async def test_rotation_drops_previous_secrets_whose_grace_ended() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(rotate(key, "secret-number-1"), store, KEYRING))
    store.clients[key]["previous_secrets"][0]["expires_at"] = datetime.now(UTC) \
        - timedelta(seconds=1)
    succeeded(await handle(rotate(key, "secret-number-2"), store, KEYRING))
    assert [opened(p["secret"], previous(key))
            for p in store.clients[key]["previous_secrets"]] == ["secret-number-1"]


async def test_the_event_says_secret_rotated_and_holds_no_secret() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    applied = await handle(rotate(key, "secret-number-1"), store, KEYRING)
    [event] = applied.events
    assert event.type is ClientEventType.SECRET_ROTATED
    assert event.routing_key == "client.oidc.secret_rotated"
    assert event.client["version"] == 2 and len(event.client["previous_secrets"]) == 1
    body = encode_event(event, "ns")
    stored = store.clients[key]
    for value in (stored["secret"], stored["previous_secrets"][0]["secret"]):
        for raw in (value["ct"], value["nonce"]):
            assert raw not in body
            assert base64.urlsafe_b64encode(raw).rstrip(b"=") not in body
            assert base64.b64encode(raw).rstrip(b"=") not in body
    assert b"secret-number" not in body and b'"ct"' not in body
    assert store.clients[key]["outbox"][-1]["type"] == "secret_rotated"


async def test_a_redelivered_rotation_is_applied_once() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    command = rotate(key, "secret-number-1")
    first = await handle(command, store, KEYRING)
    again = await handle(command, store, KEYRING)
    succeeded(again)
    assert len(first.events) == 1 and again.events == []
    assert store.clients[key]["version"] == 2
    assert len(store.clients[key]["previous_secrets"]) == 1


async def test_a_stale_if_match_rotates_nothing() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(UpdateClient(id="u", actor="bob", request_id="r", client_key=key,
                                        name="Renamed"), store, KEYRING))
    applied = await handle(rotate(key, "secret-number-1", expected_version=1), store, KEYRING)
    assert applied.outcome.error is not None
    assert applied.outcome.error.code is ErrorCode.STALE
    assert applied.events == []
    assert opened(store.clients[key]["secret"], current(key)) == "secret-number-0"
    assert "previous_secrets" not in store.clients[key]
    succeeded(await handle(rotate(key, "secret-number-1", expected_version=2), store, KEYRING))


async def test_rotating_a_missing_client_is_not_found() -> None:
    applied = await handle(rotate("missing", "secret-number-1"), InMemoryClientStore(), KEYRING)
    assert applied.outcome.error is not None
    assert applied.outcome.error.code is ErrorCode.NOT_FOUND


async def test_ending_the_grace_empties_previous_secrets_with_an_updated_event() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(rotate(key, "secret-number-1"), store, KEYRING))
    succeeded(await handle(rotate(key, "secret-number-2"), store, KEYRING))
    applied = await handle(end_grace(key, expected_version=3), store, KEYRING)
    succeeded(applied)
    stored = store.clients[key]
    assert stored["previous_secrets"] == [] and stored["version"] == 4
    assert opened(stored["secret"], current(key)) == "secret-number-2"
    [event] = applied.events
    assert event.type is ClientEventType.UPDATED
    assert event.changed_fields == ["previous_secrets"]
    assert event.client["previous_secrets"] == []

    nothing_left = await handle(end_grace(key), store, KEYRING)
    succeeded(nothing_left)
    assert nothing_left.events == [] and store.clients[key]["version"] == 4


async def test_ending_a_grace_with_a_stale_if_match_changes_nothing() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(rotate(key, "secret-number-1"), store, KEYRING))
    applied = await handle(end_grace(key, expected_version=1), store, KEYRING)
    assert applied.outcome.error is not None
    assert applied.outcome.error.code is ErrorCode.STALE
    assert len(store.clients[key]["previous_secrets"]) == 1


async def test_an_edit_that_sets_a_secret_ends_every_grace() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(rotate(key, "secret-number-1"), store, KEYRING))
    applied = await handle(UpdateClient(id="u", actor="bob", request_id="r", client_key=key,
                                        secret=for_command("secret-number-2", "u",
                                                           UpdateClient.kind)),
                           store, KEYRING)
    succeeded(applied)
    stored = store.clients[key]
    assert stored["previous_secrets"] == []
    assert stored["secret_rotated_at"] == stored["updated_at"]
    assert checkable(stored, key, datetime.now(UTC)) == ["secret-number-2"]
    assert applied.events[0].changed_fields == ["secret", "previous_secrets"]


async def test_an_edit_without_a_secret_keeps_the_grace() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(rotate(key, "secret-number-1"), store, KEYRING))
    succeeded(await handle(UpdateClient(id="u", actor="bob", request_id="r", client_key=key,
                                        name="Renamed"), store, KEYRING))
    assert len(store.clients[key]["previous_secrets"]) == 1


async def test_a_removed_client_keeps_no_previous_secret() -> None:
    store = InMemoryClientStore()
    key = await new_client(store)
    succeeded(await handle(rotate(key, "secret-number-1"), store, KEYRING))
    succeeded(await handle(RemoveClient(id="x", actor="bob", request_id="r", client_key=key),
                           store, KEYRING))
    assert store.clients[key]["secret"] is None
    assert store.clients[key]["previous_secrets"] == []
    assert unexpired(store.clients[key]["previous_secrets"], NOW) == []
