"""Group commit: concurrent writes of one kind to one collection go as one command.

A database spends most of a small write on the command around it, not on the
document (on SecantusDB, which serves one request at a time, one `bulk_write`
of 16 updates takes about the time of 8 single ones; on a MongoDB server
each command is a round trip). A worker has many commands in hand (its
prefetch), each waiting for its own writes, so each collection has a lane per
kind of write (`Lane`): a write handed to an idle lane goes at once (no
latency is added), and those handed in while a batch is in flight gather and
go together as soon as it returns, at most MAX_BATCH at a time. Every caller
awaits its own result, as if it had written alone:

- `GroupedUpdates`: an unordered `bulk_write` of `UpdateOne`s. Its reply has
  only totals, so a caller learns whether its write matched when the totals
  tell (all or none matched; an upsert that neither inserted nor failed
  matched), and otherwise gets `matched=None` and finds out itself (the
  clients' guarded write does, from what it recorded in the document).
- `GroupedInserts`: an unordered `bulk_write` of `InsertOne`s.
- `GroupedReads`: one `find` of `{field: {$in: values}}` on an indexed field.

A write error of one statement (a duplicate key) reaches its own caller as
the exception a single write raises (`DuplicateKeyError`, `WriteError`); a
write concern error or a failure of the whole command (an outage) reaches
every caller of the batch as that exception, so `common.store.is_outage`
judges it as before. A batch that fails for any other reason is sent again
one write at a time, so that one bad write fails its own caller only.

Hand-written because neither PyMongo nor Motor groups writes of concurrent
callers; the lane itself is a few lines of asyncio.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    WriteConcernError,
    WriteError,
)

from common.store import Document, is_outage

# At most this many writes (or keys read) in one command: a bound on the size of
# one command and on how long its callers wait for the slowest of them.
MAX_BATCH = 64

T = TypeVar("T")
R = TypeVar("R")

class Lane(Generic[T, R]):
    """Items handed in while a batch is in flight gather, and go together next.

    `send` answers a list of items with one result or exception per item, in
    order; an exception it raises itself is the whole batch's.
    """

    def __init__(self, send: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]],
                 *, max_batch: int = MAX_BATCH) -> None:
        self._send = send
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        result: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, result))
        if self._sending is None:
            # A context of its own: no caller's contextvars (a deadline of
            # pymongo.timeout, a log correlation) may govern the others' writes.
            self._sending = asyncio.create_task(self._drain(), context=contextvars.Context())
        return await result

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self._max_batch]
                del self._waiting[:self._max_batch]
                await self._settle(batch)
        finally:
            self._sending = None
            # Only when cancelled (the loop is closing): no caller is left waiting.
            for _, result in self._waiting:
                result.cancel()
            self._waiting.clear()

    async def _settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._outcomes([item for item, _ in batch])
        except BaseException as exc:
            for _, result in batch:
                if result.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    result.cancel()  # the lane was cancelled (the loop is closing)
                else:
                    result.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, result), outcome in zip(batch, outcomes, strict=True):
            if result.done():  # its caller was cancelled; the write may stand
                continue
            if isinstance(outcome, BaseException):
                result.set_exception(outcome)
            else:
                result.set_result(outcome)

    async def _outcomes(self, items: list[T]) -> Sequence[R | BaseException]:
        try:
            return await self._send(items)
        except Exception as exc:
            if len(items) == 1 or is_outage(exc):
                raise
        # Not an outage: one of them may be at fault, so each goes alone.
        alone: list[R | BaseException] = []
        for item in items:
            try:
                [outcome] = await self._send([item])
            except Exception as exc:
                outcome = exc
            alone.append(outcome)
        return alone


@dataclass(frozen=True)
class Written:
    """What one update of a batch did."""

    # It inserted a document (an upsert that matched none).
    upserted: bool = False
    # It matched a document; None when the batch's totals cannot tell.
    matched: bool | None = None


def _statement_errors(details: dict[str, Any]) -> dict[int, BaseException]:
    """The exception each failed statement of a bulk write would have raised alone."""
    errors: dict[int, BaseException] = {}
    for error in details.get("writeErrors", []):
        kind = DuplicateKeyError if error.get("code") == 11000 else WriteError
        errors[int(error["index"])] = kind(error.get("errmsg", ""), error.get("code"), error)
    return errors


async def _bulk(collection: AsyncCollection[Any], requests: list[Any]) -> dict[str, Any]:
    """The reply of an unordered bulk write, failed statements included.

    A write concern error is every statement's (raised as a single write would).
    """
    details: dict[str, Any]
    try:
        details = (await collection.bulk_write(requests, ordered=False)).bulk_api_result
    except BulkWriteError as exc:
        details = dict(exc.details)
    concern = details.get("writeConcernErrors") or []
    if concern:
        raise WriteConcernError(concern[0].get("errmsg", ""), concern[0].get("code"),
                                concern[0])
    return details


class GroupedUpdates:
    """`update_one`s to one collection, grouped; each caller gets its `Written`."""

    def __init__(self, collection: AsyncCollection[Any], *, max_batch: int = MAX_BATCH
                 ) -> None:
        self._collection = collection
        self._lane: Lane[tuple[UpdateOne, bool], Written] = Lane(self._send,
                                                                 max_batch=max_batch)

    async def update_one(self, filter: Document, update: Document, *, hint: str,
                         upsert: bool = False) -> Written:
        """As `Collection.update_one` (the index named: every write of a batch is
        served by one), answering what the write did."""
        return await self._lane.submit(
            (UpdateOne(filter, update, upsert=upsert, hint=hint), upsert))

    async def _send(self, batch: list[tuple[UpdateOne, bool]]
                    ) -> list[Written | BaseException]:
        details = await _bulk(self._collection, [update for update, _ in batch])
        errors = _statement_errors(details)
        upserted = {int(u["index"]) for u in details.get("upserted", [])}
        # An upsert that neither inserted nor failed matched its document; the
        # rest of the matches belong to the plain updates.
        upserts_matched = [i for i, (_, upsert) in enumerate(batch)
                           if upsert and i not in upserted and i not in errors]
        plain = [i for i, (_, upsert) in enumerate(batch) if not upsert and i not in errors]
        plain_matched = int(details.get("nMatched", 0)) - len(upserts_matched)
        known: bool | None = (True if plain_matched == len(plain)
                              else False if plain_matched == 0 else None)
        answers: list[Written | BaseException] = []
        for i, (_, upsert) in enumerate(batch):
            if i in errors:
                answers.append(errors[i])
            elif i in upserted:
                answers.append(Written(upserted=True, matched=False))
            elif upsert:
                answers.append(Written(matched=True))
            else:
                answers.append(Written(matched=known))
        return answers


class GroupedInserts:
    """`insert_one`s to one collection, grouped; a duplicate fails its own caller."""

    def __init__(self, collection: AsyncCollection[Any], *, max_batch: int = MAX_BATCH
                 ) -> None:
        self._collection = collection
        self._lane: Lane[Document, None] = Lane(self._send, max_batch=max_batch)

    async def insert_one(self, document: Any) -> None:
        await self._lane.submit(document)

    async def _send(self, documents: list[Document]) -> list[BaseException | None]:
        errors = _statement_errors(
            await _bulk(self._collection, [InsertOne(d) for d in documents]))
        return [errors.get(i) for i in range(len(documents))]


class GroupedReads:
    """`find_one({field: value})`s on one indexed field, grouped into one `$in`."""

    def __init__(self, collection: AsyncCollection[Any], field: str, *,
                 max_batch: int = MAX_BATCH) -> None:
        self._collection = collection
        self._field = field
        self._lane: Lane[Any, Document | None] = Lane(self._send, max_batch=max_batch)

    async def find_one(self, value: Any) -> Any:
        return await self._lane.submit(value)

    async def _send(self, values: list[Any]) -> list[Document | BaseException | None]:
        unique = list(dict.fromkeys(values))
        found = await self._collection.find({self._field: {"$in": unique}}).to_list()
        by_value = {document[self._field]: document for document in found}
        answers: list[Document | BaseException | None] = []
        handed: set[Any] = set()
        for value in values:
            document = by_value.get(value)
            if document is not None and value in handed:
                document = copy.deepcopy(document)  # each caller owns the document it is given
            handed.add(value)
            answers.append(document)
        return answers


