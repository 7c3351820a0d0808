"""The registration_tokens collection's one writer: the workers, applying commands.

Initial access tokens are made and revoked by commands (common.token_commands,
worker.token_handlers), and a use is taken for each self-registered client by
the create that makes it (worker.handlers): all through this module, each write
a single-document one. Making and revoking write the token's event into its own
`outbox` in the same write, as a client's changes do; the consumer publishes it
right after (worker.relay) and clears it here (`events_sent`), and the relay's
sweep finds outboxes left behind by the sparse index on `outbox_since`. The
gateway only reads tokens (api.registration.token_reads).

A use is taken with one guarded update (`take_use`): it matches only a token
that still has uses, is not revoked, has not expired and has not given one to
this very command, decrements `uses_left` and remembers the command in
`used_by`; `matched_count` says whether this command got one. No findAndModify
is needed, so the write is cheap on every MongoDB-wire server, and ten
registrations at once on a token with three uses left take exactly three. A
redelivered create finds its command in `used_by` and takes none again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, cast

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.registration_tokens import RegistrationTokenDocument
from common.store import BY_ID, REGISTRATION_TOKENS, Document
from worker.outbox_store import StoredOutboxes


class TokenExists(Exception):
    """A token of that digest exists; `document` is it (made by this command or not)."""

    def __init__(self, document: RegistrationTokenDocument) -> None:
        super().__init__(document.get("_id"))
        self.document = document


class TokenStore(Protocol):
    """What the handlers need of initial access tokens; its outbox half is the relay's
    (`worker.relay.Outboxes`), as for clients."""

    async def get_token(self, id_: str) -> RegistrationTokenDocument | None:
        """The token as stored, its bookkeeping and outbox included."""

    async def insert_token(self, document: RegistrationTokenDocument) -> None:
        """Raises TokenExists when a token of that id is stored already."""

    async def revoke_token(self, id_: str, command_id: str, at: datetime,
                           event: Document) -> bool:
        """Revoke it with its event in the same write; False when there is no such token
        or it was revoked already."""

    async def take_use(self, id_: str, command_id: str, at: datetime) -> bool:
        """One use for this command, atomically; True also when it took one before."""

    async def pending_events(self, id_: str) -> list[Document]: ...

    async def events_sent(self, id_: str, event_ids: list[str]) -> None: ...

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]: ...

    async def outbox_backlog(self) -> int: ...


class MongoTokenStore(StoredOutboxes):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tokens = cast(AsyncCollection[RegistrationTokenDocument], db[REGISTRATION_TOKENS])
        super().__init__(self._tokens, "_id", BY_ID)  # its outboxes, found by id

    async def get_token(self, id_: str) -> RegistrationTokenDocument | None:
        return await self._tokens.find_one({"_id": id_})

    async def insert_token(self, document: RegistrationTokenDocument) -> None:
        try:
            await self._tokens.insert_one(document)
        except DuplicateKeyError:
            existing = await self._tokens.find_one({"_id": document["_id"]})
            if existing is None:  # gone meanwhile: nothing to say but the collision
                raise
            raise TokenExists(existing) from None

    async def revoke_token(self, id_: str, command_id: str, at: datetime,
                           event: Document) -> bool:
        result = await self._tokens.update_one(
            {"_id": id_, "revoked": False},
            {"$set": {"revoked": True, "revoked_at": at, "outbox_since": at},
             "$push": {"outbox": event, "applied_commands": command_id}}, hint=BY_ID)
        return result.matched_count == 1

    async def take_use(self, id_: str, command_id: str, at: datetime) -> bool:
        result = await self._tokens.update_one(
            {"_id": id_, "uses_left": {"$gt": 0}, "revoked": False,
             "expires_at": {"$gt": at}, "used_by": {"$ne": command_id}},
            {"$inc": {"uses_left": -1}, "$push": {"used_by": command_id}}, hint=BY_ID)
        if result.matched_count == 1:
            return True
        # Not matched: no use left, or this command took one on an earlier delivery.
        found = await self._tokens.find_one({"_id": id_}, {"used_by": 1})
        return found is not None and command_id in found.get("used_by", [])
