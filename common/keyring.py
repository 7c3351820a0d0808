"""Client secrets at rest and on the wire: AES-256-GCM under a keyring.

The keyring is `CLIENTKEYS_ENCRYPTION_KEYS` (or the file `common.keyring_file`
reads): `key_id:base64url(32 bytes)` entries. The first key encrypts, every key
decrypts, so a new key can be put first and the old ones kept until everything
has been re-encrypted (`worker.rekey`).

The gateway encrypts a secret before the command leaves it, so the broker
never carries a plaintext secret. Every sealed value is bound to where it
belongs by its AES-GCM associated data (the builders below): a client secret to
its client key and slot, a secret in a command to that command, a remembered
response to its record. A sealed value copied anywhere else does not open. The
worker therefore opens a command's secret and seals it again for the client it
stores it in.

Values sealed before this binding (absent `v` in their document) were all
sealed with one constant; they still open with it until `clientkeys keys rotate
--reencrypt-only` (worker.rekey) has sealed them again in the bound form.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
# What every value was sealed with before values were bound to their place: it
# still opens those (`bound` False) until they are sealed again.
LEGACY_AAD = b"clientkeys/client-secret/v1"
# The format marker (`v`) of a value sealed with associated data naming its place.
BOUND_FORMAT = 2
_MAC_LABEL = b"clientkeys/fingerprint/v1"
_COMMAND_MAC_LABEL = b"clientkeys/command-mac/v1"
GENERATED_SECRET_BYTES = 32


class KeyringError(ValueError):
    """A keyring setting that cannot be used; the message never holds key material."""


class SecretSlot(StrEnum):
    """Where a client's secret is kept: its current one, or one still inside its grace.

    Previous secrets share one slot name: their order and deadlines change
    (`end_secret_grace`, the next rotation) without the value being sealed again.
    """

    CURRENT = "current"
    PREVIOUS = "previous"


# The key last: slot names hold no NUL, so no two (key, slot) pairs give one value.
# Made once per slot: every credential check builds one per secret it compares.
_SLOT_PREFIXES = {slot: b"clientkeys/client-secret/v2\0" + slot.value.encode() + b"\0"
                  for slot in SecretSlot}


def client_secret_aad(client_key: str, slot: SecretSlot) -> bytes:
    """Associated data of a client's stored secret: its client key and its slot."""
    return _SLOT_PREFIXES[slot] + client_key.encode()


def command_secret_aad(command_id: str, kind: str) -> bytes:
    """Associated data of a secret travelling in a command: that command's kind and id.

    The gateway does not know a new client's key yet (the worker makes it).
    """
    return b"clientkeys/command-secret/v2\0" + kind.encode() + b"\0" + command_id.encode()


def idempotent_response_aad(record_id: str) -> bytes:
    """Associated data of a remembered response body: its Idempotency-Key record's id."""
    return b"clientkeys/idempotent-response/v2\0" + record_id.encode()


# Slots: each gateway holds one per client in its read model (100 000 and more).
@dataclass(frozen=True, slots=True)
class SealedSecret:
    key_id: str
    nonce: bytes
    ciphertext: bytes
    # Sealed with associated data naming its place (`v` 2); False: with LEGACY_AAD.
    bound: bool = True

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"kid": self.key_id, "nonce": self.nonce,
                                    "ct": self.ciphertext}
        if self.bound:
            document["v"] = BOUND_FORMAT
        return document

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> SealedSecret:
        # A handful of key ids for every secret there is: one string each.
        return cls(sys.intern(str(doc["kid"])), bytes(doc["nonce"]), bytes(doc["ct"]),
                   doc.get("v") == BOUND_FORMAT)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "kid": self.key_id,
            "nonce": _b64encode(self.nonce),
            "ct": _b64encode(self.ciphertext),
        }
        if self.bound:
            wire["v"] = BOUND_FORMAT
        return wire

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> SealedSecret:
        return cls(doc["kid"], _b64decode(doc["nonce"]), _b64decode(doc["ct"]),
                   doc.get("v") == BOUND_FORMAT)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SecretKeyring(Protocol):
    """What a process holds: a fixed `Keyring`, or one that follows a file."""

    @property
    def current_key_id(self) -> str: ...

    def seal(self, plaintext: str, aad: bytes) -> SealedSecret: ...

    def open(self, sealed: SealedSecret, aad: bytes) -> str: ...

    def fingerprint(self, data: bytes, key_id: str | None = None) -> tuple[str, str]: ...

    def command_mac(self, data: bytes, key_id: str | None = None) -> tuple[str, bytes]: ...


