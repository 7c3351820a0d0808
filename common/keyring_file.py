"""The keyring as a file (`CLIENTKEYS_ENCRYPTION_KEYS_FILE`), followed while processes run.

One `key_id:base64url-key` entry a line (blank lines and `#` comments are
allowed); the first entry encrypts, all decrypt. A running gateway notices a
change within about a second (it looks at the file at most once a second, not
on every request), so `clientkeys keys rotate` can put a new key first with no
restart. A broken file is not taken: the last good keyring stays in use and the
problem is logged once per change. A sealed value under a key id this process
does not know yet makes it look at the file at once, so a value sealed by a
process that reloaded sooner can always be opened.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from common.keyring import Keyring, KeyringError, SealedSecret, new_key_entry
from common.private_files import locked, replace_privately

log = logging.getLogger(__name__)

# How often, at most, a process looks at the file for a change.
CHECK_INTERVAL_S = 1.0

_Signature = tuple[int, int, int, int]


def parse_keyring_file(text: str, source: str) -> Keyring:
    entries = ((f"line {number}", line.strip())
               for number, line in enumerate(text.splitlines(), start=1)
               if not line.lstrip().startswith("#"))
    try:
        return Keyring.from_entries(entries)
    except KeyringError as exc:
        raise KeyringError(f"{source}: {exc}") from None


def read_keyring_file(path: Path) -> Keyring:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyringError(f"cannot read keyring file {path}: {exc.strerror}") from None
    return parse_keyring_file(text, str(path))


def add_primary_key(path: Path, key_id: str) -> Keyring:
    """Put a new key with `key_id` first in the file; the keyring it now holds.

    The rest of the file is kept as it is; the change is made under the file's
    lock and lands in one replace, mode 0600.
    """
    if not key_id or any(c in key_id for c in ":,#") or key_id != key_id.strip():
        raise KeyringError("a key id must be non-empty, without ':', ',', '#' or outer spaces")
    with locked(path):
        text = path.read_text() if path.exists() else ""
        before = parse_keyring_file(text, str(path)) if text.strip() else None
        if before is not None and before.knows(key_id):
            raise KeyringError(f"key id {key_id!r} is already in {path}")
        updated = new_key_entry(key_id) + "\n" + text
        keyring = parse_keyring_file(updated, str(path))
        replace_privately(path, updated)
    return keyring


def _signature(path: Path) -> _Signature:
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_ino, stat.st_size, stat.st_dev


class FileKeyring:
    """A keyring that follows its file; a `SecretKeyring` like a fixed `Keyring`."""

    def __init__(self, path: Path, *, check_interval_s: float = CHECK_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._interval = check_interval_s
        self._clock = clock
        self._signature = _signature(path) if path.exists() else None
        self._keyring = read_keyring_file(path)
        self._checked_at = clock()

    def current(self) -> Keyring:
        """The keyring in force, after looking at the file if a second has passed."""
        if self._clock() - self._checked_at >= self._interval:
            self._reload_if_changed()
        return self._keyring

    def _reload_if_changed(self) -> None:
        self._checked_at = self._clock()
        try:
            signature = _signature(self._path)
        except OSError as exc:
            if self._signature is not None:
                self._signature = None
                log.error("keyring file %s not readable (%s); still using the previous keys",
                          self._path, exc.strerror)
            return
        if signature == self._signature:
            return
        self._signature = signature
        try:
            keyring = read_keyring_file(self._path)
        except KeyringError as exc:
            # Keep the last good keys (the file may be half-edited by hand), but
            # say so once per change: a new key in a broken file is not in use.
            log.error("keyring file not reloaded, still using the previous keys: %s", exc)
            return
        if keyring.current_key_id != self._keyring.current_key_id:
            log.info("keyring reloaded; new secrets are sealed under key %r",
                     keyring.current_key_id)
        self._keyring = keyring

    def _knowing(self, key_id: str) -> Keyring:
        keyring = self.current()
        if not keyring.knows(key_id):
            self._reload_if_changed()
            keyring = self._keyring
        return keyring

    @property
    def current_key_id(self) -> str:
        return self.current().current_key_id

    def seal(self, plaintext: str, aad: bytes) -> SealedSecret:
        return self.current().seal(plaintext, aad)

    def open(self, sealed: SealedSecret, aad: bytes) -> str:
        return self._knowing(sealed.key_id).open(sealed, aad)

    def fingerprint(self, data: bytes, key_id: str | None = None) -> tuple[str, str]:
        keyring = self.current() if key_id is None else self._knowing(key_id)
        return keyring.fingerprint(data, key_id)

    def command_mac(self, data: bytes, key_id: str | None = None) -> tuple[str, bytes]:
        keyring = self.current() if key_id is None else self._knowing(key_id)
        return keyring.command_mac(data, key_id)
