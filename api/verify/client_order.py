"""The orders a client list can be read in, kept sorted as clients change, and its pages.

Clients are grouped by (type, status), the two filters; each group keeps its clients
sorted three ways (sortedcontainers' SortedKeyList: an insert or removal costs a few
microseconds, a range costs its length), each order ending on `_id` as the database's
does. A page is a lazy merge of the groups the filters select, from the cursor's place,
cut after `limit + 1` clients: no request sorts the clients, and a group's size is the
exact count of its clients. By status the order is the status's name (approved,
disapproved, pending), so the groups of one status follow those of the other, each by `_id`.
A search (`q`) tests every name of the selected groups once (`api.verify.name_search`),
which gives its exact total; few matches are sorted, many are found by walking the order.

Every order and bound here is the database's (`api.views.queries`): the comparison test
(`tests/integration/test_memory_reads.py`) asks both the same questions.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final

from sortedcontainers import SortedKeyList

from api.verify.client_entries import ClientEntry
from api.verify.name_search import FoldedNames, contains

# Below this many matches a search sorts them; above, it walks the order and tests
# each name, reaching `limit + 1` matches after about limit * group / matches names
# when they are spread out. When they are not (the matches all at the far end of the
# order), the walk gives up after _WALK_BUDGET names and the matches are sorted after all.
_FEW_MATCHES: Final = 2000
_WALK_BUDGET: Final = 5000

SortKey = tuple[Any, int]


def _by_created(entry: ClientEntry) -> SortKey:
    return entry.created_ms, entry.oid


def _by_name(entry: ClientEntry) -> SortKey:
    return entry.name_sort, entry.oid


def _by_id(entry: ClientEntry) -> int:
    return entry.oid


def _by_status(entry: ClientEntry) -> SortKey:
    return entry.status, entry.oid


SORT_KEYS: Final[dict[str, Callable[[ClientEntry], SortKey]]] = {
    "created_at": _by_created, "name": _by_name, "status": _by_status}


class _Group:
    """The clients of one (type, status), in each order."""

    __slots__ = ("by_created", "by_id", "by_name", "names")

    def __init__(self) -> None:
        self.by_created = SortedKeyList(key=_by_created)
        self.by_name = SortedKeyList(key=_by_name)
        self.by_id = SortedKeyList(key=_by_id)
        self.names = FoldedNames()

    def add(self, entry: ClientEntry) -> None:
        for order in (self.by_created, self.by_name, self.by_id):
            order.add(entry)
        self.names.forget()

    def remove(self, entry: ClientEntry) -> None:
        for order in (self.by_created, self.by_name, self.by_id):
            order.remove(entry)
        self.names.forget()

    def __len__(self) -> int:
        return len(self.by_id)


@dataclass(frozen=True)
class Window:
    """What a page asks for: filters, order, where the previous page ended, how many."""

    type: str | None
    status: str | None
    q: str | None
    sort: str  # a field of SORT_KEYS, "-" first for descending
    limit: int
    after: SortKey | None = None  # the last (sort value, oid) of the previous page


def _range(order: Any, after: Any, descending: bool) -> Iterator[ClientEntry]:
    """The entries of a SortedKeyList past `after` (a key), in the page's direction."""
    if after is None:
        found: Iterator[ClientEntry] = order.irange_key(reverse=descending)
    elif descending:
        found = order.irange_key(max_key=after, inclusive=(True, False), reverse=True)
    else:
        found = order.irange_key(min_key=after, inclusive=(False, True))
    return found


class ClientOrder:
    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], _Group] = {}

    def add(self, entry: ClientEntry) -> None:
        group = self._groups.get((entry.type, entry.status))
        if group is None:
            group = self._groups[entry.type, entry.status] = _Group()
        group.add(entry)

    def remove(self, entry: ClientEntry) -> None:
        self._groups[entry.type, entry.status].remove(entry)

    def counts(self) -> dict[tuple[str, str], int]:
        return {kind: len(group) for kind, group in self._groups.items() if len(group)}

    def oldest_created_ms(self, status: str) -> int | None:
        """The earliest creation among the clients of `status` (each group's first)."""
        firsts = [group.by_created[0].created_ms for (_kind, of), group in self._groups.items()
                  if of == status and len(group)]
        return min(firsts, default=None)

    def _selected(self, window: Window) -> list[tuple[str, _Group]]:
        """(status, group) of each group the filters select."""
        return [(status, group) for (kind, status), group in self._groups.items()
                if window.type in (None, kind) and window.status in (None, status)]

    def page(self, window: Window) -> tuple[list[ClientEntry], int]:
        """`limit + 1` entries at most (one more tells that more follow), and the total."""
        groups = self._selected(window)
        if window.q is None:
            total = sum(len(group) for _status, group in groups)
            found = self._ordered(groups, window)
        else:
            searched = [group.names.search(window.q, group.by_id) for _s, group in groups]
            total = sum(count for count, _found in searched)
            walked = self._walk(groups, window) if total > _FEW_MATCHES else None
            if walked is not None:
                found = iter(walked)
            else:
                matches = [entry for (_s, group), (_count, few) in zip(groups, searched,
                                                                     strict=True)
                           for entry in (few if few is not None
                                         else group.names.matching(window.q, group.by_id))]
                found = self._sorted(matches, window)
        return list(islice(found, window.limit + 1)), total

    def _walk(self, groups: list[tuple[str, _Group]], window: Window
              ) -> list[ClientEntry] | None:
        """The page's matches in order by testing each name; None past the budget."""
        assert window.q is not None
        test, found = contains(window.q), []
        for steps, entry in enumerate(self._ordered(groups, window)):
            if steps >= _WALK_BUDGET:
                return None
            if test.search(entry.name):
                found.append(entry)
                if len(found) > window.limit:
                    break
        return found

    def _ordered(self, groups: list[tuple[str, _Group]], window: Window
                 ) -> Iterator[ClientEntry]:
        field, descending = window.sort.lstrip("-"), window.sort.startswith("-")
        after = window.after
        if field != "status":
            key = SORT_KEYS[field]
            orders = [group.by_created if field == "created_at" else group.by_name
                      for _status, group in groups]
            yield from heapq.merge(*(_range(order, after, descending) for order in orders),
                                   key=key, reverse=descending)
            return
        for status in sorted({status for status, _group in groups}, reverse=descending):
            bound = None
            if after is not None:
                if (status > after[0]) if descending else (status < after[0]):
                    continue
                bound = after[1] if status == after[0] else None
            yield from heapq.merge(*(_range(group.by_id, bound, descending)
                                     for s, group in groups if s == status),
                                   key=_by_id, reverse=descending)

    @staticmethod
    def _sorted(matches: list[ClientEntry], window: Window) -> Iterator[ClientEntry]:
        """The matches past the cursor, sorted: for a search that matches few names."""
        key = SORT_KEYS[window.sort.lstrip("-")]
        descending = window.sort.startswith("-")
        after = window.after
        if after is not None:
            matches = [e for e in matches if (key(e) < after if descending else key(e) > after)]
        matches.sort(key=key, reverse=descending)
        return iter(matches)
