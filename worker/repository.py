"""What the worker needs from storage, and its MongoDB implementation.

Every change to a client is one single-document write that is guarded by the
version the handler read, records the command id, and appends the events it
causes to the client's `outbox` array. Change and events are therefore stored
together or not at all, with no multi-document transaction; the consumer
publishes the outbox and only then clears it. A removed client stays as a
tombstone (`removed_at`, no secret) that readers skip and a purge deletes a week
later (worker.tombstone_purge), so a late redelivery is still recognised.

A create is made idempotent through its operation: the key is claimed on the
operation document first (in the write that starts the operation), so a
redelivered create finds its key there and never makes a second client. No
unique index other than `key` is needed, which keeps the clients collection
shardable on `key`.

Every database round trip counts (tests/integration/test_round_trips.py pins
how many a command takes), and each is served by an index
(tests/integration/test_query_shapes.py): a client is read by `key` alone,
and a write's filter names the `key` index (`hint`). A change is a plain `update_one` (no
findAndModify, which some servers answer by scanning): its filter holds the
version and the outbox's length the handler read, and every write that
changes anything else of a client raises its version, while the outbox only
ever shrinks without one. So a matched write proves the document it changed
was the one read, and `changed_document` computes what it left without
reading it back; the outbox is published from that.

The commands a worker has in hand write together (group commit,
common.group_commit): their client reads go as one `find` by `key` `$in`,
their client changes as one unordered bulk of updates, their creates as one of
inserts, and likewise their operations' starts and outcomes and their audit
entries. Each write is the one it would be alone, with its own guard, so every
guarantee above holds per command; a lone command still writes at once. When
a bulk's totals do not say whether a guarded change matched (some of the batch
did, some did not), the client is read: the command id is in its
`applied_commands` exactly when this change was applied, as the write that
applied it recorded it there, and a guarded write never applies twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common import audit_store, operations_store
from common.audit import AuditEntry
from common.client_documents import LIVE, ClientDocument
from common.group_commit import GroupedInserts, GroupedReads, GroupedUpdates
from common.operations_store import Started
from common.outcomes import Outcome
from common.store import APPLIED_COMMANDS_KEPT, BY_KEY, CLIENTS, TOMBSTONES, Document, now
from worker.outbox_store import StoredOutboxes
from worker.token_store import MongoTokenStore, TokenStore


class AlreadyCreated(Exception):
    """A client was already created by this command id."""

    def __init__(self, document: ClientDocument) -> None:
        super().__init__(document.get("key"))
        self.document = document


class ClientStore(Protocol):
    """The worker's storage: clients, and beside them what a command also writes —
    its operation, its audit entry, and initial access tokens (`tokens`)."""

    @property
    def tokens(self) -> TokenStore:
        """The initial access tokens (worker.token_store)."""

    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        """The client, unless it does not exist or (unless asked for) was removed."""

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        """The key of the client this create makes: `candidate`, or the one claimed before."""

    async def insert_client(self, document: ClientDocument) -> None:
        """Raises AlreadyCreated when this command (`created_by`) already made it."""

    async def update_client(self, current: ClientDocument, changes: ClientDocument,
                            command_id: str, event: Document | None) -> ClientDocument | None:
        """Apply `changes` and queue `event` if the client is still as `current` (read).

        Returns the new document, or None when it changed since it was read.
        """

    async def pending_events(self, key: str) -> list[Document]:
        """The outbox of a client (removed or not), oldest first."""

    async def events_sent(self, key: str, event_ids: list[str]) -> None:
        """Drop sent events (the oldest in the outbox, in order) from the outbox."""

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        """Keys of clients whose outbox has waited since before `written_before`."""

    async def outbox_backlog(self) -> int:
        """How many events, in every outbox together, wait for the broker's confirm."""

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None, actor: str | None = None,
                              request_id: str | None = None) -> Started:
        """Mark the operation started; its outcome if it already has one.

        An operation the gateway withdrew (its publish was not confirmed) has a
        failed outcome, so the worker never applies it behind the caller's back.
        With `claim_key` (a create) it also claims the client's key as
        `claim_client_key` does, in the same write when it can. `actor` and
        `request_id` go into a record no gateway wrote (the usual path).
        """

    async def record_outcome(self, outcome: Outcome) -> None: ...

    async def record_audit(self, entry: AuditEntry) -> None:
        """Append the entry; another write of the same id (a redelivery) is ignored."""


