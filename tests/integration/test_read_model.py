"""The gateway's read model against a real MongoDB-wire server: versions order everything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from api.verify.client_entries import count_secret_expiries, secrets_of
from api.verify.read_model import (
    CATCH_UP_OVERLAP,
    CATCH_UP_SLICE,
    REPLY_CHECK_S,
    ClientReadModel,
)
from common.client_documents import ClientDocument
from common.client_view import public_client
from common.events import ClientEvent, ClientEventType, encode_event
from common.keyring import Keyring, SecretSlot, client_secret_aad, new_key_entry
from common.outcome_replies import OutcomeReply, StoredSecrets
from common.outcomes import OperationStatus, Outcome
from common.store import BY_KEY, CLIENTS, Document, connect, database, ensure_indexes, now
from tests.integration.counted_worker import SentCommands
from tests.integration.test_bus_contract import eventually
from tests.integration.test_query_shapes import plan_stages

KEYRING = Keyring.parse(new_key_entry("k1"))


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    yield database(client)
    await client.close()


CREATED = datetime(2026, 12, 1, tzinfo=UTC)


def stored(key: str, version: int, status: str = "pending", **extra: Any) -> Document:
    return {"key": key, "type": "oauth1", "name": f"Client {key}", "name_sort": f"client {key}",
            "status": status, "version": version,
            "grant_types": [], "response_types": [], "redirect_uris": [],
            "created_at": CREATED, "updated_at": CREATED, "status_changed_at": CREATED,
            "secret": KEYRING.seal("s", client_secret_aad(key, SecretSlot.CURRENT)).to_document(),
            "removed_at": None, **extra}


def event(kind: str, key: str, version: int, status: str) -> tuple[str, bytes]:
    """The routing key and body of a `kind` event, as a worker publishes it."""
    view = public_client({**stored(key, version, status), "updated_at": now()})
    published = ClientEvent(ClientEventType(kind), view, "alice", f"command-{key}-{version}")
    return published.routing_key, encode_event(published, "ns")


async def test_load_then_events_then_an_older_view_is_ignored(
        db: AsyncDatabase[Document]) -> None:
    await db[CLIENTS].insert_many([stored("a", 1), stored("b", 2, "approved"),
                                   stored("gone", 3, removed_at=now())])
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    assert model.loaded.is_set() and len(model) == 2 and model.get("gone") is None
    await model.on_event(*event("approved", "a", 2, "approved"))
    approved = model.get("a")
    assert approved is not None and approved.status == "approved" and approved.secrets
    await model.on_event(*event("disapproved", "a", 1, "disapproved"))  # late, older
    assert model.get("a") == approved


async def test_a_removal_is_not_undone_by_a_read_that_started_before_it(
        db: AsyncDatabase[Document]) -> None:
    await db[CLIENTS].insert_one(stored("a", 1, "approved"))
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    await model.on_event(*event("removed", "a", 2, "approved"))
    assert model.get("a") is None
    await model.refresh("a")  # the database still shows version 1 (no tombstone yet)
    assert model.get("a") is None


async def test_reconciliation_drops_what_is_gone_and_keeps_what_events_added(
        db: AsyncDatabase[Document]) -> None:
    await db[CLIENTS].insert_one(stored("a", 1))
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    await db[CLIENTS].update_one({"key": "a"}, {"$set": {"removed_at": now()}})
    await model.reconcile()
    assert model.get("a") is None
    await db[CLIENTS].insert_one(stored("b", 1))
    await model.on_event(*event("created", "b", 1, "pending"))
    await model.refresh("b")
    await model.reconcile()
    assert model.get("b") is not None


async def test_what_is_not_a_client_event_is_ignored(db: AsyncDatabase[Document]) -> None:
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    await model.on_event("client.x.y", b"not json")
    await model.on_event("client.x.y", b'{"data": {}}')
    assert len(model) == 0


async def test_counts_follow_loads_events_removals_and_reconciliation(
        db: AsyncDatabase[Document]) -> None:
    """What the gauges show instead of an aggregation over every client."""
    model = ClientReadModel(db, reconcile_every_s=60)
    assert model.counts() is None  # not loaded: the poller falls back to MongoDB
    await db[CLIENTS].insert_many([stored("a", 1), stored("b", 1), stored("c", 2, "approved")])
    await model.reconcile()
    assert model.counts() == {("oauth1", "pending"): 2, ("oauth1", "approved"): 1}
    await model.on_event(*event("approved", "a", 2, "approved"))
    await model.on_event(*event("removed", "c", 3, "approved"))
    assert model.counts() == {("oauth1", "pending"): 1, ("oauth1", "approved"): 1}
    await db[CLIENTS].update_one({"key": "b"}, {"$set": {"removed_at": now()}})
    await model.reconcile()  # b is gone from MongoDB, a is still there at version 1
    counts = model.counts()
    assert counts is not None and {k: n for k, n in counts.items() if n} == {
        ("oauth1", "approved"): 1}
    assert sum(counts.values()) == len(model) == 1


async def test_expiring_secrets_follow_loads_changes_and_removals(
        db: AsyncDatabase[Document]) -> None:
    """The gauges' expiry counts are kept as the model changes, and are what counting
    every held client tells (count_secret_expiries, the definition)."""
    moment = datetime(2026, 12, 10, tzinfo=UTC)
    soon, later, past = (moment + timedelta(days=3), moment + timedelta(days=30),
                         moment - timedelta(days=1))
    model = ClientReadModel(db, reconcile_every_s=60)
    assert model.expiring_secrets(moment, timedelta(days=14)) is None  # not loaded
    await db[CLIENTS].insert_many([
        stored("a", 1, client_secret_expires_at=soon),
        stored("b", 1, client_secret_expires_at=soon),
        stored("c", 1, client_secret_expires_at=past), stored("d", 1),
        stored("e", 1, client_secret_expires_at=moment)])

    def counted() -> tuple[int, int]:
        return count_secret_expiries([e for e in map(model.get, "abcde") if e is not None],
                                     moment, moment + timedelta(days=14))

    await model.reconcile()
    assert model.expiring_secrets(moment, timedelta(days=14)) == counted() == (2, 2)
    await db[CLIENTS].update_one({"key": "a"}, {"$set": {"client_secret_expires_at": later},
                                                "$inc": {"version": 1}})
    await model.refresh("a")  # a new version: its old expiry no longer counts
    await model.on_event(*event("removed", "c", 2, "pending"))
    assert model.expiring_secrets(moment, timedelta(days=14)) == counted() == (1, 1)
    assert model.expiring_secrets(moment, timedelta(days=40)) == (2, 1)


async def test_each_reconciliation_says_how_many_entries_it_made_since_the_heap_froze(
        db: AsyncDatabase[Document]) -> None:
    """What `api.verify.heap` decides from: entries made since its last freeze."""
    told: list[tuple[int, int]] = []

    def settled(held: int, made: int) -> bool:
        told.append((held, made))
        return made >= 2

    await db[CLIENTS].insert_many([stored("a", 1), stored("b", 1), stored("c", 1)])
    model = ClientReadModel(db, reconcile_every_s=60, settled=settled)
    await model.reconcile()
    await model.reconcile()  # nothing changed: nothing made
    await model.on_event(*event("approved", "a", 2, "approved"))
    await model.reconcile()  # one made since the freeze: not frozen, so still counted
    await db[CLIENTS].update_one({"key": "b"}, {"$set": {"version": 2, "status": "approved"}})
    await model.reconcile()
    await model.reconcile()
    assert told == [(3, 3), (3, 0), (3, 1), (3, 2), (3, 0)]


async def test_a_catch_up_reads_only_what_was_written_lately(
        db: AsyncDatabase[Document]) -> None:
    """Every minute a gateway reads the clients written since its last pass (removals
    too), on the `updated` index; what changed without `updated_at` (a re-sealed
    secret) waits for the hourly pass over every client."""
    await ensure_indexes(db)
    await db[CLIENTS].insert_many([stored("a", 1), stored("b", 1), stored("c", 1)])
    model = ClientReadModel(db, reconcile_every_s=60, full_reconcile_every_s=3600)
    await model.reconcile()
    written = now()
    await db[CLIENTS].update_one({"key": "a"}, {"$set": {"status": "approved",
                                                        "updated_at": written},
                                               "$inc": {"version": 1}})
    await db[CLIENTS].update_one({"key": "b"}, {"$set": {"removed_at": written,
                                                        "updated_at": written},
                                               "$inc": {"version": 1}})
    # No updated_at nor version: as `clientkeys keys rotate` re-seals a secret.
    before = model.get("c")
    assert before is not None
    resealed = KEYRING.seal("s", client_secret_aad("c", SecretSlot.CURRENT)).to_document()
    await db[CLIENTS].update_one({"key": "c"}, {"$set": {"secret": resealed}})
    await model.catch_up()
    approved = model.get("a")
    assert approved is not None and approved.status == "approved" and approved.version == 2
    assert model.get("b") is None
    assert model.get("c") == before
    await model.reconcile()
    after = model.get("c")
    assert after is not None and after.secrets != before.secrets


async def test_a_write_that_commits_after_a_pass_began_is_caught_next_time(
        db: AsyncDatabase[Document]) -> None:
    """`updated_at` is taken before the write commits: a change stamped before a pass
    began but written after it is read by the next catch-up (within CATCH_UP_OVERLAP)."""
    await ensure_indexes(db)
    await db[CLIENTS].insert_one(stored("a", 1))
    model = ClientReadModel(db, reconcile_every_s=60, full_reconcile_every_s=3600)
    await model.reconcile()
    stamped = now() - CATCH_UP_OVERLAP / 2  # before the pass below began
    await model.catch_up()
    await db[CLIENTS].update_one({"key": "a"}, {"$set": {"status": "approved",
                                                        "updated_at": stamped},
                                               "$inc": {"version": 1}})
    await model.catch_up()
    caught = model.get("a")
    assert caught is not None and caught.version == 2 and caught.status == "approved"


async def test_a_catch_up_reads_its_time_in_slices_the_updated_index_serves(
        mongodb_uri: str) -> None:
    """One query per CATCH_UP_SLICE (SecantusDB holds every other request while it
    answers one), each on the `updated` index, together covering the time since the
    last pass, less the overlap, without a gap."""
    sent = SentCommands()
    client = connect(mongodb_uri, app_name="clientkeys-test", listeners=[sent])
    try:
        db = database(client)
        await ensure_indexes(db)
        await db[CLIENTS].insert_many([stored(f"k{n}", 1) for n in range(5)])
        model = ClientReadModel(db, reconcile_every_s=60, full_reconcile_every_s=3600)
        began = now()
        await model.reconcile()
        sent.commands.clear()
        await model.catch_up()
        finds = [c for n, c in sent.commands if n == "find"]
        assert {(c["find"], tuple(c["filter"])) for c in finds} == {(CLIENTS, ("updated_at",))}
        ranges = [(c["filter"]["updated_at"]["$gte"], c["filter"]["updated_at"]["$lt"])
                  for c in finds]
        assert len(ranges) >= CATCH_UP_OVERLAP / CATCH_UP_SLICE
        assert ranges[0][0] <= began - CATCH_UP_OVERLAP
        assert all(end - start <= CATCH_UP_SLICE for start, end in ranges)
        assert all(ranges[n][1] == ranges[n + 1][0] for n in range(len(ranges) - 1))
        explained = await db[CLIENTS].find(finds[0]["filter"]).explain()
        plan = list(plan_stages(explained["queryPlanner"]["winningPlan"]))
        assert ("IXSCAN", "updated") in plan, plan
    finally:
        await client.close()


async def test_an_outcome_after_its_own_event_still_reads_the_new_secret(
        db: AsyncDatabase[Document]) -> None:
    """The event of a rotation may reach the gateway before the command's reply: its
    view is applied at once and the sealed secrets are read in the background. The
    answer to the rotation must not wait on that read's luck: a credential check
    right after it sees the new secret."""
    await db[CLIENTS].insert_one(stored("a", 1, "approved"))
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    before = model.get("a")
    assert before is not None
    rotated_at = now()
    new_secret = KEYRING.seal("s2", client_secret_aad("a", SecretSlot.CURRENT)).to_document()
    await db[CLIENTS].update_one({"key": "a"}, {"$set": {
        "secret": new_secret, "secret_rotated_at": rotated_at, "version": 2,
        "updated_at": rotated_at}})
    view = public_client({**stored("a", 2, "approved"), "secret_rotated_at": rotated_at,
                          "updated_at": rotated_at})
    published = ClientEvent(ClientEventType.SECRET_ROTATED, view, "alice", "command-a-2")
    await model.on_event(published.routing_key, encode_event(published, "ns"))
    await model.apply_outcome(view, removed=False)  # before the background read ran
    after = model.get("a")
    stored_now = await db[CLIENTS].find_one({"key": "a"})
    assert stored_now is not None
    assert after is not None and after.version == 2
    assert after.secrets == secrets_of(cast(ClientDocument, stored_now)) != before.secrets
    await model.stop()


@pytest.fixture
async def counted_db(mongodb_uri: str
                     ) -> AsyncIterator[tuple[AsyncDatabase[Document], SentCommands]]:
    sent = SentCommands()
    client = connect(mongodb_uri, app_name="clientkeys-test", listeners=[sent])
    db = database(client)
    await ensure_indexes(db)
    yield db, sent
    await client.close()


def _client_finds(sent: SentCommands) -> list[Document]:
    return [command["filter"] for name, command in sent.commands
            if name == "find" and command["find"] == CLIENTS]


async def test_clients_new_here_named_by_events_together_are_read_in_one_query(
        counted_db: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    """Another gateway's creates: their events name clients this model has never held,
    and each must be read for its `_id` and sealed secrets; those due together are read
    together, by key."""
    db, sent = counted_db
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    await db[CLIENTS].insert_many([stored(key, 1) for key in ("a", "b", "c")])
    sent.commands.clear()
    for key in ("a", "b", "c"):
        await model.on_event(*event("created", key, 1, "pending"))
    async def all_held() -> bool:
        return all(model.get(key) is not None for key in ("a", "b", "c"))

    await eventually(all_held)
    assert _client_finds(sent) == [{"key": {"$in": ["a", "b", "c"]}}]
    for key in ("a", "b", "c"):
        held, found = model.get(key), await db[CLIENTS].find_one({"key": key})
        assert held is not None and found is not None
        assert held.secrets == secrets_of(cast(ClientDocument, found))
    explained = await db[CLIENTS].find({"key": {"$in": ["a", "b"]}}).explain()
    plan = list(plan_stages(explained["queryPlanner"]["winningPlan"]))
    assert ("IXSCAN", BY_KEY) in plan, plan
    await model.stop()


async def _creation_awaited(db: AsyncDatabase[Document], sent: SentCommands
                            ) -> tuple[ClientReadModel, set[str], Document, dict[str, Any]]:
    """This gateway's own create of client "a" (command "command-a-1"), stored in
    MongoDB, its event come while the gateway awaits the reply: the read the event asked
    for waits. The model, what it awaits, the stored document and the view."""
    awaiting = {"command-a-1"}
    model = ClientReadModel(db, reconcile_every_s=60, awaited=awaiting.__contains__)
    await model.reconcile()
    await db[CLIENTS].insert_one(stored("a", 1))
    written = await db[CLIENTS].find_one({"key": "a"})
    assert written is not None
    view = public_client(cast(ClientDocument, written))
    published = ClientEvent(ClientEventType.CREATED, view, "alice", "command-a-1")
    sent.commands.clear()
    await model.on_event(published.routing_key, encode_event(published, "ns"))
    await asyncio.sleep(3 * REPLY_CHECK_S)
    assert _client_finds(sent) == [] and model.get("a") is None  # still awaited
    return model, awaiting, written, view


async def test_a_reply_carrying_the_stored_secrets_spares_the_read_its_event_asked_for(
        counted_db: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    """The worker's reply brings the new client's `_id` and sealed secrets as stored,
    so the read its event asked for is never made, and a credential check right after
    the answer finds the client and its secret."""
    db, sent = counted_db
    model, awaiting, written, view = await _creation_awaited(db, sent)
    reply = OutcomeReply.decode(OutcomeReply(
        Outcome("command-a-1", "create_client", OperationStatus.SUCCEEDED, "a", view),
        StoredSecrets.of(written)).encode())  # as it crosses the broker
    awaiting.clear()
    assert reply.outcome.client is not None
    await model.apply_outcome(reply.outcome.client, removed=False, stored=reply.stored)
    held = model.get("a")
    assert held is not None and held.version == 1
    assert held.secrets == secrets_of(cast(ClientDocument, written))
    await asyncio.sleep(3 * REPLY_CHECK_S)
    assert _client_finds(sent) == []
    await model.stop()


async def test_a_read_waiting_for_a_reply_that_never_came_is_made_once_none_awaits_it(
        counted_db: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    """The request gave up waiting (it answered 202) or the reply was lost: the read
    its event asked for is made then, so the model holds the new client."""
    db, sent = counted_db
    model, awaiting, written, _ = await _creation_awaited(db, sent)
    awaiting.clear()

    async def read_again() -> bool:
        held = model.get("a")
        return held is not None and held.secrets == secrets_of(cast(ClientDocument, written))

    await eventually(read_again)
    assert _client_finds(sent) == [{"key": {"$in": ["a"]}}]
    await model.stop()


async def test_its_own_rotation_is_read_at_once_though_its_reply_is_awaited(
        counted_db: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    """A client the model holds: until the new secrets are read it checks credentials
    against the ones it holds, the replaced ones among them, so the read does not wait
    for the reply."""
    db, sent = counted_db
    await db[CLIENTS].insert_one(stored("a", 1, "approved"))
    model = ClientReadModel(db, reconcile_every_s=60, awaited=lambda _: True)
    await model.reconcile()
    sent.commands.clear()
    written = await _rotate(db)
    await model.on_event(*event("secret_rotated", "a", 2, "approved"))

    async def read_again() -> bool:
        held = model.get("a")
        return held is not None and held.secrets == secrets_of(cast(ClientDocument, written))

    await eventually(read_again)
    await model.stop()


async def _rotate(db: AsyncDatabase[Document]) -> Document:
    """Client "a" given a new secret at the next version, in MongoDB."""
    new_secret = KEYRING.seal(uuid.uuid4().hex, client_secret_aad("a", SecretSlot.CURRENT))
    await db[CLIENTS].update_one({"key": "a"}, {"$set": {"secret": new_secret.to_document()},
                                                "$inc": {"version": 1}})
    written = await db[CLIENTS].find_one({"key": "a"})
    assert written is not None
    return written


class _HeldReads:
    """The clients collection, whose reads by key wait until `go` is set once started."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db, self.started, self.go = db, asyncio.Event(), asyncio.Event()

    def __getitem__(self, name: str) -> Any:
        return self if name == CLIENTS else self._db[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db[CLIENTS], name)

    def find(self, query: Document, *args: Any, **options: Any) -> Any:
        cursor = self._db[CLIENTS].find(query, *args, **options)
        if "key" not in query:
            return cursor
        gate = self

        class Held:
            async def to_list(self) -> list[Document]:
                found = await cursor.to_list()  # read now: before the change below
                gate.started.set()
                await gate.go.wait()
                return found
        return Held()


