"""The read model answers the client list and single reads as MongoDB does.

The database's queries (`api.views.queries.list_stored_clients`) are the oracle: over a
random table of filters, searches, sorts, limits and cursors, with creations, edits,
status changes and removals in between (each reaching the model as an event, as this
gateway's own outcome, or through a reconciliation), both must give the same items, the
same `next_cursor` and the same `total`, and each must read the other's cursors.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.verify import client_order, name_search
from api.verify.read_model import ClientReadModel
from api.views.queries import (
    ClientFilter,
    Page,
    list_clients,
    list_stored_clients,
    read_client,
)
from common.client_view import public_client
from common.events import ClientEvent, ClientEventType, encode_event
from common.keyring import Keyring, SecretSlot, client_secret_aad, new_key_entry
from common.store import CLIENTS, Document, connect, database, now

KEYRING = Keyring.parse(new_key_entry("k1"))
# Few names, in several cases and scripts, so that searches and the by-name order meet
# ties, case folding (ß, İ) and names that differ only in case.
NAMES = ["alpha", "Alpha", "ALPHA two", "beta", "Bêta", "Straße", "STRASSE", "gamma ray",
         "İstanbul", "istanbul", "delta", "a.b", "a+b", "Zeta", "zeta", "Ωmega", "ωmega"]
QUERIES = ["a", "ALPHA", "ss", "ß", "ê", "ista", "a.b", "+", "ω", "z", "nothing", "Ray", "i̇"]
SORTS = ["-created_at", "created_at", "name", "-name", "status", "-status"]
TYPES = ["oauth1", "oauth2", "oidc"]
STATUSES = ["pending", "approved", "disapproved"]
BASE = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
async def db(mongodb_uri: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client = connect(mongodb_uri, app_name="clientkeys-test")
    yield database(client)
    await client.close()


def new_client(rng: random.Random, number: int) -> Document:
    key = f"key-{number:04d}"
    name = rng.choice(NAMES)
    # Few distinct instants: many clients share their creation's millisecond.
    created = BASE + timedelta(milliseconds=rng.randrange(40))
    kind = rng.choice(TYPES)
    oauth1 = kind == "oauth1"
    document: Document = {
        "_id": ObjectId(), "key": key, "type": kind, "name": name, "name_sort": name.casefold(),
        "status": rng.choice(STATUSES),
        "redirect_uris": [] if oauth1 else [f"https://{number}.example.com/cb"],
        "grant_types": [] if oauth1 else ["authorization_code"],
        "response_types": [] if oauth1 else ["code"],
        "secret": KEYRING.seal("s", client_secret_aad(key, SecretSlot.CURRENT)).to_document(),
        "created_at": created, "updated_at": created, "status_changed_at": created,
        "version": 1, "removed_at": None}
    if rng.random() < 0.2:
        # A rotation: one previous secret still valid, one long expired (never shown).
        document["secret_rotated_at"] = created
        document["previous_secrets"] = [
            {"secret": KEYRING.seal("p", client_secret_aad(key, SecretSlot.PREVIOUS))
             .to_document(), "expires_at": now() + timedelta(days=30)},
            {"secret": KEYRING.seal("q", client_secret_aad(key, SecretSlot.PREVIOUS))
             .to_document(), "expires_at": BASE}]
    return document


class Table:
    """The stored clients, changed in MongoDB and told to the model in one of three ways."""

    def __init__(self, db: AsyncDatabase[Document], model: ClientReadModel,
                 rng: random.Random) -> None:
        self.db, self.model, self.rng = db, model, rng
        self.live: dict[str, Document] = {}
        self.made = 0

    async def create(self, count: int) -> None:
        for _ in range(count):
            document = new_client(self.rng, self.made)
            self.made += 1
            await self.db[CLIENTS].insert_one(document)
            self.live[document["key"]] = document
            await self.tell(document, ClientEventType.CREATED)

    async def change(self) -> None:
        key = self.rng.choice(sorted(self.live))
        document = self.live[key]
        at = now()
        what = self.rng.choice(["name", "status", "remove"])
        changes: Document = {"version": document["version"] + 1, "updated_at": at}
        kind = ClientEventType.UPDATED
        if what == "name":
            name = self.rng.choice(NAMES)
            changes |= {"name": name, "name_sort": name.casefold()}
        elif what == "status":
            status = self.rng.choice(STATUSES)
            changes |= {"status": status, "status_changed_at": at}
            kind = ClientEventType(status if status != "pending" else "updated")
        else:
            changes |= {"removed_at": at, "secret": None}
            kind = ClientEventType.REMOVED
        await self.db[CLIENTS].update_one({"key": key}, {"$set": changes})
        document.update(changes)
        if kind is ClientEventType.REMOVED:
            del self.live[key]
        await self.tell(document, kind)

    async def tell(self, document: Document, kind: ClientEventType) -> None:
        view = public_client(document)
        how = self.rng.choice(["event", "outcome", "reconcile"])
        if how == "event":
            event = ClientEvent(kind, view, "alice", f"command-{self.made}")
            await self.model.on_event(event.routing_key, encode_event(event, "ns"))
            await self.model.refresh(document["key"])  # what the event's background read does
        elif how == "outcome":
            await self.model.apply_outcome(view, removed=kind is ClientEventType.REMOVED)
        else:
            await self.model.reconcile()


def random_query(rng: random.Random) -> tuple[ClientFilter, str, int]:
    where = ClientFilter(
        type=rng.choice([None, None, *TYPES]), status=rng.choice([None, None, *STATUSES]),
        q=rng.choice([None, None, *QUERIES]))
    return where, rng.choice(SORTS), rng.choice([1, 2, 3, 7, 50])


async def both(db: AsyncDatabase[Document], model: ClientReadModel, where: ClientFilter,
               sort: str, limit: int, cursor: str | None) -> Page:
    from_memory = await list_clients(db, model, where, sort=sort, limit=limit, cursor=cursor)
    from_database = await list_stored_clients(db, where, sort=sort, limit=limit, cursor=cursor)
    assert from_memory == from_database, (where, sort, limit, cursor)
    return from_memory


# How searches find their page (api.verify.client_order): by sorting their few matches;
# by walking the order testing each name, as one matching many names does; or by a walk
# that gives up at once and sorts the matches after all.
@pytest.mark.parametrize(("seed", "search"), [(1, "sort"), (2, "sort"), (3, "walk"),
                                              (4, "walk"), (5, "walk, then sort")])
async def test_the_model_answers_as_the_database_does(
        db: AsyncDatabase[Document], seed: int, search: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if search != "sort":
        monkeypatch.setattr(client_order, "_FEW_MATCHES", 0)
        # And the names are tested one by one, as for a query that occurs often.
        monkeypatch.setattr(name_search, "_FEW", 0)
    if search == "walk, then sort":
        monkeypatch.setattr(client_order, "_WALK_BUDGET", 2)
    rng = random.Random(seed)
    model = ClientReadModel(db, reconcile_every_s=60)
    table = Table(db, model, rng)
    await table.create(30)
    await model.reconcile()
    assert model.loaded.is_set()
    earlier_cursors: list[tuple[ClientFilter, str, int, str]] = []
    compared = 0
    for _round in range(6):
        await table.create(rng.randrange(1, 10))
        for _ in range(rng.randrange(3, 12)):
            await table.change()
        # Cursors handed out before these changes still page on, in both.
        for where, sort, limit, handed_out in earlier_cursors:
            await both(db, model, where, sort, limit, handed_out)
        earlier_cursors.clear()
        for _ in range(12):
            where, sort, limit = random_query(rng)
            cursor: str | None = None
            for _page in range(4):
                page = await both(db, model, where, sort, limit, cursor)
                compared += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
                earlier_cursors.append((where, sort, limit, cursor))
        for key in rng.sample(sorted(table.live), 3):
            assert await read_client(db, model, key) == public_client(table.live[key])
    assert compared >= 72
    # What the gauges and /v1/stats's poller take from the model instead of a query.
    assert model.counts() == await _stored_counts(db)
    for status in STATUSES:
        oldest = await db[CLIENTS].find_one({"status": status, "removed_at": None},
                                            sort=[("created_at", 1)])
        assert model.oldest_created(status) == (oldest["created_at"] if oldest else None)


async def _stored_counts(db: AsyncDatabase[Document]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    async for document in db[CLIENTS].find({"removed_at": None}):
        kind = (document["type"], document["status"])
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def test_until_the_model_is_loaded_reads_go_to_the_database(
        db: AsyncDatabase[Document]) -> None:
    rng = random.Random(7)
    model = ClientReadModel(db, reconcile_every_s=60)
    documents = [new_client(rng, n) for n in range(5)]
    await db[CLIENTS].insert_many(documents)
    assert not model.loaded.is_set() and len(model) == 0
    page = await list_clients(db, model, ClientFilter(), sort="name", limit=3, cursor=None)
    assert page == await list_stored_clients(db, ClientFilter(), sort="name", limit=3,
                                             cursor=None)
    assert page.total == 5 and len(page.items) == 3
    key = str(documents[0]["key"])
    assert await read_client(db, model, key) == public_client(documents[0])


async def test_an_outcome_is_read_at_once_and_an_older_one_changes_nothing(
        db: AsyncDatabase[Document]) -> None:
    """What a gateway does with its own command's outcome before it answers."""
    model = ClientReadModel(db, reconcile_every_s=60)
    await model.reconcile()
    document = new_client(random.Random(3), 1)
    document["status"] = "pending"
    await db[CLIENTS].insert_one(document)
    await model.apply_outcome(public_client(document), removed=False)  # new: read by key
    created = model.get(document["key"])
    assert created is not None and created.secrets and created.status == "pending"
    approved = {**document, "status": "approved", "version": 2}
    await model.apply_outcome(public_client(approved), removed=False)
    entry = model.get(document["key"])
    assert entry is not None and entry.status == "approved" and entry.secrets == created.secrets
    await model.apply_outcome(public_client(document), removed=False)  # version 1, late
    assert model.get(document["key"]) is entry
    page = await list_clients(db, model, ClientFilter(status="approved"), sort="-created_at",
                              limit=5, cursor=None)
    assert [c["key"] for c in page.items] == [document["key"]] and page.total == 1
    await model.apply_outcome(public_client({**approved, "version": 3}), removed=True)
    assert model.get(document["key"]) is None and model.counts() == {}


def test_the_table_uses_every_sort_and_query() -> None:
    # The random table draws from these lists: every sort and every query appears.
    rng = random.Random(1)
    drawn = [random_query(rng) for _ in range(400)]
    assert {sort for _w, sort, _l in drawn} == set(SORTS)
    assert {w.q for w, _s, _l in drawn} == {None, *QUERIES}

