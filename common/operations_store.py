"""The operations collection: the record of each command, and its only owner.

Three processes write it, each at its own moment of a command's life: the
gateway records a command pending before publishing it when an Idempotency-Key
retry may ask for it, or once its caller is answered 202 and will poll it (and
withdraws it when the broker did not confirm, or fences one a retry took over),
the worker starts it (recording it, when no gateway did: most commands finish
within the gateway's wait, so their record costs one write, the worker's), claims
a create's key on it and records its outcome, and the dead-letter
tool resets it for a replay or fails it when purged. All of them go through
this module, so the document's shape (`OperationDocument`) is written down once.

A withdrawn operation (failed, `undeliverable`) is one no worker ever applies:
the worker's start finds its outcome and stops there.

Every function is one database round trip unless it says otherwise
(tests/integration/test_round_trips.py pins how many a command takes), and
is served by an index (tests/integration/test_query_shapes.py): an operation
is read by its id alone, and a write's filter names the `_id` index (`hint`),
so old operations never slow new ones down. A
finished operation carries `finished_at`, on which a TTL index removes it
after `CLIENTKEYS_OPERATIONS_RETENTION_H` (`common.store.ensure_operations_expiry`);
a pending one never expires. No write reads the document back (no
findAndModify): a write's own filter says what it found, and the document is
read only on the rare path where the filter did not match.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.commands import Command
from common.group_commit import GroupedUpdates
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.store import BY_ID, OPERATIONS, Document, now


class OperationDocument(TypedDict):
    """One stored operation; its `_id` is the command's id."""

    _id: str
    kind: str
    status: str  # an OperationStatus value
    client_key: str | None
    error: dict[str, Any] | None  # OperationError.to_dict()
    created_at: datetime
    updated_at: datetime
    # Who sent it (from the command, by whoever recorded it first); absent only from an
    # operation recorded without its command (one set aside as undecodable).
    actor: NotRequired[str | None]
    request_id: NotRequired[str | None]
    # Set once a worker started it; a gateway withdraws only what none started.
    started_at: NotRequired[datetime]
    # Set once it is no longer pending: the TTL index on it removes it later.
    finished_at: NotRequired[datetime]
    # The rest of the outcome, once a worker recorded it.
    client: NotRequired[dict[str, Any] | None]
    warnings: NotRequired[list[str]]
    token: NotRequired[dict[str, Any] | None]  # of a command about an initial access token


class OperationFenced(Exception):
    """A retry with the same Idempotency-Key recorded this operation withdrawn first."""


@dataclass(frozen=True)
class Started:
    """What starting an operation found."""

    # Its outcome when it already has one: a redelivery, or withdrawn by the gateway.
    outcome: Outcome | None = None
    # The key of the client a create makes, claimed as its operation started.
    client_key: str | None = None
    # No gateway's record was there: this start wrote the operation (its record was
    # lost, or expired, which the worker tells apart by the command's age).
    recorded: bool = False


def _operations(db: AsyncDatabase[Document]) -> AsyncCollection[Document]:
    return db[OPERATIONS]


def grouped_updates(db: AsyncDatabase[Document]) -> GroupedUpdates:
    """A worker's lane for `start` and `record_outcome`: concurrent commands' writes of
    their operations go to the database together (common.group_commit)."""
    return GroupedUpdates(_operations(db))


def _new(operation_id: str, kind: str, status: OperationStatus, *, client_key: str | None,
         error: OperationError | None, actor: str | None, request_id: str | None
         ) -> OperationDocument:
    at = now()
    operation: OperationDocument = {
        "_id": operation_id, "kind": kind, "status": status.value, "client_key": client_key,
        "error": error.to_dict() if error else None, "actor": actor, "request_id": request_id,
        "created_at": at, "updated_at": at}
    if status is not OperationStatus.PENDING:
        operation["finished_at"] = at
    return operation


def pending_operation(command: Command) -> OperationDocument:
    """The record of a command not started yet, as a gateway writes it (if it must)."""
    return _new(command.id, command.kind, OperationStatus.PENDING,
                client_key=command.client_key, error=None, actor=command.actor,
                request_id=command.request_id)


