"""The rules of a private_key_jwt client's public keys (common.jwk_rules) as registration
runs them (common.metadata_rules): one table of key sets taken, one of key sets refused
with the key named, keys made here with cryptography."""

from __future__ import annotations

from typing import Any

import pytest

from common.client_metadata import ClientMetadata
from common.clients import ClientFields, RuleViolation
from common.jwk_rules import JWKS_KEYS_MAX, public_keys
from common.metadata_rules import check_registration
from tests.client_keys import ec_pair, ed_pair, jwks, rsa_pair
from tests.unit.client_rules import AC, CB, OAUTH2, OIDC

PKJ = "private_key_jwt"
RSA = rsa_pair()
EC = ec_pair()
ED = ed_pair()


def register(kind: Any = OAUTH2, **metadata: Any) -> ClientMetadata:
    fields = ClientFields(kind, "App", [CB], [AC], ["code"])
    return check_registration(fields, ClientMetadata(**metadata))[1]


def refusal(**metadata: Any) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as info:
        register(**metadata)
    return info.value.errors


@pytest.mark.parametrize("given", [
    jwks(RSA), jwks(EC), jwks(ED), jwks(ec_pair("ec-384", "P-384")),
    jwks(RSA, EC, ED), {"keys": [RSA.public_jwk(alg="PS256", use="sig")]},
    {"keys": [rsa_pair(f"k{i}").public_jwk() for i in range(JWKS_KEYS_MAX)]},
], ids=["rsa", "ec", "ed25519", "p384", "three", "alg-use", "ten"])
@pytest.mark.parametrize("kind", [OAUTH2, OIDC])
def test_a_public_key_set_is_taken(kind: Any, given: dict[str, Any]) -> None:
    stored = register(kind, token_endpoint_auth_method=PKJ, jwks=given)
    assert stored.jwks == given
    assert [key.kid for key in public_keys(stored.jwks)] == [k["kid"] for k in given["keys"]]


def test_only_public_members_are_kept() -> None:
    extra = {"keys": [RSA.public_jwk(x5t="abc", ext=True, key_ops=["verify"])]}
    stored = register(token_endpoint_auth_method=PKJ, jwks=extra)
    assert stored.jwks == jwks(RSA)


def test_encryption_keys_are_left_out_not_refused() -> None:
    # A client's published set often carries its encryption key beside its signing keys.
    encryption = rsa_pair("enc").public_jwk(use="enc", alg="RSA-OAEP-256")
    stored = register(token_endpoint_auth_method=PKJ,
                      jwks={"keys": [encryption, RSA.public_jwk(), EC.public_jwk()]})
    assert stored.jwks == jwks(RSA, EC)
    assert stored.jwks is not None
    assert [key.kid for key in public_keys(stored.jwks)] == [RSA.kid, EC.kid]


def test_a_jwks_uri_is_taken() -> None:
    stored = register(token_endpoint_auth_method=PKJ, jwks_uri="https://app.example/jwks")
    assert (stored.jwks, stored.jwks_uri) == (None, "https://app.example/jwks")


def _without(key: dict[str, Any], member: str) -> dict[str, Any]:
    return {name: value for name, value in key.items() if name != member}


