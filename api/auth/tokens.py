"""Who is calling: static API tokens and what each may do.

The tokens file (`CLIENTKEYS_TOKENS_FILE`) is a JSON list of
`{"subject", "sha256", "permissions", "created_at"?}` and holds only hashes
(`clientkeys tokens create|list|revoke` keep it; see `api.auth.token_admin`).

A presented token is hashed first and the digest compared with every entry by
`hmac.compare_digest`, so neither how much of a guess matches nor where its
entry sits in the file shows in the time an answer takes. The file is re-read
when it changes on disk, so a revocation needs no restart: a token not known is
looked for in the file as it is now (a token just added works at once), and a known
one is checked against the file at most every `RECHECK_S` (a revocation holds within
that). A stat on every request was 9 % of the gateway's CPU serving one client by
key (py-spy), more than building the answer's dates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from api.auth.principals import PERMISSIONS, Principal

log = logging.getLogger(__name__)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# A token's id: the first hex digits of its hash (what `clientkeys tokens list` shows).
ID_LENGTH = 12
# How long a known token is taken without looking at the file again: how late a
# revocation can be. Ten stats a second cost nothing.
RECHECK_S = 0.1


class TokensFileError(ValueError):
    """The tokens file cannot be used; the message names the entry, never a hash."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(digest: str) -> str:
    return digest[:ID_LENGTH]


def parse_tokens(text: str, source: str) -> dict[str, Principal]:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokensFileError(f"{source} is not JSON (line {exc.lineno})") from None
    if not isinstance(entries, list):
        raise TokensFileError(f"{source} must hold a JSON list of tokens")
    principals: dict[str, Principal] = {}
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise TokensFileError(f"{source}: entry {position} is not an object")
        subject, digest, permissions = (entry.get("subject"), entry.get("sha256"),
                                        entry.get("permissions"))
        if not isinstance(subject, str) or not subject:
            raise TokensFileError(f"{source}: entry {position} has no subject")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise TokensFileError(
                f"{source}: entry {position} ({subject}) needs sha256, 64 lower-case hex digits")
        if not isinstance(permissions, list) or not all(p in PERMISSIONS for p in permissions):
            raise TokensFileError(
                f"{source}: entry {position} ({subject}) has permissions other than "
                f"{', '.join(PERMISSIONS)}")
        principals[digest] = Principal(subject, frozenset(permissions),
                                       identity=f"token:{token_id(digest)}")
    return principals


class TokenStore:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._where = os.fspath(path)  # stat'ed often: no Path conversion then
        self._clock = clock
        self._checked = clock()
        self._mtime: float | None = None
        self._principals: list[tuple[str, Principal]] = []
        self.reload()

    def reload(self) -> None:
        try:
            stat = os.stat(self._path)
            text = self._path.read_text()
        except OSError as exc:
            raise TokensFileError(f"cannot read tokens file {self._path}: {exc.strerror}"
                                  ) from None
        self._principals = list(parse_tokens(text, str(self._path)).items())
        self._mtime = stat.st_mtime

    def _refresh(self) -> None:
        self._checked = self._clock()
        try:
            mtime = os.stat(self._where).st_mtime
        except OSError:
            return  # keep serving the tokens we have; the file may be mid-replace
        if mtime == self._mtime:
            return
        try:
            self.reload()
        except TokensFileError as exc:
            # Keep the last good tokens (the file may be half-written), but say so
            # once per change: a revocation in a broken file has not taken effect.
            self._mtime = mtime
            log.error("tokens file not reloaded, still using the previous tokens: %s", exc)

    def authenticate(self, token: str) -> Principal | None:
        digest = token_digest(token).encode()
        looked = self._clock() - self._checked >= RECHECK_S
        if looked:
            self._refresh()
        found = self._find(digest)
        if found is None and not looked:  # perhaps added since the last look: look now
            self._refresh()
            found = self._find(digest)
        return found

    def _find(self, digest: bytes) -> Principal | None:
        found: Principal | None = None
        for known, principal in self._principals:
            if hmac.compare_digest(known.encode(), digest):
                found = principal
        return found
