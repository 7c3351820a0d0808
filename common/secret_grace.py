"""Secret rotation with a grace period: which secrets of a client are valid when.

Rotating a secret does not break the callers that still hold the old one at
once: the old secret stays valid until a deadline, so they can be re-deployed
in the meantime. A client document keeps them in `previous_secrets`, newest
first, each `{"secret": <sealed>, "expires_at": <datetime>}` (the shape
`worker.rekey` re-encrypts), at most `MAX_PREVIOUS_SECRETS` of them.

The worker uses this to rotate; the gateway's read model holds the same
secrets `valid_secrets` names. Everything here is pure: the caller says what time it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from common.keyring import SealedSecret, SecretSlot

# How long an old secret stays valid when a rotation does not say.
DEFAULT_GRACE_S = 24 * 3600
# The upper bound of CLIENTKEYS_MAX_GRACE_S, and of any grace a request may ask for.
GRACE_LIMIT_S = 30 * 24 * 3600
# Old secrets kept at once: two rotations in a row still leave the first one's callers time.
MAX_PREVIOUS_SECRETS = 2

# {"secret": sealed document, "expires_at": datetime, "issued_at": datetime}; entries
# stored before the issue time was kept have none.
PreviousSecret = dict[str, Any]


def secret_issued_at(document: Mapping[str, Any]) -> datetime | None:
    """When a client's current secret was set. A client stored before the issue time was
    kept got its secret when it was created, or at its last replacement."""
    issued: datetime | None = document.get("client_secret_issued_at") \
        or document.get("secret_rotated_at") or document.get("created_at")
    return issued


def unexpired(previous: Sequence[Mapping[str, Any]] | None, now: datetime
              ) -> list[PreviousSecret]:
    """The previous secrets still valid at `now`, in their stored order (newest first)."""
    return [dict(entry) for entry in previous or () if entry["expires_at"] > now]


def after_rotation(document: Mapping[str, Any], now: datetime, grace_seconds: int
                   ) -> list[PreviousSecret]:
    """`previous_secrets` once the current secret of `document` is replaced at `now`.

    The current secret (`document["secret"]`, as sealed for the previous slot:
    the worker seals it again for that slot first) leads the list, valid for
    `grace_seconds` more (with no grace it is dropped at once); expired entries
    go, and only the newest `MAX_PREVIOUS_SECRETS` stay.
    """
    if grace_seconds < 0:
        raise ValueError("grace_seconds must not be negative")
    kept = unexpired(document.get("previous_secrets"), now)
    current = document.get("secret")
    if current is not None and grace_seconds > 0:
        # Its issue time stays with it: it names the secret when its use is noted
        # (api.verify.secret_usage).
        kept.insert(0, {"secret": current, "expires_at": now + timedelta(seconds=grace_seconds),
                        "issued_at": secret_issued_at(document)})
    return kept[:MAX_PREVIOUS_SECRETS]


def valid_secrets(document: Mapping[str, Any], now: datetime
                  ) -> list[tuple[SealedSecret, SecretSlot]]:
    """Every sealed secret a caller of this client may present at `now`, with the
    slot it was sealed for (common.keyring.client_secret_aad).

    The current secret first, then the previous ones whose grace has not ended,
    newest first. A removed client (no secret) has none.
    """
    current = document.get("secret")
    if current is None:
        return []
    return [(SealedSecret.from_document(current), SecretSlot.CURRENT)] + [
        (SealedSecret.from_document(entry["secret"]), SecretSlot.PREVIOUS)
        for entry in unexpired(document.get("previous_secrets"), now)]
