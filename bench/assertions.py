"""`make bench` rows for private_key_jwt: a client assertion checked, RS256 and ES256.

Two approved clients are seeded with their public keys (by the worker's own create
handler, as `bench.seed` does), and each load is a list of assertions signed here, one
`jti` each, more than the load gets through: every request is the real path (signature,
claims, and the one `insert_one` of the jti). Were wrk to go round the list again, an
assertion would be a replay, refused, and past the failure limiter's allowance held back
with 429. The figure is printed beside the raw insert_one rate (the write each makes), not
judged.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pymongo import AsyncMongoClient

from bench.report import Row, described
from bench.seed import Collected
from common.clients import ClientType, Status
from common.commands import CreateClient
from common.keyring import Keyring
from common.store import CLIENTS, Document
from worker.handlers import create_client
from worker.repository import ClientStore

if TYPE_CHECKING:
    from bench.run import Bench
    from bench.stack import Process

AUDIENCE = "https://as.example.com/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Assertions per second of the load signed in advance, at least (RSA signing is about a
# millisecond).
SIGNED_PER_SECOND = 800
Signers = dict[str, tuple[str, Any]]  # alg -> (client key, private key)


def _key_pair(alg: str) -> tuple[Any, dict[str, Any]]:
    if alg == "RS256":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public.pop("key_ops", None)
    return private, {**public, "kid": f"bench-{alg.lower()}"}


async def seed_signing_clients(uri: str, keyring: Keyring) -> Signers:
    """An approved private_key_jwt client per algorithm; their keys to sign with."""
    signers: Signers = {}
    collected = Collected()
    for alg in ("RS256", "ES256"):
        private, public = _key_pair(alg)
        command = CreateClient(
            id=str(uuid.uuid4()), actor="bench", request_id=f"seed-{alg}",
            type=ClientType.OAUTH2, name=f"Signing client {alg}",
            redirect_uris=["https://signing.example.com/callback"],
            grant_types=["authorization_code"], response_types=["code"],
            token_endpoint_auth_method="private_key_jwt", jwks={"keys": [public]})
        applied = await create_client(command, cast(ClientStore, collected), keyring)
        if applied.outcome.error is not None:
            raise ValueError(f"seed {alg} client: {applied.outcome.error.message}")
        document = collected.documents[-1]
        document.pop("outbox", None)
        document.pop("outbox_since", None)
        document["status"] = Status.APPROVED.value
        signers[alg] = (document["key"], private)
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True,
                                                          uuidRepresentation="standard")
    try:
        await client.get_default_database()[CLIENTS].insert_many(
            cast(list[Document], collected.documents))
    finally:
        await client.close()
    return signers


def _requests(alg: str, key: str, private: Any, count: int) -> list[tuple[str, str, str]]:
    now = int(time.time())
    requests = []
    for _ in range(count):
        # Valid for 5 minutes (the longest the service takes): the load runs within it.
        claims = {"iss": key, "sub": key, "aud": AUDIENCE, "iat": now, "exp": now + 290,
                  "jti": uuid.uuid4().hex}
        assertion = jwt.encode(claims, private, algorithm=alg,
                               headers={"kid": f"bench-{alg.lower()}"})
        body = {"form": {"client_assertion_type": JWT_BEARER, "client_assertion": assertion},
                "audiences": [AUDIENCE]}
        requests.append(("POST", "/v1/client-authentication", json.dumps(body)))
    return requests


def assertion_rows(bench: Bench, gateway: Process, signers: Signers) -> None:
    from bench.run import raw  # the one way raw limits are measured

    insert = raw("insert", bench.profile, uri=bench.stack.mongodb_uri)
    # Each accepted assertion is one insert of its jti, so the load cannot go much past
    # the insert rate: signed for half as much again, it never runs into replays, whose
    # failures past the limiter's allowance would be held back with 429.
    count = int(bench.profile.seconds * max(SIGNED_PER_SECOND, 1.5 * insert.rate))
    for alg, (key, private) in signers.items():
        measured = bench.load(gateway, f"assertion-{alg}", _requests(alg, key, private, count),
                              200)
        bench.rows.append(Row(
            f"client assertion {alg} ({count:,} signed, each once)",
            described(measured, 200), f"insert_one: {described(insert)}",
            f"{measured.rate / insert.rate:.0%}" if insert.rate else "—", "printed", None))
