"""Each gateway's in-memory copy of what credential checks need, kept current by events.

Verification runs on every sign-in of the platform, so it must not wait for a
database. The model holds, per client, its status, type, grants, redirect URIs
and *sealed* secrets (they are opened only for the comparison). It is:

1. loaded from MongoDB at start (until then `/readyz` says not ready);
2. kept current by the events exchange, on a queue of this gateway's own: an
   event's public view is applied at once (a disapproval takes effect on
   arrival), and for events that may change a secret the client is read again
   from MongoDB in the background;
3. reconciled with MongoDB every `READ_MODEL_RECONCILE_S`, which repairs
   anything an event could not carry (events are not delivered to a queue while
   the broker connection is down).

Versions order everything: an older view never replaces a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from common.client_documents import CREDENTIAL_FIELDS, LIVE, ClientDocument
from common.events import ClientEventType, UndecodableEvent, decode_event
from common.keyring import SealedSecret, SecretSlot
from common.store import CLIENTS, Document

log = logging.getLogger(__name__)

# Events after which the stored secrets may differ from what the model holds.
_SECRET_EVENTS = frozenset({ClientEventType.CREATED, ClientEventType.UPDATED,
                            ClientEventType.SECRET_ROTATED})
# Clients read per batch, and turned into credentials between two turns of the event
# loop: a batch of 1000 held verify answers up for ~20 ms every minute (make bench).
_BATCH = 200


@dataclass(frozen=True, slots=True)
class Credential:
    key: str
    type: str
    status: str
    version: int
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    # The current secret first, then earlier ones with the end of their grace; each
    # with its slot, which (with the key) it was sealed for (common.keyring).
    secrets: tuple[tuple[SealedSecret, SecretSlot, datetime | None], ...]
    # When the current secret stops verifying (`client_secret_expires_at`); None: never.
    secret_expires_at: datetime | None = None

    def with_view(self, view: Mapping[str, Any]) -> Credential:
        """The public facts of an event's client view, secrets kept."""
        expires = view.get("client_secret_expires_at")
        return Credential(
            self.key, str(view["type"]), str(view["status"]), int(view["version"]),
            tuple(view.get("grant_types", ())), tuple(view.get("response_types", ())),
            tuple(view.get("redirect_uris", ())), self.secrets,
            datetime.fromisoformat(expires) if isinstance(expires, str) else None)


