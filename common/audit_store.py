"""The audit collection: how an entry (`common.audit.AuditEntry`) is stored and read.

Both sides append to it (the gateway what it settles itself, the worker what
a command became) and the gateway pages through it, newest first; all of them
go through this module, so the stored shape (`AuditDocument`) is written down
once. Entries are never changed or deleted here; only the TTL index of
`common.store.ensure_audit_expiry` removes old ones.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict
from datetime import datetime
from typing import TypedDict, cast

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.audit import AuditEntry
from common.group_commit import GroupedInserts
from common.store import AUDIT, Document


class AuditDocument(TypedDict):
    """One stored entry; its `_id` is the entry's id (a command's id, for a command)."""

    _id: str
    at: datetime
    actor: str | None
    action: str
    client_key: str | None
    outcome: str  # an AuditOutcome value
    request_id: str | None
    remote_addr: str | None
    fields: list[str]
    operation_id: str | None
    status: int | None
    reason: str | None


class AuditFilter(TypedDict, total=False):
    """What a page of the trail is narrowed to; every key is served by an index."""

    actor: str
    action: str
    client_key: str


def audit_document(entry: AuditEntry) -> AuditDocument:
    values = asdict(entry)
    values["_id"] = values.pop("id")
    values["outcome"] = entry.outcome.value
    return cast(AuditDocument, values)


def grouped_inserts(db: AsyncDatabase[Document]) -> GroupedInserts:
    """A worker's lane for `append_entry`: concurrent commands' entries go to the
    database together (common.group_commit)."""
    return GroupedInserts(db[AUDIT])


async def append_entry(db: AsyncDatabase[Document], entry: AuditEntry, *,
                       inserts: GroupedInserts | None = None) -> None:
    """Append the entry; another write of the same id (a redelivery) is ignored.

    With `inserts` (`grouped_inserts`), beside other commands' entries.
    """
    document = cast(Document, audit_document(entry))
    with suppress(DuplicateKeyError):
        if inserts is None:
            await db[AUDIT].insert_one(document)
        else:
            await inserts.insert_one(document)


async def newest_entries(db: AsyncDatabase[Document], where: AuditFilter, *,
                         since: datetime | None, until: datetime | None,
                         after: tuple[datetime, str] | None, limit: int
                         ) -> list[AuditDocument]:
    """Up to `limit` entries, newest first: at or after `since`, before `until`,
    and past `after` (the `at` and `_id` of the last entry of the previous page)."""
    query: Document = dict(where)
    if since is not None or until is not None:
        query["at"] = {**({"$gte": since} if since is not None else {}),
                       **({"$lt": until} if until is not None else {})}
    if after is not None:
        at, last_id = after
        query = {"$and": [query, {"$or": [{"at": {"$lt": at}},
                                          {"at": at, "_id": {"$lt": last_id}}]}]}
    found = await db[AUDIT].find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]) \
        .limit(limit).to_list()
    return cast(list[AuditDocument], found)