def changed_document(current: ClientDocument, changes: ClientDocument, command_id: str,
                     event: Document | None, at: datetime) -> ClientDocument:
    """The document `update_client` leaves, computed from the one it read.

    Exactly what the update below does, field by field: set `changes`, raise the
    version, remember the command (the last APPLIED_COMMANDS_KEPT) and queue the event.
    """
    after: ClientDocument = {**current, **changes, "version": current["version"] + 1}
    after["applied_commands"] = [*current.get("applied_commands", []),
                                 command_id][-APPLIED_COMMANDS_KEPT:]
    if event is not None:
        after["outbox"] = [*current.get("outbox", []), event]
        after["outbox_since"] = at
    return after


def _as_read(current: ClientDocument) -> Document:
    """The filter that matches the client only while it is as `current` was read."""
    outbox = current.get("outbox")
    return {"key": current["key"], "version": current["version"], **LIVE,
            "outbox": {"$exists": False} if outbox is None else {"$size": len(outbox)}}


class MongoClientStore(StoredOutboxes):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        # The only writer of clients: every document in and out is a ClientDocument.
        self._clients = cast(AsyncCollection[ClientDocument], db[CLIENTS])
        # The lanes of group commit: one per collection and kind of write.
        self._client_reads = GroupedReads(self._clients, "key")
        self._client_updates = GroupedUpdates(self._clients)
        self._client_inserts = GroupedInserts(self._clients)
        self._operation_updates = operations_store.grouped_updates(db)
        self._audit_inserts = audit_store.grouped_inserts(db)
        # Its outboxes, found by key; their clears share the lane of client updates.
        super().__init__(self._clients, "key", BY_KEY, updates=self._client_updates)
        self.tokens: TokenStore = MongoTokenStore(db)

    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        # By `key` alone, whatever else is asked: one field, so that every server
        # serves it from its index (a filter of more fields, or a hint, can make some
        # plan it otherwise); whether it was removed is seen in the document.
        found = cast(ClientDocument | None, await self._client_reads.find_one(key))
        if found is None or include_removed or found.get("removed_at") is None:
            return found
        return None

    async def purge_tombstones(self, removed_before: datetime) -> int:
        """Delete the tombstones of clients removed before `removed_before`
        (worker.tombstone_purge): by the sparse index on `removed_at`."""
        deleted = await self._clients.delete_many({"removed_at": {"$lt": removed_before}},
                                                  hint=TOMBSTONES)
        return deleted.deleted_count

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        return await operations_store.claim_client_key(self._db, operation_id, candidate)

    async def insert_client(self, document: ClientDocument) -> None:
        try:
            await self._client_inserts.insert_one(document)
        except DuplicateKeyError:
            existing = await self.get_client(document["key"], include_removed=True)
            if existing is not None and existing.get("created_by") == document["created_by"]:
                raise AlreadyCreated(existing) from None
            # 192 random bits never collide in practice; if they did, this
            # command fails loudly rather than touch another client.
            raise

    async def update_client(self, current: ClientDocument, changes: ClientDocument,
                            command_id: str, event: Document | None) -> ClientDocument | None:
        at = now()
        to_set = dict(changes)
        to_push: dict[str, Any] = {"applied_commands": {"$each": [command_id],
                                                        "$slice": -APPLIED_COMMANDS_KEPT}}
        if event is not None:
            to_set["outbox_since"] = at
            to_push["outbox"] = event
        update = {"$set": to_set, "$inc": {"version": 1}, "$push": to_push}
        written = await self._client_updates.update_one(_as_read(current), update, hint=BY_KEY)
        matched = written.matched
        if matched is None:  # some of its batch matched: was it this one?
            after = await self.get_client(current["key"], include_removed=True)
            matched = after is not None and command_id in after.get("applied_commands", [])
        if not matched:
            return None
        return changed_document(current, changes, command_id, event, at)

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None, actor: str | None = None,
                              request_id: str | None = None) -> Started:
        return await operations_store.start(self._db, operation_id, kind, claim_key=claim_key,
                                            actor=actor, request_id=request_id,
                                            updates=self._operation_updates)

    async def record_outcome(self, outcome: Outcome) -> None:
        await operations_store.record_outcome(self._db, outcome,
                                              updates=self._operation_updates)

    async def record_audit(self, entry: AuditEntry) -> None:
        await audit_store.append_entry(self._db, entry, inserts=self._audit_inserts)
