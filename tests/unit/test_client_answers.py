"""A held client's public view is exactly `public_client` of its stored form, cheaper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from api.verify.client_answers import public_view
from api.verify.client_entries import entry_of
from common import client_view
from common.client_documents import ClientDocument
from common.client_origin import registration_origin
from common.client_view import public_client
from common.keyring import Keyring, SecretSlot, client_secret_aad, new_key_entry

KEYRING = Keyring.parse(new_key_entry("k1"))
AT = datetime(2026, 12, 1, 9, 30, 15, 123000, tzinfo=UTC)
NOW = AT + timedelta(days=3)


def _sealed(secret: str, slot: SecretSlot) -> dict[str, Any]:
    return KEYRING.seal(secret, client_secret_aad("k-1", slot)).to_document()


def stored(**extra: Any) -> ClientDocument:
    document: dict[str, Any] = {
        "_id": ObjectId(), "key": "k-1", "type": "oidc", "name": "Straße Portal",
        "name_sort": "strasse portal", "status": "approved",
        "redirect_uris": ["https://a.example.com/cb"], "grant_types": ["authorization_code"],
        "response_types": ["code"], "created_at": AT, "updated_at": AT + timedelta(seconds=1),
        "status_changed_at": AT, "version": 3,
        "secret": _sealed("s", SecretSlot.CURRENT), **extra}
    return {k: v for k, v in document.items() if v is not ...}  # type: ignore[return-value]


def _previous(expires_at: datetime, *issued_at: datetime | None) -> dict[str, Any]:
    """A previous secret; without `issued_at`, one replaced before issue times were kept."""
    previous = {"secret": _sealed("p", SecretSlot.PREVIOUS), "expires_at": expires_at}
    return {**previous, "issued_at": issued_at[0]} if issued_at else previous


CLIENTS: dict[str, dict[str, Any]] = {
    "stored before metadata was kept": {},
    "oauth1, no metadata": {"type": "oauth1", "redirect_uris": [], "grant_types": [],
                            "response_types": []},
    "oauth2 public client": {"type": "oauth2", "token_endpoint_auth_method": "none",
                             "scope": ["read", "write"], "require_pkce": True},
    "every metadata field": {
        "token_endpoint_auth_method": "client_secret_post", "scope": ["openid", "profile"],
        "require_pkce": False, "post_logout_redirect_uris": ["https://a.example.com/bye"],
        "client_uri": "https://a.example.com", "logo_uri": "https://a.example.com/l.png",
        "policy_uri": "https://a.example.com/p", "tos_uri": "https://a.example.com/t",
        "contacts": ["ops@example.com"], "client_secret_issued_at": AT,
        "client_secret_expires_at": AT + timedelta(days=90)},
    "private_key_jwt with keys": {
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "1"}]},
        "client_secret_issued_at": AT, "client_secret_expires_at": AT},
    "rotated, one previous secret still valid, one expired, one without issue time": {
        "secret_rotated_at": AT + timedelta(days=1), "client_secret_issued_at": None,
        "previous_secrets": [_previous(NOW + timedelta(hours=1), AT),
                             _previous(NOW - timedelta(hours=1), AT)]},
    "a previous secret that ends at this very instant": {
        "previous_secrets": [_previous(NOW, None)]},
    "a previous secret without issue time, stored before they were kept": {
        "previous_secrets": [_previous(NOW + timedelta(days=1))]},
    "self-registered": {"origin": registration_origin("tok-1", "Partner"),
                        "token_endpoint_auth_method": "client_secret_basic"},
    "scope as an event's view shows it": {"scope": "openid email"},
    "no secret expiry field, no rotation field": {"secret_rotated_at": ...},
}


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """public_client reads the clock (which previous secrets still hold): it reads NOW."""
    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Clock:
            return cls.fromtimestamp(NOW.timestamp(), tz)

    monkeypatch.setattr(client_view, "datetime", Clock)


@pytest.mark.parametrize("extra", CLIENTS.values(), ids=CLIENTS.keys())
def test_the_view_is_public_client_of_the_stored_form(extra: dict[str, Any]) -> None:
    entry = entry_of(stored(**extra))
    expected = public_client(entry.document())
    shown = public_view(entry, NOW)
    assert shown == expected
    assert list(shown) == list(expected)  # the same order of fields in the JSON


def test_an_answer_is_its_own_to_change() -> None:
    """Clients alike share what is kept for them: one answer's change is not another's."""
    first = entry_of(stored(**CLIENTS["private_key_jwt with keys"]))
    second = entry_of(stored(**{**CLIENTS["private_key_jwt with keys"], "key": "k-2"}))
    shown = public_view(first, NOW)
    shown["jwks"]["keys"].clear()
    shown["post_logout_redirect_uris"].append("https://changed.example.com")
    shown["origin"]["kind"] = "changed"
    again = public_view(second, NOW)
    assert again["jwks"]["keys"] and again["post_logout_redirect_uris"] == []
    assert again["origin"] == {"kind": "admin"}


def test_a_new_version_shows_its_own_values() -> None:
    entry = entry_of(stored())
    before = public_view(entry, NOW)
    changed = entry.with_view({**before, "name": "Renamed", "version": 4,
                               "token_endpoint_auth_method": "none", "scope": "openid email"})
    after = public_view(changed, NOW)
    assert (after["name"], after["version"]) == ("Renamed", 4)
    assert after["token_endpoint_auth_method"] == "none"
    assert after == public_client(changed.document())
    assert public_view(entry, NOW) == before

