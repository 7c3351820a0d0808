"""The outboxes of one collection, as the relay needs them (`worker.applied.Outboxes`).

Clients (`worker.repository`) and initial access tokens (`worker.token_store`) keep
their events in an `outbox` array until the broker confirmed them, with
`outbox_since` set only while it is not empty (a sparse index, so the sweep reads only
the documents with events waiting). Each store is this, for its own collection and the
field (and index) its documents are found by. Its outbox clears go through a lane
of group commit (common.group_commit): those of the commands in hand go together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from common.group_commit import GroupedUpdates
from common.store import Document


class StoredOutboxes:
    def __init__(self, collection: AsyncCollection[Any], id_field: str, hint: str, *,
                 updates: GroupedUpdates | None = None) -> None:
        """`updates`: the lane of the collection's other updates, to share theirs."""
        self._outboxes_in = collection
        self._id_field, self._hint = id_field, hint
        self._updates = updates if updates is not None else GroupedUpdates(collection)

    async def pending_events(self, id_: str) -> list[Document]:
        found = await self._outboxes_in.find_one({self._id_field: id_}, {"outbox": 1})
        return list(found.get("outbox", [])) if found else []

    async def events_sent(self, id_: str, event_ids: list[str]) -> None:
        """Drop `event_ids` (the oldest in the outbox, in order) from its outbox."""
        match, hint = {self._id_field: id_}, self._hint
        # Usually the outbox holds exactly the events just sent: one write clears it.
        # (Positions, not `outbox.id: {$all}`, which SecantusDB does not match.)
        exactly = {f"outbox.{i}.id": event_id for i, event_id in enumerate(event_ids)}
        cleared = await self._updates.update_one(
            {**match, "outbox": {"$size": len(event_ids)}, **exactly},
            {"$set": {"outbox": []}, "$unset": {"outbox_since": ""}}, hint=hint)
        if cleared.matched:
            return
        # Another worker queued more events meanwhile, or sent ours already (or its batch
        # cannot tell: both writes below change nothing when it was cleared).
        await self._updates.update_one(
            match, {"$pull": {"outbox": {"id": {"$in": event_ids}}}}, hint=hint)
        await self._updates.update_one({**match, "outbox": {"$size": 0}},
                                       {"$unset": {"outbox_since": ""}}, hint=hint)

    async def stale_outboxes(self, written_before: datetime, limit: int) -> list[str]:
        found = self._outboxes_in.find({"outbox_since": {"$lt": written_before}},
                                       {self._id_field: 1}) \
            .sort("outbox_since", ASCENDING).limit(limit)
        return [str(doc[self._id_field]) for doc in await found.to_list()]

    async def outbox_backlog(self) -> int:
        # Only documents with events waiting carry outbox_since (a sparse index).
        rows = await (await self._outboxes_in.aggregate([  # rows, not documents
            {"$match": {"outbox_since": {"$exists": True}}},
            {"$group": {"_id": None, "events": {"$sum": {"$size": "$outbox"}}}},
        ])).to_list()
        return int(rows[0]["events"]) if rows else 0
