"""When each client secret last verified: noted by every gateway, written in batches.

An administrator ending a rotation's grace wants to know whether the previous
secret is still used; one whose secret expires wants to know whether it is used
at all. Every successful check notes its secret's use here, to the minute, in
memory; once a minute the gateway writes what changed in one `bulk_write`, one
`$max` update per client at most (never a write per check), and reads what the
other gateways wrote since its last look (an index on `updated_at`). So an
answer shows a use at most a minute or two late, and a gateway's notes lost in a
crash cost at most a minute of them.

A secret is named by its issue time (its current slot's `client_secret_issued_at`,
kept with it when a rotation makes it a previous one), or, for a previous secret
replaced before issue times were kept, by minus its end of grace. This module is
the `secret_usage` collection's one owner; its documents are
`{_id: <client key>, used: {<name>: <minute>}, updated_at: <when last written>}`.
A client's document is removed by the TTL index on `updated_at` once none of its
secrets verified for SECRET_USAGE_KEPT_DAYS (common.store), a removed client's among them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from api.verify.client_entries import ClientEntry, epoch_ms, from_epoch_ms
from common.store import SECRET_USAGE, Document, now

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
# How often the notes are written and the other gateways' read.
FLUSH_EVERY_S = 60.0
# How far back a look for the other gateways' writes reaches past the previous look: a
# write that started before it may land after it, and the gateways' clocks may differ.
_OVERLAP_MS = 2 * MINUTE_MS


class UsageDocument(TypedDict, total=False):
    _id: str
    used: dict[str, datetime]
    updated_at: datetime


def secret_name(issued_ms: int | None, ends_ms: int | None) -> int:
    """The name a secret's use is noted under (see the module)."""
    if issued_ms is not None:
        return issued_ms
    return -(ends_ms or 0)


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    return epoch_ms(value if isinstance(value, datetime) else datetime.fromisoformat(value))


class SecretUsage:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        # (client key, secret name) -> the minute of its last use, in epoch ms.
        self._last: dict[tuple[str, int], int] = {}
        self._unwritten: dict[str, dict[int, int]] = {}
        self._looked_at: int | None = None
        self._task: asyncio.Task[None] | None = None

    def note(self, entry: ClientEntry, place: int, at: datetime) -> None:
        """The secret at `place` in `entry.secrets` verified at `at`."""
        name = secret_name(*entry.secret_times(place))
        minute = epoch_ms(at) // MINUTE_MS * MINUTE_MS
        if self._last.get((entry.key, name), -1) >= minute:
            return  # noted this minute already: nothing new to write
        self._last[entry.key, name] = minute
        self._unwritten.setdefault(entry.key, {})[name] = minute

    def last_used(self, key: str, issued: Any, ends: Any = None) -> datetime | None:
        minute = self._last.get((key, secret_name(_ms(issued), _ms(ends))))
        return None if minute is None else from_epoch_ms(minute)

    def shown_in(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """A client's public view with when each of its secrets last verified."""
        key = view["key"]
        shown = dict(view)
        issued = view.get("client_secret_issued_at")
        used = None if issued is None else self.last_used(key, issued)
        shown["client_secret_last_used_at"] = None if used is None else used.isoformat()
        shown["previous_secrets"] = [
            {**previous, "last_used_at": _iso(self.last_used(
                key, previous.get("issued_at"), previous["expires_at"]))}
            for previous in view.get("previous_secrets") or ()]
        return shown

    async def write(self) -> int:
        """Write the notes taken since the last write: one update per client. On a
        database error they are kept for the next write."""
        unwritten, self._unwritten = self._unwritten, {}
        if not unwritten:
            return 0
        written = now()  # when, not the use's minute: a note kept through an outage is late
        updates = [UpdateOne({"_id": key}, {"$max": {
            **{f"used.{name}": from_epoch_ms(minute) for name, minute in names.items()},
            "updated_at": written}}, upsert=True)
            for key, names in unwritten.items()]
        try:
            await self._db[SECRET_USAGE].bulk_write(updates, ordered=False)
        except PyMongoError:
            for key, names in unwritten.items():
                kept = self._unwritten.setdefault(key, {})
                for name, minute in names.items():
                    kept[name] = max(kept.get(name, minute), minute)
            raise
        return len(updates)

    async def read(self) -> None:
        """What every gateway wrote since the last look (everything, the first time)."""
        started = epoch_ms(now())
        query: Document = {}
        if self._looked_at is not None:
            query = {"updated_at": {"$gte": from_epoch_ms(self._looked_at - _OVERLAP_MS)}}
        async for document in self._db[SECRET_USAGE].find(query):
            stored: UsageDocument = document  # type: ignore[assignment]
            for name, when in (stored.get("used") or {}).items():
                pair = (stored["_id"], int(name))
                minute = epoch_ms(when)
                if self._last.get(pair, -1) < minute:
                    self._last[pair] = minute
        self._looked_at = started

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            try:
                await self.write()
                await self.read()
            except PyMongoError as exc:
                log.warning("secret usage not written or read now: %s", type(exc).__name__)

    async def start(self) -> None:
        try:
            await self.read()
        except PyMongoError as exc:  # uses are shown once the database answers
            log.warning("secret usage not read at start: %s", type(exc).__name__)
        self._task = asyncio.create_task(self._run(), name="secret-usage")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop and write the last notes (bounded: a stopping gateway waits no
        longer for an absent database)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with asyncio.timeout(timeout_s):
                await self.write()
        except (TimeoutError, PyMongoError):
            log.warning("the last secret usage notes were not written")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
