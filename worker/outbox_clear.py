"""Clearing sent events from an outbox: one write for clients and tokens alike.

Usually the outbox holds exactly the events just sent, so one guarded write empties it
and says it waits no more; when more were queued meanwhile (or ours were sent already),
the sent ones are pulled and the marker dropped only if nothing is left.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from common.store import Document


async def clear_sent(collection: AsyncCollection[Any], match: Document, event_ids: list[str],
                     hint: str) -> None:
    """Drop `event_ids` (the oldest in the outbox, in order) from the outbox of `match`."""
    # Positions, not `outbox.id: {$all}`, which SecantusDB does not match.
    exactly = {f"outbox.{i}.id": event_id for i, event_id in enumerate(event_ids)}
    cleared = await collection.update_one(
        {**match, "outbox": {"$size": len(event_ids)}, **exactly},
        {"$set": {"outbox": []}, "$unset": {"outbox_since": ""}}, hint=hint)
    if cleared.matched_count:
        return
    await collection.update_one(match, {"$pull": {"outbox": {"id": {"$in": event_ids}}}},
                                hint=hint)
    await collection.update_one({**match, "outbox": {"$size": 0}},
                                {"$unset": {"outbox_since": ""}}, hint=hint)
