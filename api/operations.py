"""The gateway's side of operations: the record of each command it accepted.

The pending operation is written before the command is published, so its
address answers from the first moment a caller can know it. If the broker does
not confirm the publish, the operation is withdrawn — unless a worker already
started it, which proves the broker had the command after all.

A withdrawn operation (failed, `undeliverable`) is one no worker ever applies.
An Idempotency-Key retry may also fence an operation its first request named but
never recorded: it is recorded withdrawn, so that request, if it is still alive,
cannot record and queue it any more (`record_pending` refuses it with 409).
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from api.problems import Problem
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
    try:
        await db[OPERATIONS].insert_one(operation)
    except DuplicateKeyError:
        # The id is new, so a duplicate is our own insert whose answer was lost on a
        # broken connection before the driver tried again, or a retry's fence.
        existing = await get_operation(db, command.id)
        if existing is not None and is_withdrawn(existing):
            raise Problem(409, "A retry with the same Idempotency-Key took this request "
                          "over; nothing was queued for this one.") from None
    return operation


async def fence(db: AsyncDatabase[Document], operation_id: str, kind: str, actor: str,
                request_id: str) -> bool:
    """Record a never-recorded operation withdrawn; False when it exists already."""
    at = now()
    error = OperationError(ErrorCode.UNDELIVERABLE,
                           "Never queued: a retry with the same Idempotency-Key replaced it.")
    with contextlib.suppress(DuplicateKeyError):
        await db[OPERATIONS].insert_one({
            "_id": operation_id, "kind": kind, "status": OperationStatus.FAILED.value,
            "client_key": None, "error": error.to_dict(), "actor": actor,
            "request_id": request_id, "created_at": at, "updated_at": at})
        return True
    return False


def is_withdrawn(operation: Document) -> bool:
    """Whether no worker applied it, nor ever will: withdrawn, fenced or undecodable."""
    error = operation.get("error") or {}
    return (operation["status"] == OperationStatus.FAILED.value
            and error.get("code") == ErrorCode.UNDELIVERABLE.value)


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
