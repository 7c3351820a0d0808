"""MongoDB: the connection, the collections and their indexes.

The worker writes clients and operation outcomes; the gateway reads them and
records pending operations. Collection names and indexes live here, once.
Everything here is plain MongoDB (no transactions), so a standalone server, a
replica set and a sharded cluster (shard key: `key`) all work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError

CLIENTS = "clients"
OPERATIONS = "operations"
# How long a finished operation stays readable at /v1/operations/{id}.
OPERATION_TTL_S = 30 * 24 * 3600
# How many applied command ids a client remembers, so a redelivered command
# is recognised and not applied twice.
APPLIED_COMMANDS_KEPT = 50

Document = dict[str, Any]
# Matches clients that exist: a removed client is a tombstone until its
# `removed` event has been published (see worker.repository).
LIVE: Document = {"removed_at": None}

CLIENT_INDEXES = [
    IndexModel([("key", ASCENDING)], unique=True, name="key_unique"),
    IndexModel([("created_by", ASCENDING)], unique=True, name="created_by_unique"),
    # The list queries: newest first, or by name, each optionally by type and status.
    IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created"),
    IndexModel([("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
               name="status_created"),
    IndexModel([("type", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
               name="type_created"),
    IndexModel([("type", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING),
                ("_id", DESCENDING)], name="type_status_created"),
    IndexModel([("name_sort", ASCENDING), ("_id", ASCENDING)], name="name"),
    IndexModel([("type", ASCENDING), ("name_sort", ASCENDING), ("_id", ASCENDING)],
               name="type_name"),
]
OPERATION_INDEXES = [
    IndexModel([("created_at", ASCENDING)], expireAfterSeconds=OPERATION_TTL_S,
               name="expire"),
]


def connect(uri: str, *, app_name: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(uri, tz_aware=True, appname=app_name,
                            serverSelectionTimeoutMS=5000, uuidRepresentation="standard")


def database(client: AsyncMongoClient[Document]) -> AsyncDatabase[Document]:
    try:
        return client.get_default_database()
    except ConfigurationError:
        return client["clientkeys"]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db[CLIENTS].create_indexes(CLIENT_INDEXES)
    await db[OPERATIONS].create_indexes(OPERATION_INDEXES)


def now() -> datetime:
    """The current time at MongoDB's precision (milliseconds), so what is
    stored, returned and put in events is the same instant."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)
