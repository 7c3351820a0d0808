"""Checking a client's secret, for the platform's authorization servers.

`valid` only when the client is approved and the secret is one of its secrets
(the current one, or an earlier one still inside its grace period). Every check
does the same work — it opens and compares exactly `SECRETS_COMPARED` sealed
secrets, padding with a dummy one — so an unknown key, a wrong secret and a
client with or without earlier secrets all take the same time. An unknown key
and a wrong secret also get the same answer, with no detail of the client; the
client's facts are shown only to a caller who proved it holds the secret.

Each secret is opened with the associated data of its own client key and slot,
so a sealed secret copied from another client (or slot) in MongoDB does not
open, and counts as no secret at all.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag

from api.verify.client_entries import ClientEntry
from api.verify.read_model import ClientReadModel
from common.clients import Status
from common.keyring import (
    KeyringError,
    SealedSecret,
    SecretKeyring,
    SecretSlot,
    client_secret_aad,
    generate_secret,
)
from common.secret_grace import MAX_PREVIOUS_SECRETS

# The current secret and every earlier one still in its grace.
SECRETS_COMPARED = 1 + MAX_PREVIOUS_SECRETS
# The padding secret's binding: no client has an empty key.
_PADDING_AAD = client_secret_aad("", SecretSlot.CURRENT)
# A secret to open, with the associated data it must have been sealed with and its place
# in ClientEntry.secrets.
_Candidate = tuple[SealedSecret, bytes, int]


class Reason(StrEnum):
    OK = "ok"
    INVALID_CLIENT = "invalid_client"      # unknown key or wrong secret: never told apart
    NOT_APPROVED = "not_approved"          # right secret, but the client may not be used
    SECRET_EXPIRED = "secret_expired"      # right secret, past its client_secret_expires_at


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason
    client: ClientEntry | None = field(default=None, repr=False)
    # The place in `client.secrets` of the secret that matched (ok, or a right secret).
    matched: int | None = None

    def to_dict(self) -> dict[str, Any]:
        shown = self.client if self.reason is not Reason.INVALID_CLIENT else None
        return {
            "valid": self.valid, "reason": self.reason.value,
            "status": shown.status if shown else None,
            "type": shown.type if shown else None,
            "grant_types": list(shown.grant_types) if shown else None,
            "response_types": list(shown.response_types) if shown else None,
            "redirect_uris": list(shown.redirect_uris) if shown else None,
        }


class SecretChecker:
    def __init__(self, model: ClientReadModel, keyring: SecretKeyring) -> None:
        self._model = model
        self._keyring = keyring
        self._dummy = keyring.seal(generate_secret(), _PADDING_AAD)

    @staticmethod
    def _usable(client: ClientEntry, now: datetime) -> list[_Candidate]:
        return [(sealed, client_secret_aad(client.key, slot), place)
                for place, (sealed, slot, until) in enumerate(client.secrets)
                if until is None or until > now]

    def _candidates(self, client: ClientEntry | None, now: datetime) -> list[_Candidate | None]:
        """Exactly SECRETS_COMPARED sealed secrets; None marks a padding slot."""
        usable: list[_Candidate | None] = []
        if client is not None:
            usable.extend(self._usable(client, now)[:SECRETS_COMPARED])
        return usable + [None] * (SECRETS_COMPARED - len(usable))

    def secrets_of(self, client: ClientEntry, now: datetime) -> tuple[tuple[str, int], ...]:
        """The plain secrets a caller of `client` may present now, current first, each
        with its place in `client.secrets`; one that does not open for this client
        (see the module) is left out."""
        opened = []
        for sealed, aad, place in self._usable(client, now):
            try:
                opened.append((self._keyring.open(sealed, aad), place))
            except (KeyringError, InvalidTag):
                continue
        return tuple(opened)

    def _padding(self) -> bytes:
        try:
            return self._keyring.open(self._dummy, _PADDING_AAD).encode()
        except KeyringError:
            # The dummy was sealed under a key since removed from the keyring.
            self._dummy = self._keyring.seal(generate_secret(), _PADDING_AAD)
            return self._keyring.open(self._dummy, _PADDING_AAD).encode()

    def _open(self, candidate: _Candidate | None) -> tuple[bytes, bool]:
        """(the secret to compare with, whether a match counts): a padding slot, or a
        secret that does not open for its client and slot, compares with the padding."""
        if candidate is not None:
            try:
                return self._keyring.open(candidate[0], candidate[1]).encode(), True
            except (KeyringError, InvalidTag):
                pass
        return self._padding(), False

    @staticmethod
    def _expired(client: ClientEntry, now: datetime) -> bool:
        """Whether the current secret (always the first one held) is past its expiry."""
        return (client.secret_expires_at is not None and client.secret_expires_at <= now
                and bool(client.secrets) and client.secrets[0][1] is SecretSlot.CURRENT)

    def check(self, key: str, secret: str, now: datetime) -> Verdict:
        client = self._model.get(key)
        given = secret.encode()
        candidates = self._candidates(client, now)
        hits = []
        for candidate in candidates:
            expected, real = self._open(candidate)
            # Non-short-circuit `&`: a padding slot costs what a real one does.
            hits.append(hmac.compare_digest(expected, given) & real)
        if client is None or not any(hits):
            return Verdict(False, Reason.INVALID_CLIENT)
        matched = next(c[2] for c, hit in zip(candidates, hits, strict=True) if hit and c)
        if self._expired(client, now) and not any(hits[1:]):
            # Only the current secret matched, and it has expired; a previous secret
            # still in its grace is valid on its own deadline.
            return Verdict(False, Reason.SECRET_EXPIRED, client, matched)
        if client.status != Status.APPROVED:
            return Verdict(False, Reason.NOT_APPROVED, client, matched)
        return Verdict(True, Reason.OK, client, matched)
