"""The registration_tokens collection's one owner: initial access tokens.

A token is shown once when it is made and stored only as its SHA-256 digest
(the gateway hashes it, as it hashes API tokens: `api.auth.tokens.token_digest`);
it is found by that digest (a unique index) and the digest compared again with
`hmac.compare_digest`. Its `_id` is the first 12 hex digits of the digest,
which reveal nothing usable.

A use is taken with one guarded update (`take_use`): it matches only a token
that still has uses, is not revoked and has not expired, and decrements
`uses_left`; `matched_count` says whether this caller got one. No
findAndModify is needed, so the write is cheap on every MongoDB-wire server, and
ten registrations at once on a token with three uses left take exactly three.

Making and revoking a token write its event into the token's own `outbox` in
the same single-document write (`registration_token_created`,
`registration_token_revoked`, common.events), as a client's changes do; the
workers' relay (worker.token_relay) publishes it and clears it (`events_sent`),
finding waiting outboxes by the sparse index on `outbox_since`.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any, Final, TypedDict, cast

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from common.store import REGISTRATION_TOKENS, Document

# How many tokens a listing shows at most: they are made by hand, a few at a time.
LIST_LIMIT: Final = 500
# A token's id: the first hex digits of its digest (as `api.auth.tokens.token_id`).
ID_LENGTH: Final = 12
# Read by the relay, never shown: the digest and the events waiting.
_INTERNAL: Final = ("sha256", "outbox", "outbox_since")


class TokenPolicy(TypedDict):
    """What a registration with the token may ask for (api.registration.policy)."""

    client_types: list[str]  # empty: any
    grant_types: list[str]  # empty: any
    redirect_uri_hosts: list[str]  # exact hosts or `*.suffix`; empty: any
    auto_approve: bool


class RegistrationTokenDocument(TypedDict, total=False):
    _id: str  # the first ID_LENGTH hex digits of the digest
    sha256: str
    label: str
    created_by: str  # the subject of the administrator who made it
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses_left: int
    revoked: bool
    revoked_at: datetime | None
    policy: TokenPolicy
    # Events not yet confirmed by the broker, and since when (only while waiting).
    outbox: list[dict[str, Any]]
    outbox_since: datetime


def _tokens(db: AsyncDatabase[Document]) -> AsyncCollection[Document]:
    return db[REGISTRATION_TOKENS]


def new_document(digest: str, *, label: str, created_by: str, created_at: datetime,
                 expires_at: datetime, max_uses: int, policy: TokenPolicy
                 ) -> RegistrationTokenDocument:
    return {"_id": digest[:ID_LENGTH], "sha256": digest, "label": label,
            "created_by": created_by, "created_at": created_at, "expires_at": expires_at,
            "max_uses": max_uses, "uses_left": max_uses, "revoked": False,
            "revoked_at": None, "policy": policy}


async def insert_token(db: AsyncDatabase[Document], document: RegistrationTokenDocument,
                       event: dict[str, Any]) -> None:
    """The token, with its `registration_token_created` event waiting in its outbox."""
    stored = {**document, "outbox": [event], "outbox_since": event["time"]}
    await _tokens(db).insert_one(stored)


async def find_token(db: AsyncDatabase[Document], digest: str
                     ) -> RegistrationTokenDocument | None:
    """The token whose digest this is: found by it, compared in constant time."""
    found = await _tokens(db).find_one({"sha256": digest}, {"outbox": 0})
    if found is None or not hmac.compare_digest(str(found["sha256"]).encode(), digest.encode()):
        return None
    return cast(RegistrationTokenDocument, found)


async def list_tokens(db: AsyncDatabase[Document]) -> list[RegistrationTokenDocument]:
    """Every token, newest first (sorted here: there are few)."""
    hidden = dict.fromkeys(_INTERNAL, 0)
    found = [cast(RegistrationTokenDocument, doc)
             async for doc in _tokens(db).find({}, hidden).limit(LIST_LIMIT)]
    return sorted(found, key=lambda doc: doc["created_at"], reverse=True)


async def get_token(db: AsyncDatabase[Document], id_: str) -> RegistrationTokenDocument | None:
    found = await _tokens(db).find_one({"_id": id_}, dict.fromkeys(_INTERNAL, 0))
    return None if found is None else cast(RegistrationTokenDocument, found)


async def revoke_token(db: AsyncDatabase[Document], id_: str, at: datetime,
                       event: dict[str, Any]) -> bool:
    """Revoke it now, its `registration_token_revoked` event in the same write; False when
    there is no such token or it was revoked already (no second event)."""
    result = await _tokens(db).update_one(
        {"_id": id_, "revoked": False},
        {"$set": {"revoked": True, "revoked_at": at, "outbox_since": at},
         "$push": {"outbox": event}})
    return result.matched_count == 1


async def take_use(db: AsyncDatabase[Document], id_: str, at: datetime) -> bool:
    """One use of a usable token, atomically; False when none was left to take."""
    result = await _tokens(db).update_one(
        {"_id": id_, "uses_left": {"$gt": 0}, "revoked": False, "expires_at": {"$gt": at}},
        {"$inc": {"uses_left": -1}})
    return result.matched_count == 1


async def give_back_use(db: AsyncDatabase[Document], id_: str) -> None:
    """A use taken for a registration that was refused or never queued, returned.

    Called only by the request that took it, once, so uses_left stays within max_uses."""
    await _tokens(db).update_one({"_id": id_}, {"$inc": {"uses_left": 1}})


async def waiting_outboxes(db: AsyncDatabase[Document], written_before: datetime, limit: int
                           ) -> list[tuple[str, list[dict[str, Any]]]]:
    """(token id, outbox) of the tokens whose events wait since before `written_before`."""
    found = _tokens(db).find({"outbox_since": {"$lt": written_before}},
                             {"outbox": 1}).limit(limit)
    return [(doc["_id"], list(doc.get("outbox", []))) async for doc in found]


async def events_sent(db: AsyncDatabase[Document], id_: str, event_ids: list[str]) -> None:
    """Drop confirmed events from the token's outbox; with none left, it waits no more."""
    await _tokens(db).update_one({"_id": id_},
                                 {"$pull": {"outbox": {"id": {"$in": event_ids}}}})
    await _tokens(db).update_one({"_id": id_, "outbox": []}, {"$unset": {"outbox_since": ""}})


def public_token(document: RegistrationTokenDocument) -> dict[str, Any]:
    """What the management API and the events show of a token: never its digest."""
    shown = {key: value for key, value in document.items()
             if key not in ("_id", *_INTERNAL)}
    return {**shown, "id": document["_id"]}
