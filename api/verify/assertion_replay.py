"""A client assertion's `jti` is accepted once, by every gateway together (RFC 7523 §3,
item 7; OpenID Connect Core §9).

One database write per accepted assertion: `insert_one` of a record whose `_id` is the
client key and the jti, so MongoDB's unique `_id` decides, across all gateways at once,
which use came first; a DuplicateKeyError is a replay. The record lives until the
assertion could no longer be accepted anywhere (its `exp` plus the leeway), then the TTL
index on `expires_at` (common.store) removes it. Only assertions whose signature and
claims checked out are written, so a caller without the client's key cannot fill it.
A database that does not answer is not a verdict: `ReplayStoreUnavailable` lets the
gateway answer 503, neither accepting a possible replay nor refusing a fresh assertion.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypedDict

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from common.store import ASSERTION_JTIS, Document

JTI_MAX = 256


class JtiRecord(TypedDict):
    _id: str           # "<client key> <jti>"
    expires_at: datetime


class ReplayStoreUnavailable(RuntimeError):
    """The record of a jti could not be written: nothing was decided."""


class JtiLedger(Protocol):
    async def first_use(self, client_key: str, jti: str, expires_at: datetime) -> bool:
        """Whether this is the first use of `jti` by the client (and records it)."""
        ...


class AssertionReplay:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._records = db[ASSERTION_JTIS]

    async def first_use(self, client_key: str, jti: str, expires_at: datetime) -> bool:
        record: JtiRecord = {"_id": f"{client_key} {jti}", "expires_at": expires_at}
        try:
            await self._records.insert_one(dict(record))
        except DuplicateKeyError:
            return False
        except PyMongoError as exc:
            raise ReplayStoreUnavailable(str(exc)[:200]) from None
        return True
