"""MongoDB: the connection, the collections and their indexes.

Collection names and indexes live here, once; each collection's documents
belong to one module that alone reads and writes them (tests/unit/
test_collection_owners.py): clients `worker.repository` (writes; their shape is
`common.client_documents`), operations `common.operations_store`, the audit
trail `common.audit_store`, Idempotency-Key records `api.views.idempotency_records`,
client assertions' jtis `api.verify.assertion_replay`.
Everything here is plain MongoDB (no transactions), so a standalone server, a
replica set and a sharded cluster (shard key: `key`) all work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)
from pymongo.monitoring import CommandListener

from common.client_origin import OriginKind
from common.clients import Status

CLIENTS = "clients"
OPERATIONS = "operations"
IDEMPOTENCY_KEYS = "idempotency_keys"
# Initial access tokens of self-registration (their owner: common.registration_tokens).
REGISTRATION_TOKENS = "registration_tokens"
# Append-only; each entry is kept for CLIENTKEYS_AUDIT_RETENTION_DAYS (a TTL
# index on `at`, kept in step with the setting by the gateway), or forever with 0.
AUDIT = "audit"
AUDIT_EXPIRY = "audit_expiry"
# When each client secret last verified, written by the gateways (api.verify.secret_usage).
SECRET_USAGE = "secret_usage"
# A client's notes go once none of its secrets verified for this long (a TTL index on
# `updated_at`, the field the gateways read each other's notes by).
SECRET_USAGE_KEPT_DAYS = 400
SECRET_USAGE_EXPIRY = "usage_expiry"
# The jti of each accepted client assertion, until the assertion expires (one insert per
# assertion, a duplicate is a replay; api.verify.assertion_replay): the TTL index on
# `expires_at` removes each record once no gateway would accept its assertion.
ASSERTION_JTIS = "assertion_jtis"
# How long an Idempotency-Key is remembered (the IETF draft suggests 24 hours).
IDEMPOTENCY_TTL_S = 24 * 3600
# A finished operation stays readable at /v1/operations/{id} for
# CLIENTKEYS_OPERATIONS_RETENTION_H (a TTL index on `finished_at`, which only a
# finished operation has, kept in step with the setting by gateway and worker).
# Never shorter than an Idempotency-Key is kept: a retry answers from its operation.
OPERATIONS_EXPIRY = "finished_expiry"
OPERATIONS_RETENTION_MIN_H = IDEMPOTENCY_TTL_S // 3600
# The index each write of the write path names (`hint`), so that no plan can
# scan: an operation, an Idempotency-Key record are changed by `_id`, a client by
# `key`. Reads name none: they filter on that one field alone, which every server
# serves from its index (SecantusDB walks the whole index for a hinted find).
BY_ID = "_id_"
BY_KEY = "key_unique"
# Pending operations, for "is anything still being applied" (the benchmark, tests):
# the index on `status`.
PENDING = "pending"
TOMBSTONE_TTL_S = 7 * 24 * 3600
TOMBSTONES = "tombstones"
# Self-registered clients still pending (worker.pending_sweep): a partial index, so it
# holds those alone and its sweep reads only them.
PENDING_SELF_REGISTERED = "pending_self_registered"
# How many applied command ids a client remembers, so a redelivered command
# is recognised and not applied twice.
APPLIED_COMMANDS_KEPT = 50

Document = dict[str, Any]

# Indexes an earlier release made on clients and none of its queries needs any more,
# dropped at start: each one is a write of its own on every client change.
RETIRED_CLIENT_INDEXES = ("type_created", "type_status_created", "type_name",
                          # The TTL index the tombstones' purge replaced (worker.tombstone_purge).
                          "tombstone_expiry",
                          # Every client's status, origin and status change: the pending
                          # sweep's, which PENDING_SELF_REGISTERED replaced.
                          "pending_registrations")

CLIENT_INDEXES = [
    IndexModel([("key", ASCENDING)], unique=True, name=BY_KEY),
    # Removed clients stay as tombstones (no secret) for TOMBSTONE_TTL_S, so that a late
    # redelivery of a command that touched them is still recognised; each worker then
    # deletes them by this index (worker.tombstone_purge says why not by a TTL index).
    IndexModel([("removed_at", ASCENDING)], sparse=True, name=TOMBSTONES),
    # Only clients with events waiting carry outbox_since, so the relay's sweep is cheap.
    # A gateway's read model catches up on the clients written lately (api.verify.read_model).
    IndexModel([("updated_at", ASCENDING)], name="updated"),
    IndexModel([("outbox_since", ASCENDING)], sparse=True, name="outbox_waiting"),
    # The list queries MongoDB answers while a gateway's read model loads (after that the
    # model does, api.views.queries): newest first, by status, by name. A type filter
    # rides these too; an index per type as well cost every client write its upkeep
    # (RETIRED_CLIENT_INDEXES).
    IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created"),
    IndexModel([("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
               name="status_created"),
    IndexModel([("name_sort", ASCENDING), ("_id", ASCENDING)], name="name"),
    # The sweep of self-registered clients never approved (worker.pending_sweep): only
    # theirs are indexed. One index over every client's status, origin and status change
    # served it on MongoDB, but SecantusDB read it by scanning the pending clients
    # (0.7 s among 100,000) at each worker's start and hourly, holding every request.
    IndexModel([("status_changed_at", ASCENDING)], name=PENDING_SELF_REGISTERED,
               partialFilterExpression={"status": Status.PENDING.value,
                                        "origin.kind": OriginKind.REGISTRATION.value}),
]
IDEMPOTENCY_INDEXES = [
    IndexModel([("created_at", ASCENDING)], expireAfterSeconds=IDEMPOTENCY_TTL_S,
               name="expire"),
]
# The audit queries: all, one client's history, by actor, by action; newest first.
AUDIT_INDEXES = [
    IndexModel([("at", DESCENDING), ("_id", DESCENDING)], name="at"),
    IndexModel([("client_key", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
               name="client_at"),
    IndexModel([("actor", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
               name="actor_at"),
    IndexModel([("action", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
               name="action_at"),
]
# An initial access token is found by the digest of what the caller presents.
REGISTRATION_TOKEN_INDEXES = [
    IndexModel([("sha256", ASCENDING)], unique=True, name="sha256_unique"),
    # Only tokens with events waiting carry outbox_since, so the relay's sweep is cheap.
    IndexModel([("outbox_since", ASCENDING)], sparse=True, name="outbox_waiting"),
]
OPERATION_INDEXES = [
    IndexModel([("status", ASCENDING)], name=PENDING),
]
# The operations' expiry once was a TTL on `created_at`, which would delete a
# pending operation too: dropped where it is found.
_OLD_OPERATIONS_EXPIRY = "expire"
# The secret usage notes' index once was a plain one, so a removed client's notes stayed.
_OLD_SECRET_USAGE_INDEX = "updated_at"


def connect(uri: str, *, app_name: str, listeners: Sequence[CommandListener] = ()
            ) -> AsyncMongoClient[Document]:
    """The service's client; `listeners` see each command it sends (tests count them)."""
    # timeoutMS bounds every operation, so a half-open connection cannot hang a
    # request or hold a command past shutdown.
    return AsyncMongoClient(uri, tz_aware=True, appname=app_name, timeoutMS=10_000,
                            serverSelectionTimeoutMS=5000, uuidRepresentation="standard",
                            event_listeners=list(listeners))


