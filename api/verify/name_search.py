"""The name search (`q`: the name contains it, in any case) at the speed of C loops.

An exact `total` means testing every name of the filtered clients on every search. The
database's test is `{"$regex": re.escape(q), "$options": "i"}` (`api.views.queries`); a
case-insensitive regular expression per name, or even over all names joined, costs tens
of milliseconds for 100 000 names. So each group of clients keeps its names folded
(`fold`), one a line of one text, made again only on the first search after the group
changed. An ASCII `q` (what people type to find a client) is then a plain substring
search: the lines it occurs in are found with `str.find`, one C scan of the text in all
(about a millisecond for 100 000 names); when it occurs often, each folded name is
tested by `map` without a Python loop.

`fold` is exact for an ASCII `q`: Python's case-insensitive matching pairs an ASCII
letter with its other case and with four other characters only (U+0130 and U+0131 → i,
U+212A → k, U+017F → s;
`tests/unit/test_client_entries.py` checks every code point), which `fold` maps to it.
A `q` with other characters is tested with the database's own expression, name by name.
"""

from __future__ import annotations

import operator
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate, compress, repeat
from typing import Final

from api.verify.client_entries import ClientEntry

_LINE: Final = "\n"
# Up to this many occurrences a search finds them in the joined text one by one.
_FEW: Final = 2000
# The characters beyond ASCII that a case-insensitive ASCII letter matches.
_TO_ASCII: Final = str.maketrans({"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"})


def contains(q: str) -> re.Pattern[str]:
    """The test of one name, as the database makes it."""
    return re.compile(re.escape(q), re.IGNORECASE)


def fold(name: str) -> str:
    """The name in lower case, with the characters an ASCII letter matches made it."""
    return name.lower() if name.isascii() else name.translate(_TO_ASCII).lower()


class FoldedNames:
    """The names of one group of clients, folded; stale once the group changes."""

    __slots__ = ("_entries", "_folded", "_names", "_starts", "_text")

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """The group changed: the names are folded again at the next search."""
        self._entries: list[ClientEntry] | None = None
        self._names: list[str] = []
        self._folded: list[str] = []
        self._text = ""  # the folded names, one a line
        self._starts = array("q")  # where each line of the text starts

    def _made(self, group: Iterable[ClientEntry]) -> list[ClientEntry]:
        if self._entries is None:
            self._entries = list(group)
            self._names = [entry.name for entry in self._entries]
            self._folded = [fold(name) for name in self._names]
            self._text = _LINE.join(self._folded)
            self._starts = array("q", accumulate((len(n) + 1 for n in self._folded[:-1]),
                                                 initial=0))
        return self._entries

    def search(self, q: str, group: Iterable[ClientEntry]) -> tuple[int, list[ClientEntry] | None]:
        """How many names of the group contain `q`, and which (in the group's order) when
        that is cheap to tell: None when `q` occurs often (see `matching`)."""
        entries = self._made(group)
        if not q.isascii():
            tested = list(compress(entries, map(contains(q).search, self._names)))
            return len(tested), tested
        folded = q.lower()
        if _LINE in folded:
            return 0, []  # no name holds a line break
        # A C scan of the text finds few occurrences one by one (a line with two counts
        # once); past _FEW of them each name is tested instead, and the order walked.
        found: list[ClientEntry] = []
        text, starts, lines = self._text, self._starts, len(self._starts)
        at = text.find(folded)
        while at >= 0:
            if len(found) >= _FEW:
                return sum(map(operator.contains, self._folded, repeat(folded))), None
            line = bisect_right(starts, at) - 1
            found.append(entries[line])
            if line + 1 >= lines:
                break
            at = text.find(folded, starts[line + 1])
        return len(found), found

    def matching(self, q: str, group: Iterable[ClientEntry]) -> list[ClientEntry]:
        """The entries whose name contains `q`, in the group's order."""
        _count, found = self.search(q, group)
        if found is None:
            found = list(compress(self._made(group), map(operator.contains, self._folded,
                                                         repeat(q.lower()))))
        return found
