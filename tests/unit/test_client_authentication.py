"""Authenticating a client as a token endpoint received it (api.verify.client_authentication):
each method and reason, the profile only to whoever proved the client, and the same work
for every request that does not authenticate."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote_plus

import pytest
from bson import ObjectId

from api.verify.client_authentication import (
    AuthenticationReason,
    ClientAuthenticator,
    presented_by,
)
from api.verify.client_entries import ClientEntry, entry_of
from api.verify.profile import PROFILE_FIELDS
from api.verify.read_model import ClientReadModel
from api.verify.secret import SECRETS_COMPARED, SecretChecker
from common.client_documents import ClientDocument
from common.keyring import Keyring, SealedSecret, SecretSlot, client_secret_aad, new_key_entry

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SECRET = "the right secret: with + and %"


class CountingKeyring(Keyring):
    """A keyring that counts the secrets it opens: the work a check does."""

    opened = 0

    def open(self, sealed: SealedSecret, aad: bytes) -> str:
        CountingKeyring.opened += 1
        return super().open(sealed, aad)


KEYRING = CountingKeyring.parse(new_key_entry("k1"))


def stored(key: str, *, method: str | None = "client_secret_basic", status: str = "approved",
           client_type: str = "oauth2", expires_at: datetime | None = None) -> ClientDocument:
    document: dict[str, Any] = {
        "_id": ObjectId(), "key": key, "type": client_type, "name": f"Client {key}",
        "status": status, "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "created_at": NOW, "updated_at": NOW, "status_changed_at": NOW, "version": 2,
        "token_endpoint_auth_method": method, "scope": ["read", "write"],
        "client_secret_expires_at": expires_at}
    if method != "none":
        document["secret"] = KEYRING.seal(
            SECRET, client_secret_aad(key, SecretSlot.CURRENT)).to_document()
    return cast(ClientDocument, document)


class Model:
    """The one method of the read model the checks use."""

    def __init__(self, *documents: ClientDocument) -> None:
        self.entries = {d["key"]: entry_of(d) for d in documents}

    def get(self, key: str) -> ClientEntry | None:
        return self.entries.get(key)


MODEL = Model(
    stored("basic"), stored("post", method="client_secret_post"),
    stored("public", method="none"), stored("pending", status="pending"),
    stored("expired", expires_at=NOW - timedelta(minutes=1)),
    stored("consumer", method=None, client_type="oauth1"))
AUTHENTICATOR = ClientAuthenticator(cast(ClientReadModel, MODEL),
                                    SecretChecker(cast(ClientReadModel, MODEL), KEYRING))


def basic(client_id: str, secret: str) -> str:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def authenticate(authorization: str | None = None, **form: str) -> dict[str, Any]:
    return AUTHENTICATOR.authenticate(presented_by(authorization, form), NOW).to_dict()


@pytest.mark.parametrize(("authorization", "form", "reason", "method"), [
    (basic("basic", SECRET), {}, "ok", "client_secret_basic"),
    (None, {"client_id": "post", "client_secret": SECRET}, "ok", "client_secret_post"),
    (None, {"client_id": "public"}, "ok", "none"),
    (basic("post", SECRET), {}, "wrong_method", "client_secret_basic"),
    (None, {"client_id": "basic", "client_secret": SECRET}, "wrong_method",
     "client_secret_post"),
    (basic("consumer", SECRET), {}, "wrong_method", "client_secret_basic"),
    (basic("pending", SECRET), {}, "not_approved", "client_secret_basic"),
    (basic("expired", SECRET), {}, "secret_expired", "client_secret_basic"),
    (basic("basic", "a wrong secret"), {}, "invalid_client", "client_secret_basic"),
    (basic("nobody", SECRET), {}, "invalid_client", "client_secret_basic"),
    (None, {"client_id": "basic"}, "invalid_client", "none"),  # no credentials
    (basic("public", ""), {}, "invalid_client", "client_secret_basic"),
    (None, {"client_id": "nobody"}, "invalid_client", "none"),
    (basic("basic", SECRET), {"client_secret": SECRET}, "invalid_client", None),
    (None, {}, "invalid_client", None),
])
def test_each_method_and_reason(authorization: str | None, form: dict[str, str], reason: str,
                                method: str | None) -> None:
    answer = authenticate(authorization, **form)
    assert (answer["valid"], answer["reason"], answer["method"]) == (
        reason == "ok", reason, method)
    if reason == "invalid_client":
        assert answer["client"] is None
    else:
        assert set(answer["client"]) == {*PROFILE_FIELDS, "client_id"}
        assert answer["client"]["client_id"] == answer["client"]["key"]


def test_the_profile_tells_no_secret_and_what_a_token_endpoint_enforces() -> None:
    profile = authenticate(basic("basic", SECRET))["client"]
    assert profile["scope"] == "read write"
    assert profile["token_endpoint_auth_method"] == "client_secret_basic"
    assert profile["require_pkce"] is True  # granted authorization_code
    assert not {name for name in profile if "secret" in name}


@pytest.mark.parametrize(("authorization", "form", "readings"), [
    (basic("basic", "a-wrong-secret"), {}, 1),
    (basic("basic", "a wrong secret"), {}, 2),  # `+` read as a space, and as sent
    (basic("nobody", "x"), {}, 1),
    (None, {"client_id": "basic"}, 1),
    (None, {"client_id": "nobody"}, 1),
    (basic("basic", SECRET), {"client_secret": SECRET}, 1),
    ("Basic !!!", {}, 1),
])
def test_a_refusal_costs_the_same_whichever_client_it_names(
        authorization: str | None, form: dict[str, str], readings: int) -> None:
    """The work depends on what was sent (how many readings of its secret), never on
    whether the client exists or what it holds."""
    CountingKeyring.opened = 0
    assert authenticate(authorization, **form)["reason"] == AuthenticationReason.INVALID_CLIENT
    assert CountingKeyring.opened == SECRETS_COMPARED * readings


def test_a_secret_sent_without_form_urlencoding_authenticates() -> None:
    as_sent = "Basic " + base64.b64encode(f"basic:{SECRET}".encode("latin-1")).decode()
    assert authenticate(as_sent)["reason"] == "ok"
