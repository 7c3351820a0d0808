"""Which characters text shown to people may hold: a client's name and its redirect URIs.

Both end up in the admin page, in logs and in other services' screens. Control
characters break lines and terminals; bidirectional controls reorder what
follows them, so that a name or a URI reads as another one ("Trojan Source",
CVE-2021-42574); and text made only of invisible characters looks empty or
like another entry. `common.clients` and `common.redirect_uris` refuse them
with these definitions, so both use the same ones.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
BIDI_CONTROLS = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
# Characters that show nothing by themselves: format characters (zero-width
# space, joiners, soft hyphen, bidi marks, byte order mark) and spaces of any width.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs"})
# The line and paragraph separators, U+2028 and U+2029.
SEPARATOR_CATEGORIES = frozenset({"Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def has_bidi_controls(value: str) -> bool:
    return any(ch in BIDI_CONTROLS for ch in value)


def has_separators(value: str) -> bool:
    return any(unicodedata.category(ch) in SEPARATOR_CATEGORIES for ch in value)


def is_invisible(value: str) -> bool:
    """True when nothing would be seen of `value` (also when it is empty)."""
    return all(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in value)
