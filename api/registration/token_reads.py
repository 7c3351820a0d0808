"""The gateway's reads of initial access tokens; the workers alone write them
(worker.token_store), so a token changes only through a command.

A token is found by the digest of what the caller presents (a unique index) and
the digest compared again with `hmac.compare_digest`. No read returns what only
the worker keeps (`INTERNAL`: the digest aside from that comparison, the creates
that took a use, the outbox).
"""

from __future__ import annotations

import hmac
from typing import Final, cast

from pymongo.asynchronous.database import AsyncDatabase

from common.registration_tokens import INTERNAL, RegistrationTokenDocument
from common.store import REGISTRATION_TOKENS, Document

# How many tokens a listing shows at most: they are made by hand, a few at a time.
LIST_LIMIT: Final = 500
_HIDDEN: Final = dict.fromkeys(INTERNAL, 0)


async def find_token(db: AsyncDatabase[Document], digest: str
                     ) -> RegistrationTokenDocument | None:
    """The token whose digest this is: found by it, compared in constant time."""
    found = await db[REGISTRATION_TOKENS].find_one(
        {"sha256": digest}, {name: 0 for name in INTERNAL if name != "sha256"})
    if found is None or not hmac.compare_digest(str(found["sha256"]).encode(), digest.encode()):
        return None
    return cast(RegistrationTokenDocument, found)


async def list_tokens(db: AsyncDatabase[Document]) -> list[RegistrationTokenDocument]:
    """Every token, newest first (sorted here: there are few)."""
    found = [cast(RegistrationTokenDocument, doc)
             async for doc in db[REGISTRATION_TOKENS].find({}, _HIDDEN).limit(LIST_LIMIT)]
    return sorted(found, key=lambda doc: doc["created_at"], reverse=True)


async def get_token(db: AsyncDatabase[Document], id_: str) -> RegistrationTokenDocument | None:
    found = await db[REGISTRATION_TOKENS].find_one({"_id": id_}, _HIDDEN)
    return None if found is None else cast(RegistrationTokenDocument, found)