async def record_pending(db: AsyncDatabase[Document], command: Command) -> OperationDocument:
    """Record a command pending before it is published.

    Raises OperationFenced when a retry's fence holds its id already.
    """
    operation = pending_operation(command)
    try:
        await _operations(db).insert_one(cast(Document, operation))
    except DuplicateKeyError:
        # The id is new, so a duplicate is our own insert whose answer was lost on a
        # broken connection before the driver tried again, or a retry's fence.
        existing = await get_operation(db, command.id)
        if existing is not None and is_withdrawn(existing):
            raise OperationFenced(command.id) from None
    return operation


async def fence(db: AsyncDatabase[Document], operation_id: str, kind: str, actor: str,
                request_id: str) -> bool:
    """Record a never-recorded operation withdrawn; False when it exists already."""
    error = OperationError(ErrorCode.UNDELIVERABLE,
                           "Never queued: a retry with the same Idempotency-Key replaced it.")
    with contextlib.suppress(DuplicateKeyError):
        await _operations(db).insert_one(cast(Document, _new(
            operation_id, kind, OperationStatus.FAILED, client_key=None, error=error,
            actor=actor, request_id=request_id)))
        return True
    return False


async def record_queued(db: AsyncDatabase[Document], operation: OperationDocument) -> None:
    """Record a queued command pending, unless a worker recorded it already.

    For a caller answered 202, who polls the operation: a worker may not have
    started it yet. A worker that did wrote the record first, and it stays.
    """
    with contextlib.suppress(DuplicateKeyError):
        await _operations(db).insert_one(cast(Document, operation))


def is_withdrawn(operation: OperationDocument) -> bool:
    """Whether no worker applied it, nor ever will: withdrawn, fenced or undecodable."""
    error = operation.get("error") or {}
    return (operation["status"] == OperationStatus.FAILED.value
            and error.get("code") == ErrorCode.UNDELIVERABLE.value)


def outcome_of(operation: OperationDocument) -> Outcome | None:
    """Its outcome, or None while it is pending."""
    if operation["status"] == OperationStatus.PENDING.value:
        return None
    return Outcome.from_dict({**operation, "operation_id": operation["_id"]})


async def withdraw(db: AsyncDatabase[Document], operation_id: str, *,
                   pending: OperationDocument | None = None) -> bool:
    """Mark an unconfirmed command failed; False when a worker has already started it.

    With `pending` (the record of a command a gateway did not write before publishing
    it), a missing operation is recorded withdrawn: a worker that gets the command
    later finds it so and never applies it. One that started it first holds the
    `_id` already, so the upsert collides with it, which says it started.
    """
    error = OperationError(ErrorCode.UNDELIVERABLE, "The broker did not accept the command.")
    at = now()
    failed: Document = {"status": OperationStatus.FAILED.value, "error": error.to_dict(),
                        "updated_at": at, "finished_at": at}
    guard: Document = {"_id": operation_id, "started_at": {"$exists": False}}
    if pending is None:
        result = await _operations(db).update_one(guard, {"$set": failed}, hint=BY_ID)
        return result.modified_count == 1
    rest = {k: v for k, v in pending.items() if k not in failed and k != "_id"}
    try:
        result = await _operations(db).update_one(
            guard, {"$set": failed, "$setOnInsert": rest}, upsert=True, hint=BY_ID)
    except DuplicateKeyError:
        return False
    return result.modified_count == 1 or result.upserted_id is not None


async def get_operation(db: AsyncDatabase[Document], operation_id: str
                        ) -> OperationDocument | None:
    return cast(OperationDocument | None,
                await _operations(db).find_one({"_id": operation_id}))


async def any_pending(db: AsyncDatabase[Document]) -> bool:
    """Whether some command is still waiting for a worker (or being applied).

    Served by the `pending` index (`common.store`): finished operations are not looked at.
    """
    found = await _operations(db).find_one({"status": OperationStatus.PENDING.value},
                                           {"_id": 1})
    return found is not None


async def claim_client_key(db: AsyncDatabase[Document], operation_id: str,
                           candidate: str) -> str:
    """The key of the client this create makes: `candidate`, or the one claimed before.

    Two round trips when another key was claimed first.
    """
    claimed = await _operations(db).update_one(
        {"_id": operation_id, "client_key": None}, {"$set": {"client_key": candidate}},
        hint=BY_ID)
    if claimed.matched_count:
        return candidate
    operation = await get_operation(db, operation_id)
    if operation is None:
        raise LookupError(f"operation {operation_id} does not exist")
    return str(operation["client_key"])


