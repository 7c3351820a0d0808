"""Sealing a client's secret for the place the worker stores it in.

A secret arrives in its command sealed for that command (`command_secret_aad`):
the gateway cannot bind it to a new client's key, which only the worker makes.
The worker opens it and seals it again for the client key and slot it is
stored in, so a stored secret copied to another client, or from one slot to
the other, no longer opens (common.keyring). A rotation moves the current
secret to the previous slot, so it is sealed again for that slot. Values sealed
the legacy way (before this binding) open with the legacy constant and are
stored bound from then on. The plaintext only passes through here: it is
never logged, stored or emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag

from common.commands import CreateClient, RotateSecret, UpdateClient
from common.keyring import (
    KeyringError,
    SealedSecret,
    SecretKeyring,
    SecretSlot,
    client_secret_aad,
    command_secret_aad,
)
from common.store import Document

log = logging.getLogger(__name__)


class NotSealedForThisCommand(ValueError):
    """The command's secret was sealed for another command (or altered): it is refused."""


def _resealed(keyring: SecretKeyring, sealed: SealedSecret, was: bytes, becomes: bytes
              ) -> Document:
    return keyring.seal(keyring.open(sealed, was), becomes).to_document()


def secret_to_store(keyring: SecretKeyring, command: CreateClient | UpdateClient | RotateSecret,
                    client_key: str) -> Document:
    """The command's secret, sealed for `client_key`'s current slot.

    Raises NotSealedForThisCommand when it does not open for this command; a
    KeyringError (its key is not in the keyring) is left to the consumer's retries.
    """
    assert command.secret is not None
    try:
        return _resealed(keyring, command.secret, command_secret_aad(command.id, command.kind),
                         client_secret_aad(client_key, SecretSlot.CURRENT))
    except InvalidTag:
        raise NotSealedForThisCommand(
            "The command's secret was not sealed for this command.") from None


def moved_to_previous(keyring: SecretKeyring, stored: Mapping[str, Any] | None,
                      client_key: str) -> Document | None:
    """A client's current secret, sealed for its previous slot; None if it has none.

    A current secret that does not open (its key left the keyring, or it was
    not sealed for this client) could never be checked anyway: it is not kept.
    """
    if stored is None:
        return None
    try:
        return _resealed(keyring, SealedSecret.from_document(stored),
                         client_secret_aad(client_key, SecretSlot.CURRENT),
                         client_secret_aad(client_key, SecretSlot.PREVIOUS))
    except (KeyringError, InvalidTag) as exc:
        log.warning("client %s: its replaced secret does not open (%s), so it is not kept "
                    "for a grace period", client_key, type(exc).__name__)
        return None