def is_outage(exc: BaseException) -> bool:
    """Whether a MongoDB error means "not reachable now" (retry later), not "wrong"."""
    if isinstance(exc, ConnectionFailure | WriteConcernError):
        return True
    return isinstance(exc, PyMongoError) and (
        exc.timeout or exc.has_error_label("RetryableWriteError"))


def database(client: AsyncMongoClient[Document]) -> AsyncDatabase[Document]:
    try:
        return client.get_default_database()
    except ConfigurationError:
        return client["clientkeys"]


async def ensure_indexes(db: AsyncDatabase[Document], *,
                         audit_retention_days: int | None = None,
                         operations_retention_h: int | None = None) -> None:
    """Every index; the audit trail's expiry too when `audit_retention_days` is
    given (the gateway, which has the setting; 0 removes the expiry), and the
    finished operations' expiry as `operations_retention_h` says (without it,
    one of OPERATIONS_RETENTION_MIN_H hours where there is none yet)."""
    # Retired first: the tombstones' new index has the key of a retired one.
    await drop_retired_indexes(db)
    await db[CLIENTS].create_indexes(CLIENT_INDEXES)
    await db[OPERATIONS].create_indexes(OPERATION_INDEXES)
    await db[IDEMPOTENCY_KEYS].create_indexes(IDEMPOTENCY_INDEXES)
    await db[AUDIT].create_indexes(AUDIT_INDEXES)
    await ensure_secret_usage_expiry(db)
    await db[REGISTRATION_TOKENS].create_indexes(REGISTRATION_TOKEN_INDEXES)
    await db[ASSERTION_JTIS].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0,
                                          name="expire")
    if audit_retention_days is not None:
        await ensure_audit_expiry(db, audit_retention_days)
    await ensure_operations_expiry(db, operations_retention_h)


