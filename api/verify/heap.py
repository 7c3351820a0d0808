"""Keeping the read model out of the cyclic garbage collector's way.

CPython's cyclic collector walks every container object it tracks, and a full
collection walks them all while nothing else runs. A gateway's read model is most
of its heap (several tracked objects per client: the entry, its tuple of values, its
places in the orders), so at 100 000 clients one full collection stops every request
for over half a second (144 ms at 20 000 clients, timed with `gc.callbacks` under
`python -m bench.reads`). CPython runs one whenever the objects that survived young
collections since the last one reach a quarter of those that survived it; under load
the requests in flight at each young collection are such survivors, so that came every
few tens of thousands of requests, and it set the p99 of every read.

Nothing in the model needs that walk: its entries are immutable and hold no cycles,
so reference counting frees a replaced one at once. Once a load or a reconciliation
has settled, `gc.freeze()` moves every object then alive into the permanent
generation, which collections skip; they then walk only what changed since. A
collection runs just before, so no garbage of that moment is frozen with it (a cycle
among frozen objects would never be freed). That costs one full walk, done again only
when the entries made since the last freeze reach a quarter of the model, as often as
CPython would have walked them all anyway.

It changes the whole process, so only the process that runs a gateway alone
(`clientkeys gateway`) uses it; tests and dev mode, which share a process with other
apps, do not.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

# As CPython's own rule for a full collection: a quarter more since the last one.
_REFREEZE_SHARE = 0.25


class FrozenHeap:
    def __init__(self) -> None:
        self._frozen = False

    def settled(self, held: int, made_since: int) -> bool:
        """After a load or a reconciliation: `held` entries, `made_since` of them made
        since the last call that froze. Whether it froze the heap now."""
        if self._frozen and made_since < held * _REFREEZE_SHARE:
            return False
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        self._frozen = True
        log.info("heap frozen", extra={"clients": held, "frozen_objects": gc.get_freeze_count(),
                                       "duration_ms": round((time.perf_counter() - started)
                                                            * 1000, 1)})
        return True
