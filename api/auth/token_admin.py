"""Keeping the tokens file: create, list and revoke static API tokens.

`clientkeys tokens create` prints a new token once and stores only its SHA-256
hash; `list` shows entries by id (the first 12 hex digits of that hash, which
reveal nothing usable about the token); `revoke` removes them. Every change
goes through `common.private_files`: under a lock, replacing the file whole, so
two administrators at once lose nothing and a running gateway never reads a
half-written file (it re-reads the file when it changes).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.auth.principals import PERMISSIONS
from api.auth.tokens import TokensFileError, parse_tokens, token_digest, token_id
from common.private_files import locked, replace_privately

# A recognisable prefix lets secret scanners find a leaked token.
TOKEN_PREFIX = "ck_"
TOKEN_BYTES = 32
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@:/+-]{0,127}$")

Entries = list[dict[str, Any]]


@dataclass(frozen=True)
class TokenEntry:
    id: str
    subject: str
    permissions: tuple[str, ...]
    created_at: str | None


def entry_id(digest: str) -> str:
    return token_id(digest)


def _read(path: Path) -> Entries:
    if not path.exists():
        return []
    text = path.read_text()
    parse_tokens(text, str(path))  # refuse to build on a file the gateway would refuse
    entries: Entries = json.loads(text)
    return entries


def _change(path: Path, change: Callable[[Entries], Entries]) -> None:
    with locked(path):
        replace_privately(path, json.dumps(change(_read(path)), indent=2) + "\n")


def create_token(path: Path, subject: str, permissions: list[str]) -> tuple[str, TokenEntry]:
    """Append a new token's hash; returns the token (shown once) and its entry."""
    if not _SUBJECT.fullmatch(subject):
        raise TokensFileError("the subject must be 1-128 letters, digits, spaces or ._@:/+- "
                              "and start with a letter or digit")
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown or not permissions:
        raise TokensFileError(f"give one or more permissions of {', '.join(PERMISSIONS)}"
                              + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    digest = token_digest(token)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    chosen = sorted(set(permissions), key=PERMISSIONS.index)
    _change(path, lambda entries: [*entries, {"subject": subject, "sha256": digest,
                                              "permissions": chosen, "created_at": created}])
    return token, TokenEntry(entry_id(digest), subject, tuple(chosen), created)


def list_tokens(path: Path) -> list[TokenEntry]:
    return [TokenEntry(entry_id(e["sha256"]), e["subject"], tuple(e["permissions"]),
                       e.get("created_at")) for e in _read(path)]


def revoke_tokens(path: Path, *, ids: Sequence[str] = (), subject: str | None = None
                  ) -> list[TokenEntry]:
    """Remove the entries with these ids, or all of one subject; returns what was removed."""
    removed: list[TokenEntry] = []

    def without(entries: Entries) -> Entries:
        kept: Entries = []
        for entry in entries:
            if entry_id(entry["sha256"]) in ids or entry["subject"] == subject:
                removed.append(TokenEntry(entry_id(entry["sha256"]), entry["subject"],
                                          tuple(entry["permissions"]), entry.get("created_at")))
            else:
                kept.append(entry)
        return kept

    _change(path, without)
    return removed
