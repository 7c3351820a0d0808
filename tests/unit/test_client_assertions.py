"""Checking a private_key_jwt client assertion (api.verify.client_assertions): one table
row per reason, with keys made here (tests.client_keys) as the client holds them, a
recording jti ledger and a key-set source standing in for the database and jwks_uri."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any, cast

import jwt
import pytest
from bson import ObjectId
from prometheus_client import CollectorRegistry

from api.gateway_metrics import GatewayMetrics
from api.verify.client_assertions import JWT_BEARER, AssertionChecker
from api.verify.client_authentication import (
    AuthenticationReason,
    ClientAuthenticator,
    presented_by,
)
from api.verify.client_entries import ClientEntry, entry_of
from api.verify.presented_credentials import Presented, PresentedMethod
from api.verify.read_model import ClientReadModel
from api.verify.secret import SecretChecker
from common.client_documents import ClientDocument
from common.keyring import Keyring, new_key_entry
from tests.client_keys import AUDIENCE, KeyPair, ec_pair, ed_pair, jwks, rsa_pair

RSA, EC, ED = rsa_pair(), ec_pair(), ed_pair()
PS = KeyPair("ps-1", rsa_pair("ps").private, "PS256")
EC384 = ec_pair("ec-384", "P-384")
ROTATED = rsa_pair("rsa-2")
OTHER = KeyPair("rsa-1", rsa_pair("unrelated").private, "RS256")  # same kid, other key
URI = "https://keys.example/jwks"


def stored(key: str, *, keys: dict[str, Any] | None = None, uri: str | None = None,
           method: str = "private_key_jwt", status: str = "approved") -> ClientDocument:
    now = datetime.now(UTC)
    document: dict[str, Any] = {
        "_id": ObjectId(), "key": key, "type": "oauth2", "name": f"Client {key}",
        "status": status, "redirect_uris": ["https://app.example.com/cb"],
        "grant_types": ["authorization_code"], "response_types": ["code"], "created_at": now,
        "updated_at": now, "status_changed_at": now, "version": 1,
        "token_endpoint_auth_method": method, "scope": ["read"], "jwks": keys,
        "jwks_uri": uri}
    return cast(ClientDocument, document)


class Model:
    def __init__(self, *documents: ClientDocument) -> None:
        self.entries = {d["key"]: entry_of(d) for d in documents}

    def get(self, key: str) -> ClientEntry | None:
        return self.entries.get(key)


class Ledger:
    """Records each jti once, as the unique _id does."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    async def first_use(self, client_key: str, jti: str, expires_at: datetime) -> bool:
        if (client_key, jti) in self.seen:
            return False
        self.seen[client_key, jti] = expires_at
        return True


class Remote:
    """A jwks_uri's set as the fetcher would answer it; counts the fetches asked for."""

    def __init__(self, sets: list[dict[str, Any] | None]) -> None:
        self.sets = sets
        self.asked: list[bool] = []

    async def key_set(self, client_key: str, uri: str, *, unknown_kid: bool = False
                      ) -> dict[str, Any] | None:
        self.asked.append(unknown_kid)
        if unknown_kid and len(self.sets) > 1:
            self.sets.pop(0)
        return self.sets[0]


MODEL = Model(
    stored("kj", keys=jwks(RSA, EC, ED, PS, EC384)),
    stored("kj-pending", keys=jwks(RSA), status="pending"),
    stored("secret", method="client_secret_basic"),
    stored("remote", uri=URI), stored("unreachable", uri=URI))


def checker(remote: Remote | None = None, ledger: Ledger | None = None) -> AssertionChecker:
    return AssertionChecker(cast(ClientReadModel, MODEL), ledger or Ledger(),
                            remote or Remote([jwks(RSA)]), leeway_s=30, max_lifetime_s=300)