async def test_a_change_while_its_client_is_being_read_is_read_again(
        counted_db: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    """Another gateway's two rotations in a row: the second's event comes while the read
    the first asked for is under way with the document as it was before the second. The
    model must read again after it, or it would hold the second version's view with the
    first version's secrets until a reconciliation."""
    db, _ = counted_db
    await db[CLIENTS].insert_one(stored("a", 1, "approved"))
    held_reads = _HeldReads(db)
    model = ClientReadModel(cast(AsyncDatabase[Document], held_reads), reconcile_every_s=60)
    await model.reconcile()
    await _rotate(db)
    await model.on_event(*event("secret_rotated", "a", 2, "approved"))
    await held_reads.started.wait()  # version 2 read, not yet applied
    latest = await _rotate(db)
    await model.on_event(*event("secret_rotated", "a", 3, "approved"))
    held_reads.go.set()

    async def read_again() -> bool:
        held = model.get("a")
        return held is not None and held.secrets == secrets_of(cast(ClientDocument, latest))

    await eventually(read_again)
    await model.stop()


async def test_events_after_stop_start_no_read(
        counted_db: tuple[AsyncDatabase[Document], SentCommands]) -> None:
    """The gateway stops its model before it closes the bus: an event still delivered
    then reads nothing, and leaves no task behind."""
    db, sent = counted_db
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    await db[CLIENTS].insert_one(stored("a", 1))
    await model.stop()
    sent.commands.clear()
    await model.on_event(*event("created", "a", 1, "pending"))
    await asyncio.sleep(3 * REPLY_CHECK_S)
    assert _client_finds(sent) == [] and model.get("a") is None
