"""Key pairs a private_key_jwt client holds, made in the test (cryptography), and the
assertions it signs with PyJWT: the client side of RFC 7523, for every tier's tests."""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUDIENCE = "https://as.example.com/token"


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private: Any
    alg: str

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        """The public key as a JWK, with its kid (and `extra` members)."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        jwk.pop("key_ops", None)  # PyJWT adds it; a registered key needs only its numbers
        return {**jwk, "kid": self.kid, **extra}

    def private_jwk(self) -> dict[str, Any]:
        """The whole key, private members and all: what must never be registered."""
        if self.alg in ("RS256", "PS256"):
            jwk = RSAAlgorithm.to_jwk(self.private, as_dict=True)
        elif self.alg.startswith("ES"):
            jwk = ECAlgorithm.to_jwk(self.private, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(self.private, as_dict=True)
        return {**jwk, "kid": self.kid}

    def sign(self, client_id: str, *, audience: str | list[str] = AUDIENCE,
             lifetime_s: int = 60, alg: str | None = None, kid: str | bool | None = True,
             **claims: Any) -> str:
        """An assertion as RFC 7523 section 3 asks; `claims` override or (None) drop."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": audience,
                                "iat": now, "exp": now + lifetime_s, "jti": uuid.uuid4().hex}
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        headers = {"kid": self.kid if kid is True else kid} if kid not in (False, None) else {}
        return jwt.encode(body, self.private, algorithm=alg or self.alg, headers=headers)


@functools.cache
def _rsa(bits: int, seed: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_pair(kid: str = "rsa-1", bits: int = 2048, alg: str = "RS256") -> KeyPair:
    return KeyPair(kid, _rsa(bits, kid), alg)


def ec_pair(kid: str = "ec-1", curve: str = "P-256") -> KeyPair:
    if curve == "P-256":
        return KeyPair(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")
    return KeyPair(kid, ec.generate_private_key(ec.SECP384R1()), "ES384")


def ed_pair(kid: str = "ed-1") -> KeyPair:
    return KeyPair(kid, ed25519.Ed25519PrivateKey.generate(), "EdDSA")


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [pair.public_jwk() for pair in pairs]}
