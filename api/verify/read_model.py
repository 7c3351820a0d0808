"""Each gateway's in-memory copy of every client, kept current by events and outcomes.

Credential checks run on every sign-in of the platform and the client list on every
page of the admin page, so neither may wait for a database: both are answered from
here (`api.verify.secret`, `api.views.queries`). The model holds, per client, every
field an answer shows (`api.verify.client_entries`), its *sealed* secrets (opened only
for a comparison) and the list's orders (`api.verify.client_order`). It is:

1. loaded from MongoDB at start, in batches that let requests in between (until then
   `/readyz` says not ready and reads go to the database);
2. kept current by the events exchange, on a queue of this gateway's own: an
   event's public view is applied at once (a disapproval takes effect on
   arrival), and for events that may change a secret the client is read again
   from MongoDB in the background, with the others due (after the reply, if this
   gateway's own command made the change);
3. told of this gateway's own writes before it answers them (`apply_outcome`), so a
   caller reads what it wrote, whichever event comes first;
4. reconciled with MongoDB, which repairs anything an event could not carry (events
   are not delivered to a queue while the broker connection is down): every
   `READ_MODEL_RECONCILE_S` from the clients changed lately (`catch_up`, on the
   `updated` index: a client's every write sets `updated_at`, a removal too), and every
   `READ_MODEL_FULL_RECONCILE_S` from every client (`reconcile`), which also sees what
   changes no `updated_at` (secrets re-sealed under a new key by `clientkeys keys
   rotate`, which retires no key for 24 hours). Reading every client costs the database
   about as much as loading the gateway (15 s of its CPU at 100 000 clients, measured by
   `make bench`'s stack), so doing that every minute took about a seventh of a core
   from the database per gateway.

Versions order everything: an older view never replaces a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, cast

import pymongo
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from sortedcontainers import SortedList

from api.verify.client_entries import (
    STORED_FIELDS,
    ClientEntry,
    entry_of,
    entry_of_view,
    epoch_ms,
    from_epoch_ms,
    secrets_of,
)
from api.verify.client_order import ClientOrder, Window
from common.client_documents import LIVE, ClientDocument, live
from common.events import ClientEvent, ClientEventType, UndecodableEvent, decode_event
from common.outcome_replies import StoredSecrets
from common.store import CLIENTS, Document, now

log = logging.getLogger(__name__)

# Events after which the stored secrets may differ from what the model holds.
_SECRET_EVENTS = frozenset({ClientEventType.CREATED, ClientEventType.UPDATED,
                            ClientEventType.SECRET_ROTATED})
# Clients read per batch, and turned into entries between two turns of the event
# loop: a batch of 1000 held verify answers up for ~20 ms every minute (make bench).
_BATCH = 200
# How long reading every client may take in all. The client's timeoutMS (10 s) bounds
# each operation, and SecantusDB answers the first batch of a whole-collection read only
# once it has read the collection: at 100 000 clients on a busy machine, over 10 s, and
# each failed load started again from the beginning.
_READ_ALL_TIMEOUT_S = 300.0
# How far back before its last pass a catch-up reads again: `updated_at` is a worker's
# clock, taken before its write commits (within the driver's 10 s `timeoutMS`, which
# the server enforces), and the workers' and gateways' clocks differ (by far less on
# hosts that keep time). It was 5 minutes: under steady writes each pass then read six
# minutes of them again, one query that held SecantusDB (one request at a time) for
# 0.4 s after a few thousand creates (its profiler). A change that falls outside it
# still reaches the model by its event, or by the hourly pass over every client.
CATCH_UP_OVERLAP = timedelta(seconds=60)
# A catch-up reads its time in slices, one query each: SecantusDB answers a query only
# once it has read all of it, and serves nothing else meanwhile, so one query over two
# minutes of steady creates held every other request for 0.2-0.4 s (its profiler).
# Five seconds of writes is a short hold there, and a few dozen small queries a minute
# cost MongoDB nothing.
CATCH_UP_SLICE = timedelta(seconds=5)
# A removed client's fields, for a catch-up (and a read by key) to see the removal.
_CAUGHT_UP_FIELDS: Final[dict[str, int]] = {**STORED_FIELDS, "removed_at": 1}
# A client an event names that the model must read (new to it, or its secrets changed)
# is read in the background, with the others due then in one query by key. But the
# event of this gateway's own create comes before its reply (a worker publishes the
# events before its last writes and replies after them), and the reply carries the
# client's stored secrets (common.outcome_replies): while the gateway still awaits it,
# the read of a client new here waits, looking again every REPLY_CHECK_S, and the reply
# makes it needless. A client held already is read at once: until then its credentials
# are checked against the secrets held, which may be the replaced ones.
REPLY_CHECK_S = 0.05
_READ_BATCH = 100


class ClientReadModel:
    def __init__(self, db: AsyncDatabase[Document], *, reconcile_every_s: float,
                 full_reconcile_every_s: float | None = None,
                 settled: Callable[[int, int], bool] | None = None,
                 awaited: Callable[[str], bool] = lambda _: False) -> None:
        """`settled(held, made)` is told, after each load and reconciliation, how many
        entries the model holds and how many it made since `settled` last returned
        True (`api.verify.heap`). `awaited(command_id)`: whether this gateway still
        awaits the reply to that command (`api.views.waiter.OutcomeWaiter.awaits`)."""
        self._db = db
        self._settled = settled
        self._made = 0
        self._reconcile_every_s = reconcile_every_s
        # None: every pass reads every client.
        self._full_every_s = full_reconcile_every_s
        # When the last pass began (the gateway's clock): a catch-up reads from there.
        self._caught_up_to: datetime | None = None
        self._clients: dict[str, ClientEntry] = {}
        # The list's orders and the live clients by (type, status), kept as the model
        # changes: pages, totals and the gauges read them (api.views.stats).
        self._order = ClientOrder()
        # Every current secret's expiry (epoch ms), kept as the model changes: the gauges
        # ask how many expire soon every few seconds, and counting them over every client
        # held the requests of that moment up (a ~20 ms stall at 100 000 clients).
        self._expiries = SortedList()
        # A counter of changes made from events, so a reconciliation can tell
        # which entries changed while it was reading.
        self._change = 0
        self._changed_at: dict[str, int] = {}
        self._removed: dict[str, int] = {}  # key -> version it was removed at
        self._awaited = awaited
        # Clients to read again, with the version whose event asked it: those waiting
        # for this gateway's reply (and its command), those due, those being read.
        self._after_reply: dict[str, tuple[int, str]] = {}
        self._due: dict[str, int] = {}
        self._refreshing: set[str] = set()
        self._reading: asyncio.Task[None] | None = None
        self._waiting_replies: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._loop_task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, key: str) -> ClientEntry | None:
        return self._clients.get(key)

    def expiring_secrets(self, now: datetime, within: timedelta) -> tuple[int, int] | None:
        """(secrets expiring within `within` of `now`, secrets expired); None until loaded."""
        if not self.loaded.is_set():
            return None
        # Held expiries are whole milliseconds: bounds floored to milliseconds decide
        # as the dates would (api.verify.client_entries.count_secret_expiries).
        now_ms, horizon_ms = epoch_ms(now), epoch_ms(now + within)
        expired = self._expiries.bisect_right(now_ms)
        return self._expiries.bisect_right(horizon_ms) - expired, expired

    def counts(self) -> dict[tuple[str, str], int] | None:
        """Live clients by (type, status); None until the model is loaded."""
        return self._order.counts() if self.loaded.is_set() else None

    def oldest_created(self, status: str) -> datetime | None:
        """When the oldest live client of `status` was created; None if there is none."""
        oldest = self._order.oldest_created_ms(status)
        return None if oldest is None else from_epoch_ms(oldest)

    def page(self, window: Window) -> tuple[list[ClientEntry], int]:
        """A page of the list (`limit + 1` entries at most) and its exact total."""
        return self._order.page(window)

    def _set(self, entry: ClientEntry) -> None:
        old = self._clients.get(entry.key)
        if old is not None:
            self._unindex(old)
        self._clients[entry.key] = entry
        self._order.add(entry)
        expires = entry.secret_expires_ms
        if expires is not None:
            self._expiries.add(expires)
        self._made += 1

    def _drop(self, key: str) -> None:
        old = self._clients.pop(key, None)
        if old is not None:
            self._unindex(old)

    def _unindex(self, entry: ClientEntry) -> None:
        self._order.remove(entry)
        expires = entry.secret_expires_ms
        if expires is not None:
            self._expiries.remove(expires)

    def _changed(self, key: str) -> None:
        self._change += 1
        self._changed_at[key] = self._change

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Load in the background, then reconcile periodically."""
        self._loop_task = asyncio.create_task(self._run(), name="read-model")

    async def stop(self) -> None:
        """Stop every task; events that still come (the bus closes later) start none."""
        self._stopped = True
        tasks = [task for task in (self._loop_task, *self._tasks) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = 1.0
        while not self.loaded.is_set():
            try:
                await self.reconcile()
            except PyMongoError as exc:
                log.warning("read model not loaded yet (%s); retrying in %.0fs",
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while True:
            await asyncio.sleep(self._reconcile_every_s)
            full = self._full_every_s is None \
                or loop.time() - last_full >= self._full_every_s - self._reconcile_every_s / 2
            try:
                if full:
                    await self.reconcile()
                    last_full = loop.time()
                else:
                    await self.catch_up()
            except PyMongoError as exc:
                log.warning("read model reconciliation failed (%s); the model is kept",
                            type(exc).__name__)

    # -- from MongoDB ------------------------------------------------------------

    async def reconcile(self) -> None:
        """Read every client and correct the model; marks it loaded the first time."""
        started = self._change
        began = now()
        # Applied as read (versions decide, as for events), so an unchanged client's
        # new copy is dropped at once rather than a second model built and swapped in.
        seen: set[str] = set()
        with pymongo.timeout(_READ_ALL_TIMEOUT_S):
            cursor = self._db[CLIENTS].find(LIVE, STORED_FIELDS, batch_size=_BATCH)
            async for found in cursor:
                document = cast(ClientDocument, found)
                seen.add(document["key"])
                if not self._unchanged(document):
                    self._put(entry_of(document), from_events=False)
                if len(seen) % _BATCH == 0:
                    await asyncio.sleep(0)  # let requests in between
        for key in list(self._clients):
            if key not in seen and self._changed_at.get(key, -1) <= started:
                self._drop(key)
        self._removed = {k: v for k, v in self._removed.items()
                         if self._changed_at.get(k, -1) > started}
        self._changed_at = {k: n for k, n in self._changed_at.items() if n > started}
        if self._settled is not None and self._settled(len(self._clients), self._made):
            self._made = 0
        self._caught_up_to = began
        if not self.loaded.is_set():
            log.info("read model loaded: %d clients", len(self._clients))
            self.loaded.set()

    async def catch_up(self) -> None:
        """Correct the model from the clients written since the last pass began (less an
        overlap for clocks), removed ones included: queries on the `updated` index,
        whatever the number of clients, one per CATCH_UP_SLICE of that time."""
        if self._caught_up_to is None:
            await self.reconcile()
            return
        began = now()
        since = self._caught_up_to - CATCH_UP_OVERLAP
        read = 0
        with pymongo.timeout(_READ_ALL_TIMEOUT_S):
            while since < began:
                until = min(since + CATCH_UP_SLICE, began)
                cursor = self._db[CLIENTS].find(
                    {"updated_at": {"$gte": since, "$lt": until}}, _CAUGHT_UP_FIELDS,
                    batch_size=_BATCH)
                async for found in cursor:
                    document = cast(ClientDocument, found)
                    read += 1
                    if document.get("removed_at") is not None:
                        self._removed_at(document["key"], document["version"])
                    elif not self._unchanged(document):
                        self._put(entry_of(document), from_events=False)
                    if read % _BATCH == 0:
                        await asyncio.sleep(0)
                since = until
                await asyncio.sleep(0)  # let requests in between
        self._caught_up_to = began
        if self._settled is not None and self._settled(len(self._clients), self._made):
            self._made = 0

    def _unchanged(self, document: ClientDocument) -> bool:
        """Whether the model holds this very version, sealed secrets and all (a re-keyed
        secret keeps its version); tells it without building a new entry."""
        current = self._clients.get(document["key"])
        return current is not None and current.version == document["version"] \
            and current.secrets == secrets_of(document)

    async def refresh(self, key: str) -> None:
        document = live(await self._db[CLIENTS].find_one({"key": key}, _CAUGHT_UP_FIELDS))
        if document is not None:
            self._put(entry_of(cast(ClientDocument, document)), from_events=True)

    def _put(self, entry: ClientEntry, *, from_events: bool) -> None:
        removed_at = self._removed.get(entry.key)
        if removed_at is not None and removed_at >= entry.version:
            return
        current = self._clients.get(entry.key)
        if current is not None and current.version > entry.version:
            return
        if current is not None and current.version == entry.version \
                and not from_events and current.secrets == entry.secrets:
            return
        self._set(entry)
        if from_events:
            self._changed(entry.key)

    # -- from events and this gateway's outcomes ------------------------------------

    async def on_event(self, routing_key: str, body: bytes) -> None:
        try:
            event = decode_event(routing_key, body)
            if not isinstance(event, ClientEvent):  # bound to client events only
                raise UndecodableEvent(routing_key)
            view, key, version = event.client, event.client_key, int(event.client["version"])
        except (UndecodableEvent, KeyError, TypeError, ValueError):
            log.warning("ignoring an event that is not a client event (%s)", routing_key)
            return
        if event.type is ClientEventType.REMOVED:
            self._removed_at(key, version)
            return
        self._changed(key)
        current = self._clients.get(key)
        if current is not None and current.version >= version:
            return  # already as new (an outcome of this gateway's, or a duplicate)
        if current is not None:
            self._set(current.with_view(view))
        if current is None:
            # New here: until it is read a read of it says 404, and no credential of it
            # is checked. This gateway's own create brings it with its reply.
            self._refresh_soon(key, version, awaiting=event.command_id)
        elif event.type in _SECRET_EVENTS:
            # Read at once even when this gateway made the change: until then it checks
            # credentials against the secrets it holds, which may be the replaced ones.
            self._refresh_soon(key, version)

    async def apply_outcome(self, view: Mapping[str, Any], *, removed: bool,
                            stored: StoredSecrets | None = None) -> None:
        """A client view this gateway's own command produced, applied before it answers.

        A new client (its `_id` unknown here) or a view whose rotation facts differ
        (its sealed secrets changed) needs the `_id` and sealed secrets of its document:
        those the worker's reply carried (`stored`), else read from MongoDB first, by
        key. So the caller's next list, read or credential check on this gateway shows
        the change.
        """
        key, version = str(view["key"]), int(view["version"])
        if removed:
            self._removed_at(key, version)
            return
        self._changed(key)
        current = self._clients.get(key)
        # Its event may have come first: the view is applied then, and its sealed secrets
        # are to be read in the background; the caller must not check a credential
        # against the old ones, so they are taken from the reply or read here, before
        # the answer.
        if stored is not None:  # what a read would bring; `_put` keeps a newer entry
            self._put(entry_of_view(view, cast(ClientDocument, stored.document())),
                      from_events=True)
            self._read_for(key, version)
            return
        refreshing = key in self._refreshing or key in self._due or key in self._after_reply
        if current is not None and current.version >= version and not refreshing:
            return
        if current is None or refreshing or not current.same_secret_facts(view):
            try:
                await self.refresh(key)
                self._read_for(key, version)
            except PyMongoError as exc:
                log.warning("could not read client %s after its change (%s); its event or "
                            "reconciliation will", key, type(exc).__name__)
            current = self._clients.get(key)
        if current is not None and current.version < version:
            self._set(current.with_view(view))

    def _removed_at(self, key: str, version: int) -> None:
        self._changed(key)
        current = self._clients.get(key)
        if current is None or current.version <= version:
            self._drop(key)
        self._removed[key] = max(version, self._removed.get(key, version))

    def _read_for(self, key: str, version: int) -> None:
        """The client's secrets as of `version` are known: a read asked for no later
        version would bring nothing new."""
        if self._due.get(key, version) <= version:
            self._due.pop(key, None)
        if self._after_reply.get(key, (version, ""))[0] <= version:
            self._after_reply.pop(key, None)

    def _refresh_soon(self, key: str, version: int, *, awaiting: str | None = None) -> None:
        """Read the client again in the background, with the others due; after the
        reply, if this gateway awaits the reply to command `awaiting`. A client being
        read already is read once more after that read: it may have begun before the
        change this asks for was written."""
        if self._stopped:
            return
        if awaiting is not None and self._awaited(awaiting):
            wanted = max(version, self._after_reply.get(key, (version, ""))[0])
            self._after_reply[key] = (wanted, awaiting)
            if self._waiting_replies is None:
                self._waiting_replies = self._background(self._wait_for_replies())
            return
        self._due[key] = max(version, self._due.get(key, version))
        if self._reading is None:
            self._reading = self._background(self._read_due())

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _wait_for_replies(self) -> None:
        """Reads asked for while this gateway awaited its own command's reply become due
        once it awaits it no more (the reply came without the secrets, or never)."""
        try:
            while self._after_reply:
                await asyncio.sleep(REPLY_CHECK_S)
                for key, (version, command_id) in list(self._after_reply.items()):
                    if not self._awaited(command_id):
                        del self._after_reply[key]
                        self._refresh_soon(key, version)
        finally:
            self._waiting_replies = None

    async def _read_due(self) -> None:
        try:
            while self._due:
                keys = list(itertools.islice(self._due, _READ_BATCH))
                for key in keys:
                    del self._due[key]
                self._refreshing.update(keys)
                try:
                    await self._read_again(keys)
                except PyMongoError as exc:
                    log.warning("could not read %d changed clients again (%s); "
                                "reconciliation will", len(keys), type(exc).__name__)
                finally:
                    self._refreshing.difference_update(keys)
        finally:
            self._reading = None

    async def _read_again(self, keys: list[str]) -> None:
        found = self._db[CLIENTS].find({"key": {"$in": keys}}, _CAUGHT_UP_FIELDS)
        for document in await found.to_list():
            if live(document) is None:
                continue
            try:
                entry = entry_of(cast(ClientDocument, document))
            except (KeyError, TypeError, ValueError) as exc:  # not one batch for one client
                log.warning("client %s as stored cannot be held (%s); reconciliation will "
                            "try again", document.get("key"), type(exc).__name__)
                continue
            self._put(entry, from_events=True)
