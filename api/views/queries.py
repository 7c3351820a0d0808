"""The reads, in one place: from this gateway's read model, else from MongoDB.

A client and the client list are answered from the read model
(`api.verify.read_model`) once it is loaded; until then (a gateway that is starting,
which `/readyz` reports as not ready) from MongoDB, with the very same answers: the
database's queries stay here as that fallback and as the oracle the comparison test
(`tests/integration/test_memory_reads.py`) holds the model to. Writes read the client
they change from MongoDB (`find_client`), where the worker checks its version.

Paging is by cursor (keyset), never by offset, so a page costs the same deep in
the list as at its start and rows do not shift when clients are added. The
cursor is opaque to callers: base64url JSON of the sort, the last sort value
and the last `_id` (the tie-breaker); either source reads the other's cursors.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from api.verify.client_answers import public_view
from api.verify.client_entries import ClientEntry, epoch_ms, object_id_number, object_id_of
from api.verify.client_order import Window
from api.verify.read_model import ClientReadModel
from common.client_documents import LIVE, WITHOUT_SECRETS, ClientDocument, live
from common.client_view import public_client
from common.store import CLIENTS, Document

# By status the order is the status's name (approved, disapproved, pending), then `_id`.
_SORT_FIELDS = {"created_at": "created_at", "name": "name_sort", "status": "status"}


class BadCursor(ValueError):
    """A cursor this service did not hand out, or one for another sort."""


@dataclass(frozen=True)
class ClientFilter:
    type: str | None = None
    status: str | None = None
    q: str | None = None

    def query(self) -> Document:
        query: Document = dict(LIVE)
        if self.type:
            query["type"] = self.type
        if self.status:
            query["status"] = self.status
        if self.q:
            query["name"] = {"$regex": re.escape(self.q), "$options": "i"}
        return query


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int


def encode_cursor(sort: str, document: Document) -> str:
    field = _SORT_FIELDS[sort.lstrip("-")]
    value = document[field]
    return pack_cursor({"s": sort,
                        "v": value.isoformat() if isinstance(value, datetime) else value,
                        "id": str(document["_id"])})


def pack_cursor(raw: dict[str, Any]) -> str:
    # Compact UTF-8, not \u escapes: a 200-character name keeps its cursor well
    # under the bound of `api.docs.request_schemas` (at most 6 bytes a character once casefolded).
    text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unpack_cursor(cursor: str) -> Any:
    """The cursor's JSON; raises the errors decode_cursor turns into BadCursor."""
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def decode_cursor(cursor: str, sort: str) -> tuple[Any, ObjectId]:
    try:
        raw = unpack_cursor(cursor)
        if raw["s"] != sort:
            raise BadCursor("This cursor belongs to another sort order; start again without it.")
        value = raw["v"]
        if sort.lstrip("-") == "created_at":
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str):
            raise BadCursor("The cursor is not valid.")
        return value, ObjectId(raw["id"])
    except BadCursor:
        raise
    except (binascii.Error, ValueError, KeyError, TypeError, InvalidId,
            UnicodeDecodeError):
        raise BadCursor("The cursor is not valid.") from None


def page_cursor(db: AsyncDatabase[Document], where: ClientFilter, *, sort: str, limit: int,
                cursor: str | None) -> AsyncCursor[Document]:
    """The query of one page, one client more than `limit` to tell whether more follow.

    The benchmark explains this very cursor to show which index serves it.
    """
    field = _SORT_FIELDS[sort.lstrip("-")]
    direction = DESCENDING if sort.startswith("-") else ASCENDING
    page_query = where.query()
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        op = "$lt" if direction == DESCENDING else "$gt"
        page_query["$or"] = [{field: {op: value}}, {field: value, "_id": {op: last_id}}]
    return db[CLIENTS].find(page_query, WITHOUT_SECRETS) \
        .sort([(field, direction), ("_id", direction)]).limit(limit + 1)


async def list_clients(db: AsyncDatabase[Document], model: ClientReadModel,
                       where: ClientFilter, *, sort: str, limit: int, cursor: str | None
                       ) -> Page:
    """A page of the list: from the read model once it is loaded, else from MongoDB."""
    if not model.loaded.is_set():
        return await list_stored_clients(db, where, sort=sort, limit=limit, cursor=cursor)
    after = None
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        after = (epoch_ms(value) if isinstance(value, datetime) else value,
                 object_id_number(last_id))
    entries, total = model.page(Window(where.type, where.status, where.q, sort, limit, after))
    more = len(entries) > limit
    entries = entries[:limit]
    now = datetime.now(UTC)
    return Page(
        items=[public_view(entry, now) for entry in entries],
        next_cursor=encode_cursor(sort, _cursor_fields(entries[-1])) if more else None,
        total=total,
    )


def _cursor_fields(entry: ClientEntry) -> Document:
    """What a cursor takes of a client, as its stored document has it."""
    return {**entry.document(), "name_sort": entry.name_sort, "_id": object_id_of(entry.oid)}


async def list_stored_clients(db: AsyncDatabase[Document], where: ClientFilter, *, sort: str,
                              limit: int, cursor: str | None) -> Page:
    """A page of the list as MongoDB answers it."""
    found = page_cursor(db, where, sort=sort, limit=limit, cursor=cursor)
    documents = await found.to_list()
    total = await db[CLIENTS].count_documents(where.query())
    more = len(documents) > limit
    documents = documents[:limit]
    return Page(
        items=[public_client(d) for d in documents],
        next_cursor=encode_cursor(sort, documents[-1]) if more else None,
        total=total,
    )


async def read_client(db: AsyncDatabase[Document], model: ClientReadModel, key: str
                      ) -> dict[str, Any] | None:
    """A client's public view: from the read model once it is loaded, else from MongoDB."""
    if not model.loaded.is_set():
        document = await find_client(db, key)
        return None if document is None else public_client(document)
    entry = model.get(key)
    return None if entry is None else public_view(entry, datetime.now(UTC))


async def find_client(db: AsyncDatabase[Document], key: str) -> ClientDocument | None:
    """A stored client without its secret, as a write reads the client it changes."""
    found = live(await db[CLIENTS].find_one({"key": key}, WITHOUT_SECRETS))
    return cast(ClientDocument | None, found)


async def client_ever_existed(db: AsyncDatabase[Document], key: str) -> bool:
    """Whether a client of this key exists or is still remembered as removed."""
    return await db[CLIENTS].find_one({"key": key}, {"_id": 1}) is not None
