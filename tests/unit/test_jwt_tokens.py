"""JWT bearer tokens: which keys and algorithms are trusted, which claims are checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.auth.authenticator import Authenticator, looks_like_jwt
from api.auth.jwt_tokens import (
    ClaimRules,
    JwtVerifier,
    jwt_identity,
    permissions_in,
)
from api.auth.principals import CLIENTS_READ, CLIENTS_VERIFY, CONFIGURE_SERVER, Principal
from api.auth.tokens import token_digest
from tests.identity_provider import AUDIENCE, HS256_SECRET, ISSUER, SigningKey, claims

RULES = ClaimRules(issuer=ISSUER, audience=AUDIENCE)


def as_jwt(subject: str) -> str:
    """The identity of a token the test provider issued for `subject`."""
    return jwt_identity(ISSUER, subject)


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rs256()


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.es256()


def pem_verifier(key: SigningKey, rules: ClaimRules = RULES, **kwargs: Any) -> JwtVerifier:
    public = serialization.load_pem_public_key(key.public_pem())
    assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return JwtVerifier(rules, public_key=public, **kwargs)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token made without PyJWT, which refuses to make the forgeries tested here."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(),
                                                    hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("key_fixture", ["rsa_key", "ec_key"])
async def test_a_token_signed_with_the_configured_public_key_is_a_principal(
        key_fixture: str, request: pytest.FixtureRequest) -> None:
    key: SigningKey = request.getfixturevalue(key_fixture)
    verifier = pem_verifier(key)
    assert verifier.algorithms == {key.algorithm}
    principal = await verifier.authenticate(key.sign(claims("ops-bot", CONFIGURE_SERVER)))
    assert principal == Principal("ops-bot", frozenset({CONFIGURE_SERVER}), as_jwt("ops-bot"))
    assert principal.allows(CLIENTS_READ)


async def test_a_token_signed_by_another_key_is_refused(rsa_key: SigningKey) -> None:
    other = SigningKey.rs256()
    assert await pem_verifier(rsa_key).authenticate(other.sign(claims())) is None


async def test_hs256_only_when_a_shared_secret_is_configured(rsa_key: SigningKey) -> None:
    token = jwt.encode(claims("svc", CLIENTS_READ), HS256_SECRET, algorithm="HS256")
    assert await pem_verifier(rsa_key).authenticate(token) is None
    with_secret = pem_verifier(rsa_key, hs256_secret=HS256_SECRET)
    assert with_secret.algorithms == {"RS256", "HS256"}
    assert await with_secret.authenticate(token) == Principal("svc", frozenset({CLIENTS_READ}),
                                                             as_jwt("svc"))
    forged = jwt.encode(claims("svc", CLIENTS_READ), b"x" * 40, algorithm="HS256")
    assert await with_secret.authenticate(forged) is None


@pytest.mark.parametrize("hs256_secret", [None, HS256_SECRET])
async def test_hs256_signed_with_the_public_key_text_is_refused(
        rsa_key: SigningKey, hs256_secret: bytes | None) -> None:
    # The classic algorithm confusion: the public key's PEM used as an HMAC secret.
    token = hand_made({"alg": "HS256", "typ": "JWT"}, claims("mallory", CONFIGURE_SERVER),
                      rsa_key.public_pem())
    assert await pem_verifier(rsa_key, hs256_secret=hs256_secret).authenticate(token) is None


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(rsa_key: SigningKey, alg: str) -> None:
    token = hand_made({"alg": alg, "typ": "JWT"}, claims("mallory", CONFIGURE_SERVER), None)
    assert looks_like_jwt(token)
    assert await pem_verifier(rsa_key, hs256_secret=HS256_SECRET).authenticate(token) is None


async def test_an_algorithm_other_than_the_keys_is_refused(rsa_key: SigningKey) -> None:
    token = jwt.encode(claims(), rsa_key.private, algorithm="PS256")
    assert await pem_verifier(rsa_key).authenticate(token) is None


@pytest.mark.parametrize(("change", "accepted"), [
    ({"exp": -100}, False),           # expired beyond the leeway
    ({"exp": -10}, True),             # expired within the 30 s leeway
    ({"nbf": 100}, False),            # not valid yet
    ({"nbf": 10}, True),              # not valid yet, within the leeway
    ({"iss": "https://other.example.test"}, False),
    ({"aud": "another-service"}, False),
    ({"aud": ["another-service", AUDIENCE]}, True),
    ({"sub": ""}, False),
    ({"sub": 42}, False),
    ({"exp": "tomorrow"}, False),
])
async def test_registered_claims(rsa_key: SigningKey, change: dict[str, Any],
                                 accepted: bool) -> None:
    now = int(time.time())
    values = {name: (now + value if name in ("exp", "nbf") and isinstance(value, int)
                     else value) for name, value in change.items()}
    token = rsa_key.sign(claims("ops-bot", CLIENTS_READ, **values))
    principal = await pem_verifier(rsa_key).authenticate(token)
    assert (principal is not None) is accepted


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud"])
async def test_a_required_claim_missing_is_refused(rsa_key: SigningKey, missing: str) -> None:
    token_claims = claims("ops-bot", CLIENTS_READ)
    del token_claims[missing]
    assert await pem_verifier(rsa_key).authenticate(rsa_key.sign(token_claims)) is None


async def test_issuer_and_audience_are_those_configured(rsa_key: SigningKey) -> None:
    token = rsa_key.sign(claims("ops-bot", CLIENTS_READ, iss="anyone", aud="anything"))
    assert await pem_verifier(rsa_key, ClaimRules("anyone", "anything")).authenticate(token) \
        is not None
    assert await pem_verifier(rsa_key).authenticate(token) is None


async def test_leeway_is_configurable(rsa_key: SigningKey) -> None:
    token = rsa_key.sign(claims("ops-bot", exp=int(time.time()) - 10))
    strict = ClaimRules(ISSUER, AUDIENCE, leeway_s=0)
    assert await pem_verifier(rsa_key, strict).authenticate(token) is None
    lenient = ClaimRules(ISSUER, AUDIENCE, leeway_s=30)
    assert await pem_verifier(rsa_key, lenient).authenticate(token) is not None


@pytest.mark.parametrize(("iat", "exp", "accepted"), [
    (0, 3600, True),                  # an hour, the limit
    (0, 3601, False),                 # a second more
    (-7200, 600, False),              # issued two hours ago for two hours and ten minutes
    (None, 3600, True),               # without iat: exp - now
    (None, 3700, False),
])
async def test_a_token_may_live_at_most_the_maximum_lifetime(
        rsa_key: SigningKey, iat: int | None, exp: int, accepted: bool) -> None:
    now = int(time.time())
    token_claims = claims("ops-bot", CLIENTS_READ, exp=now + exp)
    if iat is None:
        del token_claims["iat"]
    else:
        token_claims["iat"] = now + iat
    rules = ClaimRules(ISSUER, AUDIENCE, max_lifetime_s=3600)
    principal = await pem_verifier(rsa_key, rules).authenticate(rsa_key.sign(token_claims))
    assert (principal is not None) is accepted


@pytest.mark.parametrize(("typ", "accepted"), [
    ("JWT", True), ("jwt", True), ("at+jwt", True), ("AT+JWT", True),
    ("application/at+jwt", True), ("application/jwt", True),
    ("JOSE", False), ("id_token+jwt", False), ("logout+jwt", False), (7, False),
])
async def test_the_jose_typ_when_present_must_be_a_jwt(rsa_key: SigningKey, typ: object,
                                                       accepted: bool) -> None:
    token = jwt.encode(claims("ops-bot", CLIENTS_READ), rsa_key.private, algorithm="RS256",
                       headers={"kid": rsa_key.kid, "typ": typ})
    principal = await pem_verifier(rsa_key).authenticate(token)
    assert (principal is not None) is accepted


async def test_a_token_without_typ_is_accepted(rsa_key: SigningKey) -> None:
    token = hand_made({"alg": "HS256"}, claims("ops-bot", CLIENTS_READ), HS256_SECRET)
    assert await pem_verifier(rsa_key, hs256_secret=HS256_SECRET).authenticate(token) is not None


@pytest.mark.parametrize(("value", "expected"), [
    ([CONFIGURE_SERVER, CLIENTS_VERIFY], {CONFIGURE_SERVER, CLIENTS_VERIFY}),
    ([CLIENTS_READ, "admin", "clients:write", 7, None], {CLIENTS_READ}),
    (f"openid profile {CLIENTS_READ}  {CLIENTS_VERIFY}", {CLIENTS_READ, CLIENTS_VERIFY}),
    ("openid email", set()),
    ({"configure_server": True}, set()),
    (None, set()),
])
def test_permissions_from_a_list_or_a_space_separated_claim(value: object,
                                                           expected: set[str]) -> None:
    assert permissions_in(value) == expected


async def test_permissions_and_subject_claims_are_configurable(rsa_key: SigningKey) -> None:
    rules = ClaimRules(issuer=ISSUER, audience=AUDIENCE, permissions_claim="scope",
                       subject_claim="client_id")
    token = rsa_key.sign(claims("user-1", CONFIGURE_SERVER, client_id="deploy-pipeline",
                                scope=f"openid {CLIENTS_READ} unknown:perm"))
    assert await pem_verifier(rsa_key, rules).authenticate(token) == Principal(
        "deploy-pipeline", frozenset({CLIENTS_READ}), as_jwt("deploy-pipeline"))


async def test_a_token_without_known_permissions_is_a_principal_without_rights(
        rsa_key: SigningKey) -> None:
    principal = await pem_verifier(rsa_key).authenticate(
        rsa_key.sign(claims("ops-bot", "admin")))
    assert principal == Principal("ops-bot", frozenset(), as_jwt("ops-bot"))
    assert not principal.allows(CLIENTS_READ)


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "e30.e30.", "...", "x" * 400])
async def test_garbage_is_refused_without_an_exception(rsa_key: SigningKey,
                                                       token: str) -> None:
    assert await pem_verifier(rsa_key).authenticate(token) is None


async def test_the_reason_is_logged_at_info_without_the_token(
        rsa_key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    token = rsa_key.sign(claims("ops-bot", exp=int(time.time()) - 3600))
    with caplog.at_level(logging.INFO, logger="api.auth.jwt_tokens"):
        assert await pem_verifier(rsa_key).authenticate(token) is None
    refused = [r for r in caplog.records if r.name == "api.auth.jwt_tokens"]
    assert [r.levelno for r in refused] == [logging.INFO]
    assert "ExpiredSignatureError" in refused[0].getMessage()
    for part in token.split("."):
        assert part not in caplog.text


async def test_the_authenticator_asks_the_static_tokens_first_then_the_jwt_verifier(
        rsa_key: SigningKey, tmp_path: Path) -> None:
    from api.auth.tokens import TokenStore

    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps([{"subject": "alice", "sha256": token_digest("opaque-1"),
                                        "permissions": [CONFIGURE_SERVER]}]))
    both = Authenticator(TokenStore(tokens_file), pem_verifier(rsa_key))
    jwt_token = rsa_key.sign(claims("ops-bot", CLIENTS_READ))
    assert await both.authenticate("opaque-1") == Principal(
        "alice", frozenset({CONFIGURE_SERVER}), f"token:{token_digest('opaque-1')[:12]}")
    assert await both.authenticate(jwt_token) == Principal("ops-bot", frozenset({CLIENTS_READ}),
                                                          as_jwt("ops-bot"))
    assert await both.authenticate("opaque-2") is None
    assert await Authenticator(TokenStore(tokens_file)).authenticate(jwt_token) is None
    assert await Authenticator(jwts=pem_verifier(rsa_key)).authenticate("opaque-1") is None


@pytest.mark.parametrize(("token", "shaped"), [
    ("eyJh.eyJz.c2ln", True), ("eyJh.eyJz.", True), ("abc_-.d-e_.f", True),
    ("abc", False), ("a.b", False), ("a.b.c.d", False), ("a b.c.d", False), ("a+/.b.c", False),
    (".b.c", False),
])
def test_what_looks_like_a_jwt(token: str, shaped: bool) -> None:
    assert looks_like_jwt(token) is shaped


async def test_a_refusal_names_none_of_the_headers_values(
        rsa_key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    odd_typ = jwt.encode(claims("ops-bot"), rsa_key.private, algorithm="RS256",
                         headers={"kid": rsa_key.kid, "typ": "typ-chosen-by-caller"})
    odd_alg = hand_made({"alg": "alg-chosen-by-caller"}, claims("ops-bot"), None)
    with caplog.at_level(logging.INFO, logger="api.auth.jwt_tokens"):
        for token in (odd_typ, odd_alg):
            assert await pem_verifier(rsa_key).authenticate(token) is None
    assert len([r for r in caplog.records if r.name == "api.auth.jwt_tokens"]) == 2
    assert "chosen-by-caller" not in caplog.text
