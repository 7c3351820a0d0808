"""The gateway's view of operations: the record of each command it accepted.

The operation's address answers from the first moment a caller can know it:
from a 202, recorded before it is sent (or by the worker, once it started), and
from any other answer, written by the worker that applied it (`api.views.dispatch`).
If the broker does not confirm the publish, the operation is withdrawn — unless a
worker already started it, which proves the broker had the command after all. The collection
itself is owned by `common.operations_store`; this module adds what only the
gateway says about it: the 409 of a fenced request and the public view.

An Idempotency-Key retry may fence an operation its first request named but
never recorded: it is recorded withdrawn, so that request, if it is still alive,
cannot record and queue it any more (`record_pending` refuses it with 409).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from api.docs.response_schemas import OperationSchema
from api.problems import Problem
from common import operations_store
from common.commands import Command
from common.operations_store import OperationDocument
from common.store import Document

_OPERATION = OperationSchema()


async def record_pending(db: AsyncDatabase[Document], command: Command) -> OperationDocument:
    try:
        return await operations_store.record_pending(db, command)
    except operations_store.OperationFenced:
        raise Problem(409, "A retry with the same Idempotency-Key took this request "
                      "over; nothing was queued for this one.") from None


def operation_view(operation: OperationDocument) -> dict[str, Any]:
    """An operation as the API shows it, through the schema its document publishes."""
    view: dict[str, Any] = _OPERATION.dump({
        "id": operation["_id"], "kind": operation["kind"], "status": operation["status"],
        "client_key": operation.get("client_key"), "error": operation.get("error"),
        "created_at": operation["created_at"], "updated_at": operation["updated_at"]})
    return view
