"""The Idempotency-Key records (`idempotency_keys`): their one owner.

One document per caller identity and key (`_id` = a hash of both), kept 24 hours
(TTL index on `created_at`):

- `kid`, `fingerprint`: the request, by a keyed HMAC fingerprint (never in clear);
- `state`: `running` while its request runs, `accepted` once it was answered 202
  (queued, not finished), `done` once its answer is final (`response`, the body
  sealed: it may hold a generated secret);
- `operation_id`: the command its request sends. It is chosen with the claim and
  written in the claim's own insert, so the record names its command before the
  command exists, at no extra write (recording the key on the pending operation
  instead would need a second index on operations and a query to find it);
- `secret`: a secret the request generated, sealed and bound to the record, kept
  before the command is queued (one write, only when a secret is generated), so
  a retry answered from the operation shows it as the first answer did;
- `owner`, `claimed_at`, `lease_until`: who runs it and since when. Every write
  after the claim is conditional on `owner`, so a request whose record a retry
  took over changes nothing in it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NotRequired, TypedDict, cast

from aiohttp import hdrs, web
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from common.keyring import SealedSecret, SecretKeyring, idempotent_response_aad
from common.store import BY_ID, IDEMPOTENCY_KEYS, Document, is_outage

log = logging.getLogger(__name__)

# From the claim to its pending operation a request makes at most three database
# calls (the client, the generated secret, the operation), each bounded to 10 s
# (`common.store.connect`). A retry finding no operation after this long fences
# it: the first request, if alive after all, can then no longer queue it.
DISPATCH_DEADLINE = timedelta(seconds=30)
# After the operation: the publish, the wait for the outcome, one read of it.
_DATABASE_CALL = timedelta(seconds=10)
_SLACK = timedelta(seconds=5)
_KEPT_HEADERS = (hdrs.LOCATION, hdrs.ETAG, hdrs.RETRY_AFTER)


class RecordState(StrEnum):
    RUNNING = "running"
    ACCEPTED = "accepted"
    DONE = "done"


class RememberedResponse(TypedDict):
    status: int
    content_type: str
    headers: dict[str, str]
    body: dict[str, Any]  # a SealedSecret.to_document() bound to the record


class IdempotencyRecord(TypedDict):
    """One stored record, as the module docstring describes it."""

    _id: str
    kid: str
    fingerprint: str
    created_at: datetime
    state: str  # a RecordState value
    owner: str
    lease_until: datetime
    # Absent only in a record of a gateway from before records named commands.
    operation_id: NotRequired[str]
    claimed_at: NotRequired[datetime]
    secret: NotRequired[dict[str, Any]]  # a SealedSecret.to_document()
    response: NotRequired[RememberedResponse]  # once `done`


Records = AsyncCollection[Document]


def records_in(db: AsyncDatabase[Document]) -> Records:
    return db[IDEMPOTENCY_KEYS]


def is_done(record: IdempotencyRecord) -> bool:
    return record["state"] == RecordState.DONE.value


def is_running(record: IdempotencyRecord) -> bool:
    """Its request has not answered yet (not even 202), or died before it could."""
    return record["state"] == RecordState.RUNNING.value


def is_leased(record: IdempotencyRecord, at: datetime) -> bool:
    """Whether its request may still be running at `at`."""
    return record["lease_until"] > at


def claimed_at(record: IdempotencyRecord) -> datetime:
    """When its current request claimed it."""
    return record.get("claimed_at") or record["created_at"]


@dataclass(frozen=True)
class Claim:
    """The right to run a request under its key, and the command id it must use."""

    record_id: str
    owner: str
    operation_id: str


def lease_for(publish_timeout_s: float, sync_wait_s: float) -> timedelta:
    """Longer than its request can run: after it, the request has answered or died,
    so a command it recorded but that no worker started may be withdrawn."""
    return (DISPATCH_DEADLINE + timedelta(seconds=publish_timeout_s + sync_wait_s)
            + _DATABASE_CALL + _SLACK)


def record_id(identity: str, key: str) -> str:
    return hashlib.sha256(f"{identity}\0{key}".encode()).hexdigest()


def _new_claim(record: str, at: datetime, lease: timedelta) -> tuple[Claim, Document]:
    claim = Claim(record, str(uuid.uuid4()), str(uuid.uuid4()))
    return claim, {"state": RecordState.RUNNING.value, "owner": claim.owner,
                   "operation_id": claim.operation_id, "claimed_at": at,
                   "lease_until": at + lease}


async def claim(records: Records, record: str, key_id: str,
                fingerprint: str, at: datetime, lease: timedelta) -> Claim | IdempotencyRecord:
    """A new claim, or the record already there."""
    new, fields = _new_claim(record, at, lease)
    try:
        await records.insert_one({"_id": record, "kid": key_id, "fingerprint": fingerprint,
                                  "created_at": at, **fields})
        return new
    except DuplicateKeyError:
        pass
    found = await records.find_one({"_id": record})
    if found is None:  # expired just now: try once more
        return await claim(records, record, key_id, fingerprint, at, lease)
    if found.get("owner") == new.owner:  # our insert landed; its answer was lost
        return new
    return cast(IdempotencyRecord, found)


async def take_over(records: Records, record: IdempotencyRecord, at: datetime,
                    lease: timedelta) -> Claim | None:
    """Claim a record for a new attempt with a new command; None if another retry did.

    Only call it once the command the record named provably never reached a worker.
    """
    new, fields = _new_claim(record["_id"], at, lease)
    result = await records.update_one({"_id": record["_id"], "owner": record.get("owner")},
                                      {"$set": fields, "$unset": {"secret": ""}}, hint=BY_ID)
    return new if result.modified_count == 1 else None


async def keep_secret(records: Records, claim: Claim,
                      keyring: SecretKeyring, secret: str) -> bool:
    """Store a generated secret with the record; False if the claim was taken over."""
    sealed = keyring.seal(secret, idempotent_response_aad(claim.record_id))
    result = await records.update_one({"_id": claim.record_id, "owner": claim.owner},
                                      {"$set": {"secret": sealed.to_document()}}, hint=BY_ID)
    return result.matched_count == 1


def secret_of(record: IdempotencyRecord, keyring: SecretKeyring) -> str | None:
    """The secret its request generated; KeyringError or InvalidTag if it cannot be opened."""
    stored = record.get("secret")
    if stored is None:
        return None
    return keyring.open(SealedSecret.from_document(stored), idempotent_response_aad(record["_id"]))


def _remembered(response: web.Response, keyring: SecretKeyring, record: str
                ) -> RememberedResponse:
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
    return {
        "status": response.status,
        "content_type": response.content_type,
        "headers": {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers},
        "body": keyring.seal(body.decode(), idempotent_response_aad(record)).to_document(),
    }


def replay(record: IdempotencyRecord, keyring: SecretKeyring) -> web.Response:
    """The remembered answer of a `done` record; KeyringError or InvalidTag if unreadable."""
    stored = record["response"]
    body = keyring.open(SealedSecret.from_document(stored["body"]),
                        idempotent_response_aad(record["_id"])).encode()
    return web.Response(status=stored["status"], body=body,
                        content_type=stored["content_type"], headers=stored["headers"])


async def settle(records: Records, record: str, owner: str,
                 response: web.Response, keyring: SecretKeyring) -> None:
    """Record how a request was answered: 202 is `accepted`, anything else `done`.

    If the database is away the answer still goes out: the record names its
    operation, so a retry finds the same answer there.
    """
    if response.status == 202:
        update: Document = {"$set": {"state": RecordState.ACCEPTED.value}}
    else:
        update = {"$set": {"state": RecordState.DONE.value,
                           "response": _remembered(response, keyring, record)},
                  "$unset": {"secret": ""}}
    try:
        await records.update_one({"_id": record, "owner": owner}, update, hint=BY_ID)
    except PyMongoError as exc:
        if not is_outage(exc):
            raise
        log.warning("Idempotency-Key answer not recorded (%s); a retry asks its operation",
                    type(exc).__name__)


async def forget(records: Records, claim: Claim) -> None:
    """Drop the claim of a request that failed before its command could be queued."""
    try:
        await records.delete_one({"_id": claim.record_id, "owner": claim.owner}, hint=BY_ID)
    except PyMongoError as exc:
        if not is_outage(exc):
            raise
        log.warning("Idempotency-Key claim not released (%s); a retry finds its operation "
                    "never queued", type(exc).__name__)