@pytest.mark.parametrize(("metadata", "field", "says"), [
    # Private key material, named by its key and never echoed.
    ({"jwks": {"keys": [RSA.private_jwk()]}}, "jwks", "Key 1 (kid 'rsa-1') holds private"),
    ({"jwks": {"keys": [{**RSA.private_jwk(), "kid": "Mixed-Case"}]}}, "jwks",
     "Key 1 (kid 'Mixed-Case') holds private"),
    ({"jwks": {"keys": [EC.public_jwk(), {**EC.private_jwk(), "kid": "two"}]}}, "jwks",
     "Key 2 (kid 'two') holds private key material (d)"),
    ({"jwks": {"keys": [ED.private_jwk()]}}, "jwks", "holds private key material (d)"),
    ({"jwks": {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}}, "jwks", "symmetric"),
    # Kinds and sizes of key.
    ({"jwks": jwks(rsa_pair("small", 1024))}, "jwks", "1024 bits; at least 2048"),
    ({"jwks": {"keys": [{**EC.public_jwk(), "crv": "P-521"}]}}, "jwks", "P-256 or P-384"),
    ({"jwks": {"keys": [{"kty": "OKP", "crv": "X25519", "x": "AA", "kid": "x"}]}}, "jwks",
     "Ed25519"),
    ({"jwks": {"keys": [{"kty": "XYZ", "kid": "x"}]}}, "jwks", "must be RSA, EC"),
    ({"jwks": {"keys": [{"kty": ["RSA"], "kid": "x"}]}}, "jwks", "must be RSA, EC"),
    ({"jwks": {"keys": [RSA.public_jwk(alg=["RS256"])]}}, "jwks", "has alg"),
    ({"jwks": {"keys": [{**RSA.public_jwk(), "n": 42}]}}, "jwks", "does not load"),
    ({"jwks": {"keys": ["not an object"]}}, "jwks", "Key 1 is not a JSON object"),
    ({"jwks": {"keys": [{**EC.public_jwk(), "x": "not-a-point"}]}}, "jwks", "does not load"),
    ({"jwks": {"keys": [RSA.public_jwk(alg="ES256")]}}, "jwks", "has alg 'ES256'"),
    ({"jwks": {"keys": [RSA.public_jwk(alg="HS256")]}}, "jwks", "has alg 'HS256'"),
    ({"jwks": {"keys": [RSA.public_jwk(use="enc")]}}, "jwks", "no key for signatures"),
    ({"jwks": {"keys": [RSA.public_jwk(use="wrap")]}}, "jwks", "use other than sig or enc"),
    ({"jwks": {"keys": [RSA.public_jwk(), {**rsa_pair("e").private_jwk(), "use": "enc"}]}},
     "jwks", "Key 2 (kid 'e') holds private key material"),
    # Kids: present, unique.
    ({"jwks": {"keys": [_without(RSA.public_jwk(), "kid")]}}, "jwks", "Key 1 needs a kid"),
    ({"jwks": {"keys": [RSA.public_jwk(), {**EC.public_jwk(), "kid": "rsa-1"}]}}, "jwks",
     "Key 2 (kid 'rsa-1') has the kid of an earlier key"),
    # The set itself.
    ({"jwks": {"keys": []}}, "jwks", "between 1 and 10"),
    ({"jwks": {"keys": [rsa_pair(f"k{i}").public_jwk() for i in range(11)]}}, "jwks",
     "between 1 and 10"),
    ({"jwks": {"key": []}}, "jwks", "a JWK Set"),
    # Exactly one of jwks and jwks_uri, and only for private_key_jwt.
    ({}, "jwks", "exactly one of jwks and jwks_uri"),
    ({"jwks": jwks(RSA), "jwks_uri": "https://a.example/j"}, "jwks", "not both"),
    ({"jwks_uri": "http://a.example/j"}, "jwks_uri", "https"),
    ({"token_endpoint_auth_method": "client_secret_basic", "jwks": jwks(RSA)}, "jwks",
     "Only a private_key_jwt client"),
    ({"token_endpoint_auth_method": "none", "jwks_uri": "https://a.example/j"}, "jwks_uri",
     "Only a private_key_jwt client"),
])
def test_a_key_set_is_refused_naming_the_key(metadata: dict[str, Any], field: str,
                                              says: str) -> None:
    errors = refusal(**{"token_endpoint_auth_method": PKJ, **metadata})
    assert field in errors, errors
    assert any(says in message for message in errors[field]), errors[field]


def test_no_private_value_is_echoed() -> None:
    private = RSA.private_jwk()
    errors = refusal(token_endpoint_auth_method=PKJ, jwks={"keys": [private]})
    text = repr(errors)
    assert all(private[member] not in text for member in ("d", "p", "q", "n"))
