"""The gateway's side of operations: the record of each command it accepted.

The pending operation is written before the command is published, so its
address answers from the first moment a caller can know it. If the broker does
not confirm the publish, the operation is withdrawn — unless a worker already
started it, which proves the broker had the command after all.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from api.response_schemas import OperationSchema
from common.commands import Command
from common.outcomes import ErrorCode, OperationError, OperationStatus
from common.store import OPERATIONS, Document, now

_OPERATION = OperationSchema()


async def record_pending(db: AsyncDatabase[Document], command: Command) -> Document:
    at = now()
    operation = {"_id": command.id, "kind": command.kind,
                 "status": OperationStatus.PENDING.value, "client_key": command.client_key,
                 "error": None, "actor": command.actor, "request_id": command.request_id,
                 "created_at": at, "updated_at": at}
    # The id is new, so a duplicate can only be our own insert whose answer was
    # lost on a broken connection before the driver tried again.
    with contextlib.suppress(DuplicateKeyError):
        await db[OPERATIONS].insert_one(operation)
    return operation


async def withdraw(db: AsyncDatabase[Document], operation_id: str) -> bool:
    """Mark an unconfirmed command failed; False when a worker has already started it."""
    error = OperationError(ErrorCode.UNDELIVERABLE, "The broker did not accept the command.")
    result = await db[OPERATIONS].update_one(
        {"_id": operation_id, "started_at": {"$exists": False}},
        {"$set": {"status": OperationStatus.FAILED.value, "error": error.to_dict(),
                  "updated_at": now()}})
    return result.modified_count == 1


async def get_operation(db: AsyncDatabase[Document], operation_id: str) -> Document | None:
    return await db[OPERATIONS].find_one({"_id": operation_id})


def operation_view(doc: Document) -> dict[str, Any]:
    """An operation as the API shows it, through the schema its document publishes."""
    view: dict[str, Any] = _OPERATION.dump({
        "id": doc["_id"], "kind": doc["kind"], "status": doc["status"],
        "client_key": doc.get("client_key"), "error": doc.get("error"),
        "created_at": doc["created_at"], "updated_at": doc["updated_at"]})
    return view