class Keyring:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyringError("the keyring is empty")
        self._current_id = keys[0][0]
        self._key_ids = tuple(key_id for key_id, _ in keys)
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        # Separate keys for fingerprints, derived so that no key serves two purposes.
        self._mac_keys = {key_id: hmac.digest(key, _MAC_LABEL, "sha256") for key_id, key in keys}
        # And for authenticating commands on the broker (common.command_mac).
        self._command_keys = {key_id: hmac.digest(key, _COMMAND_MAC_LABEL, "sha256")
                              for key_id, key in keys}

    @property
    def current_key_id(self) -> str:
        return self._current_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, the current one first."""
        return self._key_ids

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Parse `id:base64url,id:base64url`; errors name the entry, never the key."""
        return cls.from_entries(
            (f"entry {position}", entry.strip())
            for position, entry in enumerate(text.split(","), start=1))

    @classmethod
    def from_entries(cls, entries: Iterable[tuple[str, str]]) -> Keyring:
        """Keys from `(where, "id:base64url")` pairs; blank entries are skipped."""
        keys: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        for where, entry in entries:
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            if not sep or not key_id or not encoded:
                raise KeyringError(f"{where} is not of the form key_id:base64url-key")
            if key_id in seen:
                raise KeyringError(f"key id {key_id!r} appears twice")
            try:
                key = _b64decode(encoded)
            except (binascii.Error, ValueError):
                raise KeyringError(f"key {key_id!r} is not valid base64url") from None
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
            seen.add(key_id)
            keys.append((key_id, key))
        return cls(keys)

    def seal(self, plaintext: str, aad: bytes) -> SealedSecret:
        """`plaintext` under the current key, bound to `aad` (one of the builders above)."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._keys[self._current_id].encrypt(nonce, plaintext.encode(), aad)
        return SealedSecret(self._current_id, nonce, ciphertext)

    def fingerprint(self, data: bytes, key_id: str | None = None) -> tuple[str, str]:
        """(key id, keyed hash of `data`): recognises data again without storing it.

        Keyed, so a fingerprint of a request that held a secret cannot be brute-forced.
        """
        key_id = key_id or self._current_id
        try:
            mac_key = self._mac_keys[key_id]
        except KeyError:
            raise KeyringError(f"no key with id {key_id!r} in the keyring") from None
        return key_id, hmac.new(mac_key, data, "sha256").hexdigest()

    def command_mac(self, data: bytes, key_id: str | None = None) -> tuple[str, bytes]:
        """(key id, HMAC-SHA256 of `data` under that entry's command key).

        The current key signs; any key still in the keyring verifies, so a key
        removed from it no longer vouches for anything.
        """
        key_id = key_id or self._current_id
        try:
            command_key = self._command_keys[key_id]
        except KeyError:
            raise KeyringError(f"no key with id {key_id!r} in the keyring") from None
        return key_id, hmac.digest(command_key, data, "sha256")

    def open(self, sealed: SealedSecret, aad: bytes) -> str:
        """The plaintext, if `sealed` was sealed for `aad`; InvalidTag if not.

        A legacy value opens with LEGACY_AAD whatever `aad` says: that is what it
        was sealed with. Marking a bound value legacy gains nothing, since it was
        not sealed with LEGACY_AAD and so does not open with it.
        """
        try:
            aead = self._keys[sealed.key_id]
        except KeyError:
            raise KeyringError(f"no key with id {sealed.key_id!r} in the keyring") from None
        bound_to = aad if sealed.bound else LEGACY_AAD
        return aead.decrypt(sealed.nonce, sealed.ciphertext, bound_to).decode()


def new_key_entry(key_id: str) -> str:
    """A fresh keyring entry, for dev mode and for operators adding a key."""
    return f"{key_id}:{_b64encode(os.urandom(KEY_BYTES))}"


def generate_secret() -> str:
    """A client secret with 256 random bits, URL-safe."""
    return secrets.token_urlsafe(GENERATED_SECRET_BYTES)
