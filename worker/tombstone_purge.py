"""Tombstones of removed clients are deleted once they are a week old, by each worker.

A removed client stays as a tombstone (`removed_at`, no secret) so that a late
redelivery of a command that touched it is still recognised (worker.repository).
A TTL index on `removed_at` used to delete them. MongoDB's TTL monitor walks that
index; SecantusDB's, which the tests, `make run` and the benchmark use, reads
and decodes every document of a collection with a TTL index once a minute while
it holds its storage lock: at 100,000 clients, every request to the database
waited 1.3 s once a minute (measured with a `find_one` every 10 ms, idle and
under load). So the clients collection has no TTL index: a sparse index on
`removed_at` (only tombstones carry the field) serves one `delete_many` an hour,
an index range on either server whatever the number of clients.

Several workers may purge at once: a delete is idempotent. Stopping cancels the
loop (worker.every).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final, Protocol

from common.store import TOMBSTONE_TTL_S, now
from worker.every import run_every

log = logging.getLogger(__name__)

PURGE_EVERY_S: Final = 3600.0
TOMBSTONE_KEPT: Final = timedelta(seconds=TOMBSTONE_TTL_S)


class Tombstones(Protocol):
    async def purge_tombstones(self, removed_before: datetime) -> int:
        """Delete the tombstones of clients removed before `removed_before`; how many."""


class TombstonePurge:
    def __init__(self, store: Tombstones, every_s: float = PURGE_EVERY_S) -> None:
        self._store, self._every_s = store, every_s

    async def purge(self) -> int:
        purged = await self._store.purge_tombstones(now() - TOMBSTONE_KEPT)
        if purged:
            log.info("deleted %d tombstone(s) of clients removed over %d days ago",
                     purged, TOMBSTONE_KEPT.days)
        return purged

    async def run(self) -> None:
        await run_every(self._every_s, self.purge, "tombstone purge", log)
