"""The worker's handlers and consumer, with an in-memory store and a recording bus."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect, OperationFailure

from common.audit import AuditOutcome
from common.bus import BrokerUnavailable
from common.client_documents import ClientDocument
from common.clients import ClientType
from common.commands import (
    ApproveClient,
    CreateClient,
    DisapproveClient,
    RemoveClient,
    RotateSecret,
    UpdateClient,
    encode_command,
)
from common.keyring import SealedSecret, SecretSlot, client_secret_aad, command_secret_aad
from common.outcome_replies import OutcomeReply
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.topology import COMMAND_DELIVERY_LIMIT
from tests.fakes import FAKE_KEYRING, FakeMessage, InMemoryClientStore, RecordingBus
from worker import consumer as consumer_module
from worker.consumer import CommandConsumer
from worker.handlers import handle
from worker.relay import OutboxRelay
from worker.worker_metrics import WorkerMetrics

# The keyring of the gateway and of the worker under test alike.
KEYRING = FAKE_KEYRING


def create_command(**overrides: object) -> CreateClient:
    command_id = str(overrides.pop("id", uuid.uuid4()))
    fields: dict[str, object] = {
        "id": command_id, "actor": "alice", "request_id": "r1",
        "type": ClientType.OIDC, "name": " Portal ",
        "secret": KEYRING.seal("a-long-secret", command_secret_aad(command_id,
                                                                  CreateClient.kind)),
        "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"],
        "response_types": ["code"]}
    fields.update(overrides)
    return CreateClient(**fields)  # type: ignore[arg-type]


def ids(kind: type[ApproveClient | DisapproveClient | RemoveClient], key: str
        ) -> ApproveClient | DisapproveClient | RemoveClient:
    return kind(id=str(uuid.uuid4()), actor="bob", request_id="r2", client_key=key)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "RETRY_FIRST_S", 0.0)


async def test_create_stores_a_pending_client_with_a_sealed_secret() -> None:
    store = InMemoryClientStore()
    applied = await handle(create_command(), store, KEYRING)
    assert applied.outcome.status is OperationStatus.SUCCEEDED
    [document] = store.clients.values()
    assert document["name"] == "Portal" and document["status"] == "pending"
    stored = SealedSecret.from_document(document["secret"])
    assert KEYRING.open(stored, client_secret_aad(document["key"], SecretSlot.CURRENT)) \
        == "a-long-secret"
    assert [e.type.value for e in applied.events] == ["created"]
    assert "secret" not in applied.events[0].client


async def test_the_same_create_twice_makes_one_client_and_one_event() -> None:
    store = InMemoryClientStore()
    command = create_command()
    first = await handle(command, store, KEYRING)
    second = await handle(command, store, KEYRING)
    assert len(store.clients) == 1
    assert second.outcome.client_key == first.outcome.client_key
    assert second.events == []


async def test_create_with_invalid_fields_fails_without_a_write() -> None:
    store = InMemoryClientStore()
    applied = await handle(create_command(redirect_uris=[]), store, KEYRING)
    assert applied.outcome.status is OperationStatus.FAILED
    assert applied.outcome.error is not None
    assert applied.outcome.error.code is ErrorCode.INVALID
    assert "redirect_uris" in (applied.outcome.error.fields or {})
    assert store.clients == {} and applied.events == []


async def test_update_applied_twice_changes_once() -> None:
    store = InMemoryClientStore()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    update = UpdateClient(id="u1", actor="alice", request_id="r", client_key=key, name="New")
    first = await handle(update, store, KEYRING)
    again = await handle(update, store, KEYRING)
    assert [e.changed_fields for e in first.events] == [["name"]]
    assert again.events == []
    assert store.clients[key]["version"] == 2


async def test_update_that_changes_nothing_emits_nothing() -> None:
    store = InMemoryClientStore()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    same = UpdateClient(id="u1", actor="alice", request_id="r", client_key=key, name="Portal")
    applied = await handle(same, store, KEYRING)
    assert applied.outcome.status is OperationStatus.SUCCEEDED and applied.events == []
    assert store.clients[key]["version"] == 1


@pytest.mark.parametrize(("start", "action", "end", "emits"), [
    ("pending", ApproveClient, "approved", True),
    ("disapproved", ApproveClient, "approved", True),
    ("approved", ApproveClient, "approved", False),
    ("pending", DisapproveClient, "disapproved", True),
    ("approved", DisapproveClient, "disapproved", True),
    ("disapproved", DisapproveClient, "disapproved", False),
])
async def test_status_transitions(start: str, action: type[ApproveClient | DisapproveClient],
                                  end: str, emits: bool) -> None:
    store = InMemoryClientStore()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    store.clients[key]["status"] = start
    applied = await handle(ids(action, key), store, KEYRING)
    assert store.clients[key]["status"] == end
    assert len(applied.events) == (1 if emits else 0)
    if emits:
        assert applied.events[0].previous_status == start


async def test_a_removal_seen_again_before_its_event_left_still_succeeds() -> None:
    store = InMemoryClientStore()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    removal = ids(RemoveClient, key)
    first = await handle(removal, store, KEYRING)
    again = await handle(removal, store, KEYRING)  # the tombstone is still there
    assert first.outcome.status is again.outcome.status is OperationStatus.SUCCEEDED
    assert again.events == []
    other = await handle(ids(RemoveClient, key), store, KEYRING)
    assert other.outcome.error is not None
    assert other.outcome.error.code is ErrorCode.NOT_FOUND


async def test_commands_for_a_missing_client_fail_as_not_found() -> None:
    store = InMemoryClientStore()
    for kind in (ApproveClient, DisapproveClient, RemoveClient):
        applied = await handle(ids(kind, "missing"), store, KEYRING)
        assert applied.outcome.error is not None
        assert applied.outcome.error.code is ErrorCode.NOT_FOUND


async def test_a_write_that_loses_the_race_reads_again() -> None:
    store = InMemoryClientStore()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    real_get = store.get_client
    reads = 0

    async def get_then_race(key: str, *, include_removed: bool = False
                            ) -> ClientDocument | None:
        nonlocal reads
        reads += 1
        document = await real_get(key, include_removed=include_removed)
        if reads == 1:  # another worker approves between our read and our write
            assert document is not None
            await store.update_client(document, {"status": "approved"}, "other", None)
        return document

    store.get_client = get_then_race  # type: ignore[method-assign]
    applied = await handle(UpdateClient(id="u", actor="a", request_id="r", client_key=key,
                                        name="Renamed"), store, KEYRING)
    assert applied.outcome.status is OperationStatus.SUCCEEDED
    assert reads == 2
    assert store.clients[key]["name"] == "Renamed"
    assert store.clients[key]["status"] == "approved"  # the other change was not overwritten
    assert store.clients[key]["version"] == 3
    assert applied.events[0].client["version"] == 3


async def consume(message: FakeMessage, store: InMemoryClientStore,
                  bus: RecordingBus, metrics: WorkerMetrics | None = None) -> None:
    metrics = metrics or WorkerMetrics(CollectorRegistry())
    consumer = CommandConsumer(bus, store, OutboxRelay(bus, store, "ns", metrics, FAKE_KEYRING),
                               asyncio.Event(), metrics, FAKE_KEYRING)
    await consumer.on_message(message)


async def test_consumer_publishes_events_records_the_outcome_replies_then_acks() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    command = create_command()
    message = FakeMessage(encode_command(command))
    await consume(message, store, bus)
    assert message.settled == ["ack"]
    assert [rk for rk, _ in bus.events] == ["client.oidc.created"]
    assert store.outcomes[command.id].status is OperationStatus.SUCCEEDED
    replied = [OutcomeReply.decode(body).outcome.operation_id for _, body in bus.replies]
    assert replied == [command.id]
    assert b"a-long-secret" not in bus.events[0][1] + bus.replies[0][1]


async def test_a_reply_carries_the_stored_secrets_only_of_a_command_that_wrote_them() -> None:
    """A create's and a rotation's reply carry the client's `_id` and sealed secrets as
    stored (the gateway's read model needs them and would read them back); an approval,
    which changes no secret, and a redelivery carry none."""
    store, bus = InMemoryClientStore(), RecordingBus()
    command = create_command()
    await consume(FakeMessage(encode_command(command)), store, bus)
    key = next(iter(store.clients))
    rotation_id = str(uuid.uuid4())
    rotate = RotateSecret(id=rotation_id, actor="alice", request_id="r3", client_key=key,
                          grace_seconds=3600, secret=KEYRING.seal(
                              "another-long-secret",
                              command_secret_aad(rotation_id, RotateSecret.kind)))
    for sent in (rotate, ids(ApproveClient, key)):
        await consume(FakeMessage(encode_command(sent)), store, bus)
    await consume(FakeMessage(encode_command(command), redelivered=True), store, bus)
    created, rotated, approved, again = (OutcomeReply.decode(body) for _, body in bus.replies)
    assert created.stored is not None and rotated.stored is not None
    assert approved.stored is None and again.stored is None
    assert created.stored.object_id == rotated.stored.object_id == store.clients[key]["_id"]
    assert rotated.stored.current is not None
    assert rotated.stored.current.to_document() == store.clients[key]["secret"]
    assert [(sealed.to_document(), ends) for sealed, ends in rotated.stored.previous] == [
        (entry["secret"], entry["expires_at"]) for entry in store.clients[key]["previous_secrets"]]
    assert created.stored.current != rotated.stored.current
    assert b"a-long-secret" not in b"".join(body for _, body in bus.replies)


async def test_consumer_answers_a_finished_command_again_without_new_events() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    command = create_command()
    await consume(FakeMessage(encode_command(command)), store, bus)
    redelivered = FakeMessage(encode_command(command), redelivered=True)
    await consume(redelivered, store, bus)
    assert redelivered.settled == ["ack"]
    assert len(bus.events) == 1 and len(bus.replies) == 2 and len(store.clients) == 1


async def test_consumer_holds_the_message_through_an_outage() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    store.fail_next = [AutoReconnect("down"), AutoReconnect("still down")]
    bus.fail_events = [BrokerUnavailable("no confirm")]
    command = create_command()
    message = FakeMessage(encode_command(command))
    await consume(message, store, bus)
    assert message.settled == ["ack"]
    assert len(store.clients) == 1
    assert len(bus.events) == 1  # the outbox kept the event through the failed publish
    [client] = store.clients.values()
    assert client["outbox"] == []


async def no_reads(key: str) -> list[dict[str, Any]]:
    raise AssertionError("the outbox is published as the write returned it, not read again")


async def test_events_queued_before_leave_first_without_reading_the_outbox() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    created = await handle(create_command(), store, KEYRING)  # its worker has not published yet
    key = created.outcome.client_key
    assert key is not None
    store.pending_events = no_reads  # type: ignore[method-assign]
    await consume(FakeMessage(encode_command(ids(ApproveClient, key))), store, bus)
    assert [rk for rk, _ in bus.events] == ["client.oidc.created", "client.oidc.approved"]
    assert store.clients[key]["outbox"] == [] and "outbox_since" not in store.clients[key]


async def test_a_redelivery_publishes_what_its_first_delivery_left() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    store.clients[key]["outbox"] = []
    update = UpdateClient(id="u1", actor="a", request_id="r", client_key=key, name="B")
    await handle(update, store, KEYRING)  # written, then the worker died before publishing
    store.pending_events = no_reads  # type: ignore[method-assign]
    await consume(FakeMessage(encode_command(update), redelivered=True), store, bus)
    assert [rk for rk, _ in bus.events] == ["client.oidc.updated"]
    assert store.clients[key]["outbox"] == [] and store.clients[key]["version"] == 2


async def test_removed_client_is_deleted_once_its_event_has_left() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    created = create_command()
    await consume(FakeMessage(encode_command(created)), store, bus)
    key = store.outcomes[created.id].client_key
    assert key is not None
    bus.fail_events = [BrokerUnavailable("no confirm")]
    removal = ids(RemoveClient, key)
    await consume(FakeMessage(encode_command(removal)), store, bus)
    assert [rk for rk, _ in bus.events] == ["client.oidc.created", "client.oidc.removed"]
    assert store.clients[key]["removed_at"] is not None
    assert store.clients[key]["secret"] is None  # the tombstone keeps no secret
    assert store.clients[key]["outbox"] == []


async def test_consumer_never_applies_a_withdrawn_command() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    command = create_command()
    store.outcomes[command.id] = Outcome(
        command.id, command.kind, OperationStatus.FAILED,
        error=OperationError(ErrorCode.UNDELIVERABLE, "not confirmed"))
    message = FakeMessage(encode_command(command))
    await consume(message, store, bus)
    assert message.settled == ["ack"]
    assert store.clients == {} and bus.events == []


async def test_a_command_that_is_wrong_not_away_goes_through_the_queue() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    store.fail_next = [OperationFailure("document failed validation", code=121)]
    message = FakeMessage(encode_command(create_command()))
    await consume(message, store, bus)
    assert message.settled == ["retry"]  # counted by the broker, not retried in place


async def test_consumer_dead_letters_what_is_not_a_command() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    junk = FakeMessage(json.dumps({"id": "op-1", "kind": "launch_rockets"}).encode())
    await consume(junk, store, bus)
    assert junk.settled == ["dead_letter"]
    assert store.outcomes["op-1"].error is not None
    assert store.outcomes["op-1"].error.code is ErrorCode.UNDELIVERABLE
    not_json = FakeMessage(b"\xff\xfe")
    await consume(not_json, store, bus)
    assert not_json.settled == ["dead_letter"]


async def test_consumer_retries_a_failing_command_then_sets_it_aside() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    command = create_command()
    store.fail_next = [RuntimeError("bug")]
    early = FakeMessage(encode_command(command))
    await consume(early, store, bus)
    assert early.settled == ["retry"]
    store.fail_next = [RuntimeError("bug")]
    last = FakeMessage(encode_command(command), previous_deliveries=COMMAND_DELIVERY_LIMIT - 1)
    await consume(last, store, bus)
    assert last.settled == ["dead_letter"]
    outcome = store.outcomes[command.id]
    assert outcome.status is OperationStatus.FAILED
    assert outcome.error is not None and outcome.error.code is ErrorCode.INTERNAL


@pytest.mark.parametrize("kind", [ApproveClient, DisapproveClient, RemoveClient])
async def test_an_expected_version_that_no_longer_holds_is_stale(
        kind: type[ApproveClient | DisapproveClient | RemoveClient]) -> None:
    store = InMemoryClientStore()
    key = (await handle(create_command(), store, KEYRING)).outcome.client_key
    assert key is not None
    await handle(UpdateClient(id="u", actor="a", request_id="r", client_key=key, name="B"),
                 store, KEYRING)
    stale = await handle(kind(id="s", actor="a", request_id="r", client_key=key,
                              expected_version=1), store, KEYRING)
    assert stale.outcome.error is not None
    assert stale.outcome.error.code is ErrorCode.STALE
    assert stale.events == []
    current = await handle(kind(id="c", actor="a", request_id="r", client_key=key,
                                expected_version=2), store, KEYRING)
    assert current.outcome.status is OperationStatus.SUCCEEDED


async def test_the_relay_sweeps_outboxes_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    relay = OutboxRelay(bus, store, "ns", WorkerMetrics(CollectorRegistry()), FAKE_KEYRING)
    created = await handle(create_command(), store, KEYRING)  # written, never published: a crash
    key = created.outcome.client_key
    assert key is not None
    assert await relay.sweep() == 0  # too fresh: its own worker may still publish it
    monkeypatch.setattr("worker.relay.SWEEP_AFTER", timedelta(seconds=-1))
    assert await relay.sweep() == 1
    assert [rk for rk, _ in bus.events] == ["client.oidc.created"]
    assert store.clients[key]["outbox"] == []
    assert "outbox_since" not in store.clients[key]
    assert await relay.sweep() == 0


async def test_the_worker_audits_each_command_once_with_its_real_outcome() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    created = create_command(remote_addr="10.0.0.7")
    await consume(FakeMessage(encode_command(created)), store, bus)
    await consume(FakeMessage(encode_command(created), redelivered=True), store, bus)
    key = store.outcomes[created.id].client_key
    assert key is not None
    edit = UpdateClient(id="u1", actor="bob", request_id="r2", client_key=key, name="B",
                        redirect_uris=[])
    await consume(FakeMessage(encode_command(edit)), store, bus)
    stale = ApproveClient(id="a1", actor="bob", request_id="r3", client_key=key,
                          expected_version=99)
    await consume(FakeMessage(encode_command(stale)), store, bus)
    entries = store.audit
    assert list(entries) == [created.id, "u1", "a1"]  # the redelivery added nothing
    first = entries[created.id]
    assert (first.action, first.actor, first.client_key, first.outcome, first.remote_addr) == (
        "create_client", created.actor, key, AuditOutcome.APPLIED, "10.0.0.7")
    assert first.fields == ["type", "name", "secret", "redirect_uris", "grant_types",
                            "response_types"]
    # An OIDC client without redirect URIs is invalid; the attempt is recorded all the same.
    assert (entries["u1"].fields, entries["u1"].outcome) == (["name", "redirect_uris"],
                                                           AuditOutcome.REJECTED)
    assert (entries["a1"].outcome, entries["a1"].fields) == (AuditOutcome.REJECTED, [])
    assert entries["a1"].reason is not None


async def test_a_command_set_aside_is_audited_as_failed() -> None:
    store, bus = InMemoryClientStore(), RecordingBus()
    command = create_command()
    store.fail_next = [RuntimeError("bug")]
    last = FakeMessage(encode_command(command), previous_deliveries=COMMAND_DELIVERY_LIMIT - 1)
    await consume(last, store, bus)
    assert store.audit[command.id].outcome is AuditOutcome.FAILED