async def drop_retired_indexes(db: AsyncDatabase[Document]) -> None:
    """Drop the clients' indexes no query uses any more (RETIRED_CLIENT_INDEXES)."""
    existing = {index["name"] async for index in await db[CLIENTS].list_indexes()}
    for name in RETIRED_CLIENT_INDEXES:
        if name in existing:
            with contextlib.suppress(OperationFailure):  # another process dropped it first
                await db[CLIENTS].drop_index(name)


async def ensure_secret_usage_expiry(db: AsyncDatabase[Document]) -> None:
    """The index each gateway reads the others' secret usage notes by (`updated_at`),
    also removing a client's notes once none of its secrets verified for
    SECRET_USAGE_KEPT_DAYS: a removed client's among them, as it never verifies again.
    The plain index it replaces is dropped first (two indexes cannot share a key)."""
    collection = db[SECRET_USAGE]
    existing = {index["name"] async for index in await collection.list_indexes()}
    if _OLD_SECRET_USAGE_INDEX in existing:
        await collection.drop_index(_OLD_SECRET_USAGE_INDEX)
    await _ensure_expiry(db, SECRET_USAGE, SECRET_USAGE_EXPIRY, "updated_at",
                         SECRET_USAGE_KEPT_DAYS * 24 * 3600)


async def ensure_audit_expiry(db: AsyncDatabase[Document], days: int) -> None:
    """The TTL index on the audit entries' `at`, expiring them after `days` (0: never)."""
    await _ensure_expiry(db, AUDIT, AUDIT_EXPIRY, "at", days * 24 * 3600)


async def ensure_operations_expiry(db: AsyncDatabase[Document], hours: int | None) -> None:
    """The TTL index on finished operations' `finished_at`, after `hours`.

    None (a caller without the setting) keeps what is there, or makes the
    shortest allowed. A pending operation has no `finished_at`, so it never expires.
    """
    collection = db[OPERATIONS]
    existing = {index["name"]: index async for index in await collection.list_indexes()}
    if _OLD_OPERATIONS_EXPIRY in existing:
        await collection.drop_index(_OLD_OPERATIONS_EXPIRY)
    if hours is None:
        if OPERATIONS_EXPIRY in existing:
            return
        hours = OPERATIONS_RETENTION_MIN_H
    await _ensure_expiry(db, OPERATIONS, OPERATIONS_EXPIRY, "finished_at", hours * 3600)


async def _ensure_expiry(db: AsyncDatabase[Document], name: str, index: str, field: str,
                         seconds: int) -> None:
    """A TTL index `index` on `field` of collection `name`, after `seconds` (0: none).

    createIndex refuses an index that exists with other options, so a changed
    setting is applied with collMod, or by dropping and creating the index where
    the server does not take collMod.
    """
    collection = db[name]
    existing = {found["name"]: found async for found in await collection.list_indexes()}
    current = existing.get(index)
    if seconds == 0:
        if current is not None:
            await collection.drop_index(index)
        return
    if current is None:
        await collection.create_index([(field, ASCENDING)], name=index,
                                      expireAfterSeconds=seconds)
        return
    if current.get("expireAfterSeconds") == seconds:
        return
    try:
        await db.command({"collMod": name,
                          "index": {"name": index, "expireAfterSeconds": seconds}})
    except OperationFailure:
        await collection.drop_index(index)
        await collection.create_index([(field, ASCENDING)], name=index,
                                      expireAfterSeconds=seconds)


async def database_reachable(db: AsyncDatabase[Document], timeout_s: float = 1.0) -> bool:
    try:
        with pymongo.timeout(timeout_s):
            await db.command("ping")
    except PyMongoError:
        return False
    return True


def now() -> datetime:
    """The current time at MongoDB's precision (milliseconds), so what is
    stored, returned and put in events is the same instant."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)
