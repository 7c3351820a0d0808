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

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.audit import AuditEntry
from common.outcomes import OperationStatus, Outcome
from common.store import APPLIED_COMMANDS_KEPT, AUDIT, CLIENTS, LIVE, OPERATIONS, Document, now


class AlreadyCreated(Exception):
    """A client was already created by this command id."""

    def __init__(self, document: Document) -> None:
        super().__init__(document.get("key"))
        self.document = document


@dataclass(frozen=True)
class Started:
    """What starting an operation found."""

    # Its outcome when it already has one: a redelivery, or withdrawn by the gateway.
    outcome: Outcome | None = None
    # The key of the client a create makes, claimed as its operation started.
    client_key: str | None = None


class ClientStore(Protocol):
    async def get_client(self, key: str, *, include_removed: bool = False) -> Document | None:
        """The client, unless it does not exist or (unless asked for) was removed."""

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        """The key of the client this create makes: `candidate`, or the one claimed before."""

    async def insert_client(self, document: Document) -> None:
        """Raises AlreadyCreated when this command (`created_by`) already made it."""

    async def update_client(self, key: str, version: int, changes: Document, command_id: str,
                            event: Document | None) -> Document | None:
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
        self._clients = db[CLIENTS]
        self._operations = db[OPERATIONS]
        self._audit = db[AUDIT]

    async def get_client(self, key: str, *, include_removed: bool = False) -> Document | None:
        return await self._clients.find_one({"key": key} if include_removed
                                            else {"key": key, **LIVE})

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        claimed = await self._operations.find_one_and_update(
            {"_id": operation_id, "client_key": None}, {"$set": {"client_key": candidate}},
            return_document=ReturnDocument.AFTER)
        if claimed is None:
            operation = await self._operations.find_one({"_id": operation_id})
            if operation is None:
                raise LookupError(f"operation {operation_id} does not exist")
            return str(operation["client_key"])
        return str(claimed["client_key"])

    async def insert_client(self, document: Document) -> None:
        try:
            await self._clients.insert_one(document)
        except DuplicateKeyError:
            existing = await self._clients.find_one({"key": document["key"]})
            if existing is not None and existing.get("created_by") == document["created_by"]:
                raise AlreadyCreated(existing) from None
            # 192 random bits never collide in practice; if they did, this
            # command fails loudly rather than touch another client.
            raise

    async def update_client(self, key: str, version: int, changes: Document, command_id: str,
                            event: Document | None) -> Document | None:
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
        rows = await (await self._clients.aggregate([
            {"$match": {"outbox_since": {"$exists": True}}},
            {"$group": {"_id": None, "events": {"$sum": {"$size": "$outbox"}}}},
        ])).to_list()
        return int(rows[0]["events"]) if rows else 0

    async def start_operation(self, operation_id: str, kind: str, *,
                              claim_key: str | None = None) -> Started:
        if claim_key is None:
            return Started(await self._start(operation_id, kind))
        at = now()
        try:
            # The usual create: pending, with no key yet. Any other operation is
            # not matched, so the upsert collides with its _id.
            await self._operations.update_one(
                {"_id": operation_id, "status": OperationStatus.PENDING.value,
                 "client_key": None},
                {"$set": {"started_at": at, "client_key": claim_key},
                 "$setOnInsert": {"kind": kind, "error": None, "created_at": at,
                                  "updated_at": at}},
                upsert=True)
        except DuplicateKeyError:  # claimed before (a redelivery), finished or withdrawn
            outcome = await self._start(operation_id, kind)
            if outcome is not None:
                return Started(outcome)
            return Started(client_key=await self.claim_client_key(operation_id, claim_key))
        return Started(client_key=claim_key)

    async def _start(self, operation_id: str, kind: str) -> Outcome | None:
        at = now()
        operation = await self._operations.find_one_and_update(
            {"_id": operation_id},
            {"$set": {"started_at": at},
             "$setOnInsert": {"kind": kind, "status": OperationStatus.PENDING.value,
                              "client_key": None, "error": None, "created_at": at,
                              "updated_at": at}},
            upsert=True, return_document=ReturnDocument.AFTER)
        if operation is None or operation["status"] == OperationStatus.PENDING.value:
            return None
        return Outcome.from_operation(operation)

    async def record_outcome(self, outcome: Outcome) -> None:
        data = outcome.to_dict()
        data.pop("operation_id")
        data.pop("kind")
        await self._operations.update_one(
            {"_id": outcome.operation_id},
            {"$set": {**data, "updated_at": now()},
             "$setOnInsert": {"kind": outcome.kind, "created_at": now()}},
            upsert=True,
        )

    async def record_audit(self, entry: AuditEntry) -> None:
        with suppress(DuplicateKeyError):
            await self._audit.insert_one(entry.to_document())
