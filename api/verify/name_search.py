"""The name search (`q`: the name contains it, in any case) at the speed of the regex engine.

An exact `total` means testing every name of the filtered clients on every search. A
Python loop over 100 000 names costs tens of milliseconds; one regular expression run
over all of them joined into one text, one name a line, costs a few. So each group of
clients keeps its names as such a text, made again only on the first search after the
group changed. Counting is one `findall` of a pattern that matches once per line whose
name contains `q`; a search that matches few names finds them by their offsets.

The pattern is `q` escaped, case-insensitive: the same test as the database's
`{"$regex": re.escape(q), "$options": "i"}` (`api.views.queries`). Names never hold a
line break (`common.clients` refuses control characters), so a line is a name.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from typing import Final

from api.verify.client_entries import ClientEntry

_LINE: Final = "\n"


def contains(q: str) -> re.Pattern[str]:
    """The test of one name, as the database makes it."""
    return re.compile(re.escape(q), re.IGNORECASE)


def _per_line(q: str) -> re.Pattern[str]:
    # Zero-width at the start of each line that contains q: one empty match per name.
    return re.compile(rf"(?m)^(?=[^\n]*?{re.escape(q)})", re.IGNORECASE)


class NameLines:
    """The names of one group of clients as one text; stale once the group changes."""

    __slots__ = ("_entries", "_starts", "_text")

    def __init__(self) -> None:
        self._text: str | None = None
        self._entries: list[ClientEntry] = []
        self._starts = array("q")

    def forget(self) -> None:
        """The group changed: the text is made again at the next search."""
        self._text = None
        self._entries = []
        self._starts = array("q")

    def _made(self, group: Iterable[ClientEntry]) -> str:
        if self._text is None:
            self._entries = list(group)
            names = [entry.name for entry in self._entries]
            self._text = _LINE.join(names)
            # Where each line starts: after the names before it and their line breaks.
            self._starts = array("q", accumulate((len(n) + 1 for n in names[:-1]), initial=0))
        return self._text

    def count(self, q: str, group: Iterable[ClientEntry]) -> int:
        if _LINE in q:
            return 0
        return len(_per_line(q).findall(self._made(group)))

    def matching(self, q: str, group: Iterable[ClientEntry]) -> list[ClientEntry]:
        if _LINE in q:
            return []
        text = self._made(group)
        return [self._entries[bisect_right(self._starts, found.start()) - 1]
                for found in _per_line(q).finditer(text)]
