"""An expired secret does not verify (api.verify.secret), and the read model's credential
carries the expiry from a stored client and from an event's view alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from bson import ObjectId

from api.verify.client_entries import ClientEntry, entry_of
from api.verify.read_model import ClientReadModel
from api.verify.secret import Reason, SecretChecker
from common.client_documents import ClientDocument
from common.keyring import SecretSlot, client_secret_aad
from tests.fakes import FAKE_KEYRING

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CURRENT, PREVIOUS = "the-current-secret", "the-previous-secret"


def stored(expires_at: datetime | None, *, with_previous: bool = False) -> ClientDocument:
    document: dict[str, Any] = {
        "_id": ObjectId(), "key": "k", "type": "oauth2", "status": "approved", "version": 2,
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "redirect_uris": ["https://a.example/cb"], "client_secret_expires_at": expires_at,
        "secret": FAKE_KEYRING.seal(CURRENT, client_secret_aad("k", SecretSlot.CURRENT)
                                    ).to_document(),
        "previous_secrets": [{
            "secret": FAKE_KEYRING.seal(PREVIOUS, client_secret_aad("k", SecretSlot.PREVIOUS)
                                        ).to_document(),
            "expires_at": NOW + timedelta(hours=1)}] if with_previous else []}
    return cast(ClientDocument, document)


class OneClient:
    """The one method of the read model a check uses."""

    def __init__(self, credential: ClientEntry) -> None:
        self.credential = credential

    def get(self, key: str) -> ClientEntry | None:
        return self.credential if key == self.credential.key else None


def check(document: ClientDocument, secret: str) -> Reason:
    model = cast(ClientReadModel, OneClient(entry_of(document)))
    return SecretChecker(model, FAKE_KEYRING).check("k", secret, NOW).reason


@pytest.mark.parametrize(("expires_at", "with_previous", "secret", "reason"), [
    (None, False, CURRENT, Reason.OK),
    (NOW + timedelta(seconds=1), False, CURRENT, Reason.OK),
    (NOW, False, CURRENT, Reason.SECRET_EXPIRED),
    (NOW - timedelta(days=1), False, CURRENT, Reason.SECRET_EXPIRED),
    (NOW - timedelta(days=1), False, "a-wrong-secret", Reason.INVALID_CLIENT),
    # A previous secret still in its grace keeps its own deadline.
    (NOW - timedelta(days=1), True, PREVIOUS, Reason.OK),
    (NOW - timedelta(days=1), True, CURRENT, Reason.SECRET_EXPIRED),
])
def test_an_expired_secret_does_not_verify(expires_at: datetime | None, with_previous: bool,
                                           secret: str, reason: Reason) -> None:
    assert check(stored(expires_at, with_previous=with_previous), secret) is reason


def test_the_expiry_comes_with_an_events_view() -> None:
    credential = entry_of(stored(None))
    later = NOW + timedelta(days=3)
    view = {"type": "oauth2", "status": "approved", "version": 3,
            "client_secret_expires_at": later.isoformat()}
    assert credential.with_view(view).secret_expires_at == later
    assert credential.with_view({**view, "client_secret_expires_at": None}
                                ).secret_expires_at is None
