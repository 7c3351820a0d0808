"""The registration_tokens collection's one owner: initial access tokens.

A token is shown once when it is made and stored only as its SHA-256 digest
(`api.auth.tokens.token_digest`, as the API tokens are); it is found by that
digest (a unique index) and the digest compared again with
`hmac.compare_digest`. Its `_id` is the first 12 hex digits of the digest
(`token_id`), which reveal nothing usable.

A use is taken with one guarded update (`take_use`): it matches only a token
that still has uses, is not revoked and has not expired, and decrements
`uses_left`; `matched_count` says whether this caller got one. No
findAndModify is needed, so the write is cheap on every MongoDB-wire server, and
ten registrations at once on a token with three uses left take exactly three.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any, Final, TypedDict, cast

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from api.auth.tokens import token_digest, token_id
from common.store import REGISTRATION_TOKENS, Document

# How many tokens a listing shows at most: they are made by hand, a few at a time.
LIST_LIMIT: Final = 500


class TokenPolicy(TypedDict):
    """What a registration with the token may ask for (api.registration.policy)."""

    client_types: list[str]  # empty: any
    grant_types: list[str]  # empty: any
    redirect_uri_hosts: list[str]  # exact hosts or `*.suffix`; empty: any
    auto_approve: bool


class RegistrationTokenDocument(TypedDict):
    _id: str  # token_id of the digest
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


def _tokens(db: AsyncDatabase[Document]) -> AsyncCollection[Document]:
    return db[REGISTRATION_TOKENS]


def new_document(token: str, *, label: str, created_by: str, created_at: datetime,
                 expires_at: datetime, max_uses: int, policy: TokenPolicy
                 ) -> RegistrationTokenDocument:
    digest = token_digest(token)
    return {"_id": token_id(digest), "sha256": digest, "label": label,
            "created_by": created_by, "created_at": created_at, "expires_at": expires_at,
            "max_uses": max_uses, "uses_left": max_uses, "revoked": False,
            "revoked_at": None, "policy": policy}


async def insert_token(db: AsyncDatabase[Document], document: RegistrationTokenDocument
                       ) -> None:
    await _tokens(db).insert_one(cast(Document, document))


async def find_token(db: AsyncDatabase[Document], token: str
                     ) -> RegistrationTokenDocument | None:
    """The token's record, if `token` is one: found by digest, compared in constant time."""
    digest = token_digest(token)
    found = await _tokens(db).find_one({"sha256": digest})
    if found is None or not hmac.compare_digest(str(found["sha256"]).encode(), digest.encode()):
        return None
    return cast(RegistrationTokenDocument, found)


async def list_tokens(db: AsyncDatabase[Document]) -> list[RegistrationTokenDocument]:
    """Every token, newest first (sorted here: there are few)."""
    found = [cast(RegistrationTokenDocument, doc)
             async for doc in _tokens(db).find({}, {"sha256": 0}).limit(LIST_LIMIT)]
    return sorted(found, key=lambda doc: doc["created_at"], reverse=True)


async def get_token(db: AsyncDatabase[Document], id_: str) -> RegistrationTokenDocument | None:
    found = await _tokens(db).find_one({"_id": id_}, {"sha256": 0})
    return None if found is None else cast(RegistrationTokenDocument, found)


async def revoke_token(db: AsyncDatabase[Document], id_: str, at: datetime) -> bool:
    """Revoke it now; False when there is no such token or it was revoked already."""
    result = await _tokens(db).update_one({"_id": id_, "revoked": False},
                                          {"$set": {"revoked": True, "revoked_at": at}})
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


def public_token(document: RegistrationTokenDocument) -> dict[str, Any]:
    """What the management API shows of a token: never its digest."""
    return {key: value for key, value in document.items() if key not in ("_id", "sha256")} | {
        "id": document["_id"]}
