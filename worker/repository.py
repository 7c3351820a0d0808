"""What the worker needs from storage, and its MongoDB implementation.

Every change to a client is one single-document write guarded by the version
the handler read, and records the command id, so two workers never overwrite
each other and a redelivered command is recognised.
"""

from __future__ import annotations

from typing import Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.outcomes import OperationStatus, Outcome
from common.store import APPLIED_COMMANDS_KEPT, CLIENTS, OPERATIONS, Document, now


class DuplicateClientKey(Exception):
    """The generated key is taken (vanishingly unlikely; the caller draws again)."""


class AlreadyCreated(Exception):
    """A client was already created by this command id."""

    def __init__(self, document: Document) -> None:
        super().__init__(document.get("key"))
        self.document = document


class ClientStore(Protocol):
    async def get_client(self, key: str) -> Document | None: ...

    async def insert_client(self, document: Document) -> None:
        """Raises DuplicateClientKey or AlreadyCreated."""

    async def update_client(self, key: str, version: int, changes: Document,
                            command_id: str) -> Document | None:
        """Apply `changes` if the client is still at `version`; the new document or None."""

    async def delete_client(self, key: str) -> Document | None: ...

    async def get_outcome(self, operation_id: str) -> Outcome | None:
        """The stored outcome of a finished operation, or None while pending or unknown."""

    async def record_outcome(self, outcome: Outcome) -> None: ...


class MongoClientStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._clients = db[CLIENTS]
        self._operations = db[OPERATIONS]

    async def get_client(self, key: str) -> Document | None:
        return await self._clients.find_one({"key": key})

    async def insert_client(self, document: Document) -> None:
        try:
            await self._clients.insert_one(document)
        except DuplicateKeyError as exc:
            existing = await self._clients.find_one({"created_by": document["created_by"]})
            if existing is not None:
                raise AlreadyCreated(existing) from None
            raise DuplicateClientKey(str(exc.details)) from None

    async def update_client(self, key: str, version: int, changes: Document,
                            command_id: str) -> Document | None:
        return await self._clients.find_one_and_update(
            {"key": key, "version": version},
            {
                "$set": changes,
                "$inc": {"version": 1},
                "$push": {"applied_commands": {"$each": [command_id],
                                               "$slice": -APPLIED_COMMANDS_KEPT}},
            },
            return_document=ReturnDocument.AFTER,
        )

    async def delete_client(self, key: str) -> Document | None:
        return await self._clients.find_one_and_delete({"key": key})

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