@functools.lru_cache(maxsize=1024)
def _shared(values: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple for every client with the same grants (or response types): the
    model holds a credential per client, so repeated values are held once."""
    return tuple(sys.intern(value) for value in values)


def credential_of(document: ClientDocument) -> Credential:
    secrets: list[tuple[SealedSecret, SecretSlot, datetime | None]] = []
    current = document.get("secret")
    if current:
        secrets.append((SealedSecret.from_document(current), SecretSlot.CURRENT, None))
    for previous in document.get("previous_secrets") or ():
        secrets.append((SealedSecret.from_document(previous["secret"]), SecretSlot.PREVIOUS,
                        previous.get("expires_at")))
    return Credential(
        str(document["key"]), sys.intern(str(document["type"])),
        sys.intern(str(document["status"])), int(document["version"]),
        _shared(tuple(document.get("grant_types", ()))),
        _shared(tuple(document.get("response_types", ()))),
        tuple(document.get("redirect_uris", ())), tuple(secrets),
        document.get("client_secret_expires_at"))


class ClientReadModel:
    def __init__(self, db: AsyncDatabase[Document], *, reconcile_every_s: float) -> None:
        self._db = db
        self._reconcile_every_s = reconcile_every_s
        self._clients: dict[str, Credential] = {}
        # Live clients by (type, status), kept as the model changes: the gauges read
        # it instead of an aggregation over the whole collection (api.views.stats).
        self._counts: Counter[tuple[str, str]] = Counter()
        # A counter of changes made from events, so a reconciliation can tell
        # which entries changed while it was reading.
        self._change = 0
        self._changed_at: dict[str, int] = {}
        self._removed: dict[str, int] = {}  # key -> version it was removed at
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, key: str) -> Credential | None:
        return self._clients.get(key)

    def expiring_secrets(self, now: datetime, within: timedelta) -> tuple[int, int] | None:
        """(secrets expiring within `within` of `now`, secrets expired); None until loaded."""
        if not self.loaded.is_set():
            return None
        horizon, soon, expired = now + within, 0, 0
        for credential in self._clients.values():
            at = credential.secret_expires_at
            if at is not None:
                soon += now < at <= horizon
                expired += at <= now
        return soon, expired

    def counts(self) -> dict[tuple[str, str], int] | None:
        """Live clients by (type, status); None until the model is loaded."""
        return dict(self._counts) if self.loaded.is_set() else None

    def _set(self, credential: Credential) -> None:
        old = self._clients.get(credential.key)
        if old is not None:
            self._counts[old.type, old.status] -= 1
        self._clients[credential.key] = credential
        self._counts[credential.type, credential.status] += 1

    def _drop(self, key: str) -> None:
        old = self._clients.pop(key, None)
        if old is not None:
            self._counts[old.type, old.status] -= 1

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Load in the background, then reconcile periodically."""
        self._loop_task = asyncio.create_task(self._run(), name="read-model")

    async def stop(self) -> None:
        for task in [self._loop_task, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._loop_task, *self._tasks]:
            if task is not None:
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
        while True:
            await asyncio.sleep(self._reconcile_every_s)
            try:
                await self.reconcile()
            except PyMongoError as exc:
                log.warning("read model reconciliation failed (%s); the model is kept",
                            type(exc).__name__)

    # -- from MongoDB ------------------------------------------------------------

    async def reconcile(self) -> None:
        """Read every client and correct the model; marks it loaded the first time."""
        started = self._change
        # Applied as read (versions decide, as for events), so an unchanged client's
        # new copy is dropped at once rather than a second model built and swapped in.
        seen: set[str] = set()
        cursor = self._db[CLIENTS].find(LIVE, CREDENTIAL_FIELDS, batch_size=_BATCH)
        async for document in cursor:
            credential = credential_of(cast(ClientDocument, document))
            seen.add(credential.key)
            self._put(credential, from_events=False)
            if len(seen) % _BATCH == 0:
                await asyncio.sleep(0)  # let requests in between
        for key in list(self._clients):
            if key not in seen and self._changed_at.get(key, -1) <= started:
                self._drop(key)
        self._removed = {k: v for k, v in self._removed.items()
                         if self._changed_at.get(k, -1) > started}
        self._changed_at = {k: n for k, n in self._changed_at.items() if n > started}
        if not self.loaded.is_set():
            log.info("read model loaded: %d clients", len(self._clients))
            self.loaded.set()

    async def refresh(self, key: str) -> None:
        document = await self._db[CLIENTS].find_one({"key": key, **LIVE}, CREDENTIAL_FIELDS)
        if document is not None:
            self._put(credential_of(cast(ClientDocument, document)), from_events=True)

    def _put(self, credential: Credential, *, from_events: bool) -> None:
        removed_at = self._removed.get(credential.key)
        if removed_at is not None and removed_at >= credential.version:
            return
        current = self._clients.get(credential.key)
        if current is not None and current.version > credential.version:
            return
        if current is not None and current.version == credential.version \
                and not from_events and current.secrets == credential.secrets:
            return
        self._set(credential)
        if from_events:
            self._change += 1
            self._changed_at[credential.key] = self._change

    # -- from events ---------------------------------------------------------------

    async def on_event(self, routing_key: str, body: bytes) -> None:
        try:
            event = decode_event(routing_key, body)
            view, key, version = event.client, event.client_key, int(event.client["version"])
        except (UndecodableEvent, KeyError, TypeError, ValueError):
            log.warning("ignoring an event that is not a client event (%s)", routing_key)
            return
        self._change += 1
        self._changed_at[key] = self._change
        if event.type is ClientEventType.REMOVED:
            self._drop(key)
            self._removed[key] = version
            return
        current = self._clients.get(key)
        if current is not None and current.version < version:
            self._set(current.with_view(view))
        if event.type in _SECRET_EVENTS or current is None:
            self._refresh_soon(key)

    def _refresh_soon(self, key: str) -> None:
        """Read the client again in the background; one read per key at a time."""
        if key in self._refreshing:
            return
        self._refreshing.add(key)

        async def refresh() -> None:
            try:
                await self.refresh(key)
            except PyMongoError as exc:
                log.warning("could not refresh client %s (%s); reconciliation will",
                            key, type(exc).__name__)
            finally:
                self._refreshing.discard(key)

        task = asyncio.create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