async def start(db: AsyncDatabase[Document], operation_id: str, kind: str, *,
                claim_key: str | None = None, actor: str | None = None,
                request_id: str | None = None, updates: GroupedUpdates | None = None
                ) -> Started:
    """Mark the operation started; its outcome if it already has one.

    An operation the gateway withdrew has a failed outcome, so the worker never
    applies it behind the caller's back. With `claim_key` (a create) it also
    claims the client's key as `claim_client_key` does, in the same write when
    it can. An operation no gateway recorded (its record was lost) is recorded
    here, pending, with the command's `actor` and `request_id`.

    One upsert that matches only a pending operation (and, for a create, one
    with no key claimed yet): matched, it is started and nothing needs reading.
    Any other operation is not matched, so the upsert collides with its `_id`,
    and only then is it read: a redelivery (its key claimed before), a finished
    or a withdrawn one. With `updates` (`grouped_updates`) the write goes with
    other commands' writes of their operations.
    """
    at = now()
    pending: Document = {"_id": operation_id, "status": OperationStatus.PENDING.value}
    started: Document = {"started_at": at}
    if claim_key is not None:
        pending["client_key"] = None
        started["client_key"] = claim_key
    try:
        written = await (updates or grouped_updates(db)).update_one(
            pending,
            {"$set": started,
             "$setOnInsert": {"kind": kind, "error": None, "created_at": at, "updated_at": at,
                              "actor": actor, "request_id": request_id,
                              **({} if claim_key is not None else {"client_key": None})}},
            upsert=True, hint=BY_ID)
    except DuplicateKeyError:
        return await _started_before(db, operation_id, claim_key)
    return Started(client_key=claim_key, recorded=written.upserted)


async def _started_before(db: AsyncDatabase[Document], operation_id: str,
                          claim_key: str | None) -> Started:
    """What `start` found when its upsert did not match: a read, and maybe one write."""
    operation = await get_operation(db, operation_id)
    if operation is None:  # removed meanwhile (expired): nothing to go by but the command
        raise LookupError(f"operation {operation_id} vanished while it was started")
    outcome = outcome_of(operation)
    if outcome is not None:
        return Started(outcome)
    # Pending with a key claimed before (a redelivered create): started again.
    await _operations(db).update_one({"_id": operation_id}, {"$set": {"started_at": now()}},
                                     hint=BY_ID)
    return Started(client_key=operation["client_key"] if claim_key is not None else None)


async def record_outcome(db: AsyncDatabase[Document], outcome: Outcome, *,
                         updates: GroupedUpdates | None = None) -> None:
    """Finish (or fail) the operation with `outcome`, recording it if it was never seen;
    with `updates` (`grouped_updates`), beside other commands' outcomes."""
    data = outcome.to_dict()
    data.pop("operation_id")
    data.pop("kind")
    at = now()
    await (updates or grouped_updates(db)).update_one(
        {"_id": outcome.operation_id},
        {"$set": {**data, "updated_at": at, "finished_at": at},
         "$setOnInsert": {"kind": outcome.kind, "created_at": at}},
        upsert=True, hint=BY_ID,
    )


async def reset_for_replay(db: AsyncDatabase[Document], operation_id: str) -> None:
    """A failed operation pending again, as its dead-lettered command is replayed."""
    await _operations(db).update_one(
        {"_id": operation_id, "status": OperationStatus.FAILED.value},
        {"$set": {"status": OperationStatus.PENDING.value, "error": None,
                  "updated_at": now()},
         "$unset": {"finished_at": ""}}, hint=BY_ID)


async def fail_purged(db: AsyncDatabase[Document], operation_id: str) -> None:
    """A pending operation failed, as an operator purged its dead-lettered command."""
    error = OperationError(ErrorCode.INTERNAL,
                           "Removed from the dead-letter queue by an operator; not applied.")
    at = now()
    await _operations(db).update_one(
        {"_id": operation_id, "status": OperationStatus.PENDING.value},
        {"$set": {"status": OperationStatus.FAILED.value, "error": error.to_dict(),
                  "updated_at": at, "finished_at": at}}, hint=BY_ID)