def presented(assertion: str, *, client_id: str | None = None,
              assertion_type: str = JWT_BEARER) -> Presented:
    form = {"client_assertion_type": assertion_type, "client_assertion": assertion}
    if client_id is not None:
        form["client_id"] = client_id
    read = presented_by(None, form)
    assert read is not None
    return read


def check(assertion: str, *, client_id: str | None = None, assertion_type: str = JWT_BEARER,
          remote: Remote | None = None, ledger: Ledger | None = None) -> AuthenticationReason:
    verdict = asyncio.run(checker(remote, ledger).authenticate(
        presented(assertion, client_id=client_id, assertion_type=assertion_type),
        [AUDIENCE, "https://as.example.com"], datetime.now(UTC)))
    assert verdict.method is PresentedMethod.PRIVATE_KEY_JWT
    assert (verdict.profile is not None) == (verdict.reason in ("ok", "not_approved"))
    return verdict.reason


def _hs256(client: str) -> str:
    return jwt.encode({"iss": client, "sub": client, "aud": AUDIENCE, "exp": 2**31,
                       "jti": "x"}, "a shared secret of some length!!", algorithm="HS256",
                      headers={"kid": "rsa-1"})


def _none(client: str) -> str:
    return jwt.encode({"iss": client, "sub": client, "aud": AUDIENCE, "exp": 2**31,
                       "jti": "x"}, "", algorithm="none")


@pytest.mark.parametrize(("assertion", "reason"), [
    # Accepted: each key type and algorithm; by kid, or without one by key type.
    (lambda: RSA.sign("kj"), "ok"),
    (lambda: EC.sign("kj"), "ok"),
    (lambda: ED.sign("kj"), "ok"),
    (lambda: EC384.sign("kj"), "ok"),
    (lambda: PS.sign("kj"), "ok"),
    (lambda: EC.sign("kj", kid=False), "ok"),
    (lambda: RSA.sign("kj", audience=["https://other.example", "https://as.example.com"]),
     "ok"),
    (lambda: RSA.sign("kj", lifetime_s=300 + 20), "ok"),  # within the leeway
    # The client.
    (lambda: RSA.sign("nobody"), "invalid_client"),
    (lambda: RSA.sign("secret"), "wrong_method"),
    (lambda: RSA.sign("kj-pending"), "not_approved"),
    # The signature.
    (lambda: OTHER.sign("kj"), "bad_signature"),
    (lambda: ROTATED.sign("kj"), "bad_signature"),  # a kid the client does not have
    (lambda: KeyPair("rsa-1", ED.private, "EdDSA").sign("kj"), "unsupported_algorithm"),
    (lambda: _hs256("kj"), "unsupported_algorithm"),
    (lambda: _none("kj"), "unsupported_algorithm"),
    (lambda: KeyPair("rsa-1", EC.private, "ES256").sign("kj"), "unsupported_algorithm"),
    # Time.
    (lambda: RSA.sign("kj", lifetime_s=-120), "expired"),
    (lambda: RSA.sign("kj", nbf=2**31 - 1, lifetime_s=200), "not_yet_valid"),
    (lambda: RSA.sign("kj", iat=2**31 - 1), "not_yet_valid"),
    (lambda: RSA.sign("kj", lifetime_s=3600), "lifetime_too_long"),
    (lambda: RSA.sign("kj", exp=10**20), "lifetime_too_long"),
    (lambda: RSA.sign("kj", exp="soon"), "malformed_assertion"),
    (lambda: RSA.sign("kj", jti=42), "malformed_assertion"),
    # Audience.
    (lambda: RSA.sign("kj", audience="https://elsewhere.example/token"), "wrong_audience"),
    # Shape.
    (lambda: RSA.sign("kj", jti=None), "malformed_assertion"),
    (lambda: RSA.sign("kj", exp=None), "malformed_assertion"),
    (lambda: RSA.sign("kj", aud=None), "malformed_assertion"),
    (lambda: RSA.sign("kj", iss="someone-else"), "malformed_assertion"),
    (lambda: RSA.sign("kj", jti="j" * 257), "malformed_assertion"),
])
def test_every_reason(assertion: Any, reason: str) -> None:
    assert check(assertion()) == reason


