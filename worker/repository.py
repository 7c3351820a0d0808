"""What the worker needs from storage, and its MongoDB implementation.

Every change to a client is one single-document write that is guarded by the
version the handler read, records the command id, and appends the events it
causes to the client's `outbox` array. Change and events are therefore stored
together or not at all, with no multi-document transaction; the consumer
publishes the outbox and only then clears it. A removed client stays as a
tombstone (`removed_at`, no secret) that readers skip and a TTL index deletes
later, so a late redelivery is still recognised.

A create is made idempotent through its operation: the key is claimed on the
operation document first (in the write that starts the operation), so a
redelivered create finds its key there and never makes a second client. No
unique index other than `key` is needed, which keeps the clients collection
shardable on `key`.

Every database round trip counts (tests/integration/test_round_trips.py pins
how many a command takes): a write returns the document it left, so the
outbox is published from it without being read again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common import operations_store
from common.audit import AuditEntry
from common.audit_store import append_entry
from common.client_documents import LIVE, ClientDocument
from common.operations_store import Started
from common.outcomes import Outcome
from common.store import APPLIED_COMMANDS_KEPT, CLIENTS, Document, now


class AlreadyCreated(Exception):
    """A client was already created by this command id."""

    def __init__(self, document: ClientDocument) -> None:
        super().__init__(document.get("key"))
        self.document = document


class ClientStore(Protocol):
    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        """The client, unless it does not exist or (unless asked for) was removed."""

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        """The key of the client this create makes: `candidate`, or the one claimed before."""

    async def insert_client(self, document: ClientDocument) -> None:
        """Raises AlreadyCreated when this command (`created_by`) already made it."""

    async def update_client(self, key: str, version: int, changes: ClientDocument,
                            command_id: str, event: Document | None) -> ClientDocument | None:
        """Apply `changes` and queue `event` if the client is still at `version`.

        Returns the new document, or None when the version no longer holds.
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
                              claim_key: str | None = None) -> Started:
        """Mark the operation started; its outcome if it already has one.

        An operation the gateway withdrew (its publish was not confirmed) has a
        failed outcome, so the worker never applies it behind the caller's back.
        With `claim_key` (a create) it also claims the client's key as
        `claim_client_key` does, in the same write when it can.
        """

    async def record_outcome(self, outcome: Outcome) -> None: ...

    async def record_audit(self, entry: AuditEntry) -> None:
        """Append the entry; another write of the same id (a redelivery) is ignored."""


class MongoClientStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        # The only writer of clients: every document in and out is a ClientDocument.
        self._clients = cast(AsyncCollection[ClientDocument], db[CLIENTS])

    async def get_client(self, key: str, *, include_removed: bool = False
                         ) -> ClientDocument | None:
        return await self._clients.find_one({"key": key} if include_removed
                                            else {"key": key, **LIVE})

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        return await operations_store.claim_client_key(self._db, operation_id, candidate)

    async def insert_client(self, document: ClientDocument) -> None:
        try:
            await self._clients.insert_one(document)
        except DuplicateKeyError:
            existing = await self._clients.find_one({"key": document["key"]})
            if existing is not None and existing.get("created_by") == document["created_by"]:
                raise AlreadyCreated(existing) from None
            # 192 random bits never collide in practice; if they did, this
            # command fails loudly rather than touch another client.
            raise

    async def update_client(self, key: str, version: int, changes: ClientDocument,
                            command_id: str, event: Document | None) -> ClientDocument | None:
        to_set = dict(changes)
        to_push: dict[str, Any] = {"applied_commands": {"$each": [command_id],
                                                        "$slice": -APPLIED_COMMANDS_KEPT}}
        if event is not None:
            to_set["outbox_since"] = now()
            to_push["outbox"] = event
        update = {"$set": to_set, "$inc": {"version": 1}, "$push": to_push}
        return await self._clients.find_one_and_update(
            {"key": key, "version": version, **LIVE}, update,
            return_document=ReturnDocument.AFTER)

    async def pending_events(self, key: str) -> list[Document]:
        document = await self._clients.find_one({"key": key}, {"outbox": 1})
        return list(document.get("outbox", [])) if document else []

    async def events_sent(self, key: str, event_ids: list[str]) -> None:
        # Usually the outbox holds exactly the events just sent: one write clears it.
        # (Positions, not `outbox.id: {$all}`, which SecantusDB does not match.)
        exactly = {f"outbox.{i}.id": event_id for i, event_id in enumerate(event_ids)}
        cleared = await self._clients.update_one(
            {"key": key, "outbox": {"$size": len(event_ids)}, **exactly},
            {"$set": {"outbox": []}, "$unset": {"outbox_since": ""}})
        if cleared.matched_count:
            return
        # Another worker queued more events meanwhile, or sent ours already.
        await self._clients.update_one({"key": key},
                                       {"$pull": {"outbox": {"id": {"$in": event_ids}}}})
        await self._clients.update_one({"key": key, "outbox": {"$size": 0}},
                                       {"$unset": {"outbox_since": ""}})

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        found = self._clients.find({"outbox_since": {"$lt": written_before}}, {"key": 1}) \
            .sort("outbox_since", ASCENDING).limit(limit)
        return [d["key"] for d in await found.to_list()]

    async def outbox_backlog(self) -> int:
        # Only clients with events waiting carry outbox_since (a sparse index).
        rows = await (await self._db[CLIENTS].aggregate([  # rows, not clients
            {"$match": {"outbox_since": {"$exists": True}}},
            {"$group": {"_id": None, "events": {"$sum": {"$size": "$outbox"}}}},
        ])).to_list()
        return int(rows[0]["events"]) if rows else 0

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None) -> Started:
        return await operations_store.start(self._db, operation_id, kind, claim_key=claim_key)

    async def record_outcome(self, outcome: Outcome) -> None:
        await operations_store.record_outcome(self._db, outcome)

    async def record_audit(self, entry: AuditEntry) -> None:
        await append_entry(self._db, entry)
