"""What the worker needs from storage, and its MongoDB implementation.

Every change to a client is one single-document write that is guarded by the
version the handler read, records the command id, and appends the events it
causes to the client's `outbox` array. Change and events are therefore stored
together or not at all, with no multi-document transaction; the consumer
publishes the outbox and only then clears it. A removed client stays as a
tombstone (`removed_at`) until its `removed` event has left, then is deleted.
"""

from __future__ import annotations

from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.outcomes import OperationStatus, Outcome
from common.store import APPLIED_COMMANDS_KEPT, CLIENTS, LIVE, OPERATIONS, Document, now


class DuplicateClientKey(Exception):
    """The generated key is taken (vanishingly unlikely; the caller draws again)."""


class AlreadyCreated(Exception):
    """A client was already created by this command id."""

    def __init__(self, document: Document) -> None:
        super().__init__(document.get("key"))
        self.document = document


class ClientStore(Protocol):
    async def get_client(self, key: str, *, include_removed: bool = False) -> Document | None:
        """The client, unless it does not exist or (unless asked for) was removed."""

    async def insert_client(self, document: Document) -> None:
        """Raises DuplicateClientKey or AlreadyCreated."""

    async def update_client(self, key: str, version: int, changes: Document, command_id: str,
                            event: Document | None) -> Document | None:
        """Apply `changes` and queue `event` if the client is still at `version`.

        Returns the new document, or None when the version no longer holds.
        """

    async def pending_events(self, key: str) -> list[Document]:
        """The outbox of a client (removed or not), oldest first."""

    async def events_sent(self, key: str, event_ids: list[str]) -> None:
        """Drop sent events from the outbox; delete a tombstone whose outbox is empty."""

    async def get_outcome(self, operation_id: str) -> Outcome | None:
        """The stored outcome of a finished operation, or None while pending or unknown."""

    async def record_outcome(self, outcome: Outcome) -> None: ...


class MongoClientStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._clients = db[CLIENTS]
        self._operations = db[OPERATIONS]

    async def get_client(self, key: str, *, include_removed: bool = False) -> Document | None:
        return await self._clients.find_one({"key": key} if include_removed
                                            else {"key": key, **LIVE})

    async def insert_client(self, document: Document) -> None:
        try:
            await self._clients.insert_one(document)
        except DuplicateKeyError as exc:
            existing = await self._clients.find_one({"created_by": document["created_by"]})
            if existing is not None:
                raise AlreadyCreated(existing) from None
            raise DuplicateClientKey(str(exc.details)) from None

    async def update_client(self, key: str, version: int, changes: Document, command_id: str,
                            event: Document | None) -> Document | None:
        update: dict[str, Any] = {
            "$set": changes,
            "$inc": {"version": 1},
            "$push": {"applied_commands": {"$each": [command_id],
                                           "$slice": -APPLIED_COMMANDS_KEPT}},
        }
        if event is not None:
            update["$push"]["outbox"] = event
        return await self._clients.find_one_and_update(
            {"key": key, "version": version, **LIVE}, update,
            return_document=ReturnDocument.AFTER)

    async def pending_events(self, key: str) -> list[Document]:
        document = await self._clients.find_one({"key": key}, {"outbox": 1})
        return list(document.get("outbox", [])) if document else []

    async def events_sent(self, key: str, event_ids: list[str]) -> None:
        await self._clients.update_one({"key": key},
                                       {"$pull": {"outbox": {"id": {"$in": event_ids}}}})
        await self._clients.delete_one({"key": key, "removed_at": {"$ne": None},
                                        "outbox": {"$size": 0}})

    async def get_outcome(self, operation_id: str) -> Outcome | None:
        doc = await self._operations.find_one(
            {"_id": operation_id, "status": {"$ne": OperationStatus.PENDING.value}})
        return None if doc is None else Outcome.from_operation(doc)

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
