"""A stand-in for the platform's identity provider: signing keys, tokens and a JWKS.

`SigningKey` makes RS256/ES256 keys with `cryptography` and signs tokens with
PyJWT; `IdentityProvider` serves the public keys as a JWKS from a real aiohttp
server on a free port, counts the fetches and can rotate its key or go down.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.test"
AUDIENCE = "clientkeys"
# A shared secret for the HS256 tests (at least 32 bytes, as the gateway requires).
HS256_SECRET = b"an-hs256-secret-of-at-least-32-bytes!"


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @classmethod
    def rs256(cls) -> SigningKey:
        return cls("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def es256(cls) -> SigningKey:
        return cls("ES256", ec.generate_private_key(ec.SECP256R1()))

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        public: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None,
             with_kid: bool = True) -> str:
        headers = {"kid": kid or self.kid} if with_kid else None
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)


def claims(subject: str = "ops-bot", *permissions: str, **extra: Any) -> dict[str, Any]:
    """Claims the provider would issue for the gateway, valid for five minutes."""
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300,
            "permissions": list(permissions), **extra}


@dataclass
class IdentityProvider:
    keys: list[SigningKey]
    url: str = ""
    up: bool = True
    fetches: int = 0

    def rotate(self) -> SigningKey:
        """Replace every key by a new one, as a provider does after a compromise."""
        self.keys = [SigningKey.rs256()]
        return self.keys[0]

    async def serve_jwks(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if not self.up:
            return web.Response(status=503)
        return web.json_response({"keys": [key.jwk() for key in self.keys]})


@asynccontextmanager
async def identity_provider(*keys: SigningKey) -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider(list(keys) or [SigningKey.rs256()])
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", provider.serve_jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    provider.url = str(server.make_url("/.well-known/jwks.json"))
    try:
        yield provider
    finally:
        await server.close()
