"""Authenticated messages: a gateway signs each command, a worker each event and reply.

The broker is not a trusted channel: anyone who may publish to the commands
exchange could otherwise set a client's secret or write any actor into the
audit trail; anyone who may publish events or replies could otherwise tell every
gateway's read model that a disapproved client is approved, which its credential
checks believe. So every such message carries an HMAC-SHA256 in its AMQP headers,
made with a command key derived from the encryption keyring (one per entry,
under its own label, see `common.keyring`). The current key signs; any key still
in the keyring verifies; a key removed from it ("retired") verifies nothing.

What is signed, each part length-prefixed so no two messages sign alike: the
scheme, the key id, the message id (a command's; an event or a reply carries its
id in its body), the address (a command's `reply_to`, where its outcome goes; an
event's routing key) and the body exactly as published. The scheme names the kind
of message (`SCHEME` for commands, `EVENT_SCHEME`, `REPLY_SCHEME`), so a MAC made
for one kind never vouches for another. The receiver checks this before it decodes
or applies anything, and compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from enum import Enum

from common.keyring import KeyringError, SecretKeyring

SCHEME = "hmac-sha256/v1"
EVENT_SCHEME = "hmac-sha256/event-v1"
REPLY_SCHEME = "hmac-sha256/reply-v1"
MAC_HEADER = "x-clientkeys-mac"
KEY_ID_HEADER = "x-clientkeys-mac-kid"
SCHEME_HEADER = "x-clientkeys-mac-scheme"
# The headers a command must keep wherever it travels (a replay from the dead-letter queue).
HEADERS = (MAC_HEADER, KEY_ID_HEADER, SCHEME_HEADER)
_MAC_BYTES = 32


class Rejection(Enum):
    """Why a command was refused; the `reason` label of the worker's metric."""

    MISSING = "missing"
    UNKNOWN_KEY = "unknown_key"
    BAD_MAC = "bad_mac"


def _signed_data(scheme: str, key_id: str, message_id: str, address: str | None,
                 body: bytes) -> bytes:
    parts = (scheme.encode(), key_id.encode(), message_id.encode(),
             (address or "").encode(), body)
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_message(keyring: SecretKeyring, body: bytes, *, message_id: str,
                 address: str | None, scheme: str) -> dict[str, str]:
    """The headers that let a receiver trust this message, under the current key."""
    key_id = keyring.current_key_id
    _, mac = keyring.command_mac(_signed_data(scheme, key_id, message_id, address, body),
                                 key_id)
    return {MAC_HEADER: _b64encode(mac), KEY_ID_HEADER: key_id, SCHEME_HEADER: scheme}


def sign_command(keyring: SecretKeyring, body: bytes, *, message_id: str,
                 reply_to: str | None) -> dict[str, str]:
    """The headers that let a worker trust this command, under the current key."""
    return sign_message(keyring, body, message_id=message_id, address=reply_to, scheme=SCHEME)


def _text(value: object) -> str | None:
    """A header value as text (the AMQP client may hand over str or bytes)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def _decoded_mac(text: str) -> bytes | None:
    if len(text) != 43:  # unpadded base64url of 32 bytes
        return None
    try:
        mac = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    return mac if len(mac) == _MAC_BYTES else None


def verify_message(keyring: SecretKeyring, body: bytes, *, message_id: str | None,
                   address: str | None, headers: Mapping[str, object], scheme: str
                   ) -> Rejection | None:
    """None if a key of the keyring vouches for exactly this message of the kind
    `scheme` names, else why not."""
    present = [headers.get(name) for name in HEADERS]
    if all(value is None for value in present):
        return Rejection.MISSING
    mac_text, key_id, claimed_scheme = (_text(value) for value in present)
    if mac_text is None or not key_id or claimed_scheme != scheme or message_id is None:
        return Rejection.BAD_MAC
    claimed = _decoded_mac(mac_text)
    if claimed is None:
        return Rejection.BAD_MAC
    try:
        _, expected = keyring.command_mac(
            _signed_data(scheme, key_id, message_id, address, body), key_id)
    except KeyringError:
        return Rejection.UNKNOWN_KEY
    return None if hmac.compare_digest(claimed, expected) else Rejection.BAD_MAC


def verify_command(keyring: SecretKeyring, body: bytes, *, message_id: str | None,
                   reply_to: str | None, headers: Mapping[str, object]) -> Rejection | None:
    """None if a key of the keyring vouches for exactly this command, else why not."""
    return verify_message(keyring, body, message_id=message_id, address=reply_to,
                          headers=headers, scheme=SCHEME)


def sign_event(keyring: SecretKeyring, routing_key: str, body: bytes) -> dict[str, str]:
    """The headers that let a gateway trust this event (its id is in its body)."""
    return sign_message(keyring, body, message_id="", address=routing_key, scheme=EVENT_SCHEME)


def verify_event(keyring: SecretKeyring, routing_key: str, body: bytes,
                 headers: Mapping[str, object]) -> Rejection | None:
    return verify_message(keyring, body, message_id="", address=routing_key, headers=headers,
                          scheme=EVENT_SCHEME)


def sign_reply(keyring: SecretKeyring, body: bytes) -> dict[str, str]:
    """The headers that let a gateway trust this outcome reply (its id is in its body)."""
    return sign_message(keyring, body, message_id="", address=None, scheme=REPLY_SCHEME)


def verify_reply(keyring: SecretKeyring, body: bytes, headers: Mapping[str, object]
                 ) -> Rejection | None:
    return verify_message(keyring, body, message_id="", address=None, headers=headers,
                          scheme=REPLY_SCHEME)