def test_an_assertion_that_does_not_decode_is_malformed() -> None:
    assert check("not.a.jwt", client_id="kj") == "malformed_assertion"
    # Naming no client at all, it presents nothing: the answer to no credentials.
    assert presented_by(None, {"client_assertion_type": JWT_BEARER,
                               "client_assertion": "not.a.jwt"}) is None


def test_the_assertion_type_must_be_jwt_bearer() -> None:
    assert check(RSA.sign("kj"), assertion_type="urn:x") == "malformed_assertion"


def test_a_client_id_sent_must_be_the_assertions() -> None:
    assert check(RSA.sign("kj"), client_id="kj") == "ok"
    assert check(RSA.sign("kj"), client_id="kj-pending") == "malformed_assertion"


def test_a_jti_is_used_once() -> None:
    ledger = Ledger()
    assertion = RSA.sign("kj")
    assert check(assertion, ledger=ledger) == "ok"
    assert check(assertion, ledger=ledger) == "replayed_jti"
    assert check(RSA.sign("kj"), ledger=ledger) == "ok"
    ((_, expires_at),) = [(k, v) for k, v in ledger.seen.items()][:1]
    decoded = jwt.decode(assertion, options={"verify_signature": False})
    assert expires_at.timestamp() == decoded["exp"] + 30  # kept past exp by the leeway


def test_a_jwks_uri_is_fetched_again_for_an_unknown_kid() -> None:
    remote = Remote([jwks(RSA), jwks(RSA, ROTATED)])
    assert check(ROTATED.sign("remote"), remote=remote) == "ok"
    assert remote.asked == [False, True]
    assert check(RSA.sign("remote"), remote=remote) == "ok"
    assert remote.asked == [False, True, False]  # a kid it holds: no second look


def test_a_jwks_uri_without_a_key_set_is_unavailable() -> None:
    assert check(RSA.sign("unreachable"), remote=Remote([None])) == "jwks_unavailable"


def test_a_basic_header_beside_an_assertion_is_credentials_twice() -> None:
    form = {"client_assertion_type": JWT_BEARER, "client_assertion": RSA.sign("kj")}
    assert presented_by("Basic a2o6eA==", form) is None
    assert presented_by(None, {**form, "client_secret": "x"}) is None


def test_each_check_is_counted_by_its_reason() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    counted = AssertionChecker(cast(ClientReadModel, MODEL), Ledger(), Remote([None]),
                               leeway_s=30, max_lifetime_s=300, metrics=metrics)
    for assertion in (RSA.sign("kj"), OTHER.sign("kj"), OTHER.sign("kj")):
        asyncio.run(counted.authenticate(presented(assertion), [AUDIENCE], datetime.now(UTC)))
    counts = {sample.labels["reason"]: sample.value
              for metric in metrics.client_assertions.collect() for sample in metric.samples
              if sample.name.endswith("_total")}
    assert counts == {"ok": 1, "bad_signature": 2}


@pytest.mark.parametrize(("authorization", "form"), [
    ("Basic " + base64.b64encode(b"kj:a-guess").decode(), {}),
    (None, {"client_id": "kj", "client_secret": "a-guess"}),
    (None, {"client_id": "kj"}),  # as if it were public
])
def test_a_private_key_jwt_client_has_no_secret_to_present(authorization: str | None,
                                                           form: dict[str, str]) -> None:
    model = cast(ClientReadModel, MODEL)
    secrets = ClientAuthenticator(model, SecretChecker(model, Keyring.parse(new_key_entry("k"))))
    verdict = secrets.authenticate(presented_by(authorization, form), datetime.now(UTC))
    assert (verdict.valid, verdict.reason, verdict.profile) == (False, "invalid_client", None)
