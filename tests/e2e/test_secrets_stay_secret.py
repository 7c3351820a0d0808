"""A recognisable secret goes through every operation and shows up nowhere.

The service runs with its keyring in a file; the secret is created, replaced by
an edit, rotated with a grace (so it is kept as a previous secret), re-encrypted
by `clientkeys keys rotate` while the service runs, its grace ended, and the
client approved, disapproved and removed; a second client gets a generated
secret, and a generated one again by a rotation. Nowhere means: no log record
at any level (message, arguments or traceback), no message on any exchange of
the namespace (a tap queue is bound to each), no byte of any document of any
collection (raw BSON), no output of the command line, and no HTTP response —
except the one answer that shows a generated secret, once. Plain, hex and
base64 forms are all looked for.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path
from typing import Any

import pytest
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase

from api import keys
from common.settings import Settings
from common.store import Document
from common.topology import Topology
from tests.client_keys import AUDIENCE, JWT_BEARER, KeyPair, rsa_pair
from tests.e2e.conftest import Service, oidc_client
from tests.harness import WireTap, run_cli, wire_tap, with_keyring_file

CANARY = "CANARY-secret-7f3a9c0d"
SECOND = "CANARY-second-b81d2e4f"
THIRD = "CANARY-rotated-5e0a6c93"
# created x2, updated, secret_rotated x2, approved, disapproved, updated (grace ended),
# removed x2
EVENTS_EXPECTED = 10


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_keyring_file(settings, tmp_path)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger, from before the service starts."""
    for name in (None, "aio_pika", "aiormq", "aiohttp", "pymongo"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def encodings(secret: str) -> list[bytes]:
    """The secret as bytes, hex, and base64/base64url at each alignment in a longer value."""
    raw = secret.encode()
    found = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw)
            # Only the characters that depend on the secret's bytes alone.
            found.add(text[4 if shift else 0:(shift + len(raw)) // 3 * 4])
    return sorted(found)


def log_texts(caplog: pytest.LogCaptureFixture) -> list[bytes]:
    formatter = logging.Formatter()
    texts = []
    for record in caplog.records:
        formatted = formatter.format(record)  # also fills exc_text
        # vars(): also the fields passed as `extra`, which the JSON lines carry.
        texts.append(" ".join((formatted, str(record.msg), repr(record.args),
                               record.exc_text or "", repr(vars(record)))).encode())
    return texts


async def raw_documents(db: AsyncDatabase[Document]) -> list[bytes]:
    raw = []
    for name in await db.list_collection_names():
        collection = db.get_collection(name).with_options(
            codec_options=db.codec_options.with_options(document_class=RawBSONDocument))
        raw += [document.raw for document in await collection.find({}).to_list()]
    return raw


async def wait_for_events(tap: WireTap, events_exchange: str, count: int) -> None:
    for _ in range(200):
        if sum(m.exchange == events_exchange for m in tap.messages) >= count:
            return
        await asyncio.sleep(0.05)


async def test_a_secret_through_every_operation_and_a_rotation_shows_up_nowhere(
        debug_logs: pytest.LogCaptureFixture, service: Service,
        capsys: pytest.CaptureFixture[str]) -> None:
    topology = Topology(service.settings.namespace)
    db = service.http.app[keys.DB]
    responses: list[bytes] = []

    async def call(method: str, path: str, body: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        response = await service.request(method, path, json=body,
                                         headers={**service.admin, **(headers or {})})
        raw = await response.read()
        responses.append(raw + repr(sorted(response.headers.items())).encode())
        assert response.status < 300, raw
        return await response.json() if response.status != 204 else None

    address = service.http.app[keys.REPLY_ADDRESS]
    async with wire_tap(service.settings, reply_addresses=[address]) as tap:
        created = await call("POST", "/v1/clients",
                             oidc_client(secret=CANARY, secret_confirmation=CANARY),
                             {"Idempotency-Key": "create-canary"})
        key = created["key"]
        asking = {k: v for k, v in oidc_client("Generated").items()
                  if not k.startswith("secret")}
        generated = await call("POST", "/v1/clients", {**asking, "generate_secret": True},
                               {"Idempotency-Key": "create-generated"})
        shown_once = generated.pop("secret")
        await call("PATCH", f"/v1/clients/{key}",
                   {"secret": SECOND, "secret_confirmation": SECOND, "name": "Renamed"})
        rotated = await call("POST", f"/v1/clients/{key}/secret/rotate",
                             {"secret": THIRD, "secret_confirmation": THIRD},
                             {"Idempotency-Key": "rotate-canary"})
        assert len(rotated["previous_secrets"]) == 1  # SECOND is kept, sealed, for a while
        rotated_generated = await call("POST",
                                       f"/v1/clients/{generated['key']}/secret/rotate",
                                       {"generate_secret": True, "grace_seconds": 60})
        shown_on_rotation = rotated_generated.pop("secret")
        assert await run_cli(service.settings, "keys", "rotate", "--key-id", "rotated",
                             "--settle", "0") == 0
        await call("POST", f"/v1/clients/{key}/approve")
        await service.http.app[keys.READ_MODEL].refresh(key)
        verifier = service.everything
        for secret, valid in ((THIRD, True), (SECOND, True), (CANARY, False)):
            verdict = await call("POST", f"/v1/clients/{key}/verify", {"secret": secret},
                                 verifier)
            assert verdict["valid"] is valid, secret  # the verify answer never echoes it
        await call("POST", f"/v1/clients/{key}/disapprove")
        await call("GET", f"/v1/clients/{key}")
        await call("GET", "/v1/clients")
        await call("GET", f"/v1/clients/{key}/history")
        await call("GET", "/v1/audit")
        stored = await raw_documents(db)
        await call("DELETE", f"/v1/clients/{key}/secret/previous")
        await call("DELETE", f"/v1/clients/{key}")
        await call("DELETE", f"/v1/clients/{generated['key']}")
        await wait_for_events(tap, topology.events_exchange, EVENTS_EXPECTED)
        stored += await raw_documents(db)
    printed = capsys.readouterr()
    command_line = (printed.out + printed.err).encode()
    logs = log_texts(debug_logs)

    assert b"clients: 2 re-encrypted under 'rotated'" in command_line
    assert {topology.commands_exchange, topology.replies_exchange,
            topology.events_exchange} <= tap.exchanges_seen()
    assert sum(m.exchange == topology.events_exchange for m in tap.messages) \
        == EVENTS_EXPECTED
    assert stored and logs  # the scans did read documents and records
    wire = tap.raw()
    # The answer each generated secret is shown in: its own, once.
    shown_in = {shown_once: 1, shown_on_rotation: 4}
    for secret in (CANARY, SECOND, THIRD, shown_once, shown_on_rotation):
        for needle in encodings(secret):
            assert not any(needle in text for text in logs), (secret, needle)
            assert not any(needle in message for message in wire), (secret, needle)
            assert not any(needle in document for document in stored), (secret, needle)
            assert needle not in command_line
            showing = [i for i, body in enumerate(responses) if needle in body]
            assert showing == ([shown_in[secret]] if secret in shown_in
                               and needle == secret.encode() else []), (secret, needle)


async def test_a_client_assertion_and_its_keys_show_up_nowhere_but_kid_and_alg(
        debug_logs: pytest.LogCaptureFixture, service: Service) -> None:
    """private_key_jwt: the assertion (any of its three parts) and the private key's
    numbers are in no log record, message or document; the kid and alg may be. The public
    key is public data: it is in the answers, the events and the stored client (and so in
    the MongoDB driver's DEBUG command log), never logged by the check itself."""
    pair = KeyPair("canary-kid-4d1e", rsa_pair("canary-key").private, "RS256")
    jwk, private = pair.public_jwk(), pair.private_jwk()
    topology = Topology(service.settings.namespace)
    address = service.http.app[keys.REPLY_ADDRESS]
    async with wire_tap(service.settings, reply_addresses=[address]) as tap:
        body = {"type": "oauth2", "name": "Signed", "redirect_uris": ["https://a.example/cb"],
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}}
        key = (await service.create(body))["key"]
        refused = await service.create({**body, "jwks": {"keys": [private]}}, expect=400)
        assert "jwks" in refused["errors"]
        assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
        assertions = [pair.sign(key), pair.sign(key, audience="https://wrong.example")]
        for assertion, reason in zip(assertions, ("ok", "wrong_audience"), strict=True):
            response = await service.request("POST", "/v1/client-authentication",
                                             headers=service.everything, json={
                "form": {"client_assertion_type": JWT_BEARER, "client_assertion": assertion},
                "audiences": [AUDIENCE]})
            assert (await response.json())["reason"] == reason
        await wait_for_events(tap, topology.events_exchange, 2)
        stored = await raw_documents(db := service.http.app[keys.DB])
        assert stored and db is not None
    logs = log_texts(debug_logs)
    assert logs and any(b"canary-kid-4d1e" in text for text in logs)  # the kid is logged
    parts = [part.encode() for assertion in assertions for part in assertion.split(".")]
    numbers = [private[name].encode() for name in ("d", "p", "q", "dp", "dq", "qi")]
    checks = [text for text, record in zip(logs, debug_logs.records, strict=True)
              if record.name.startswith(("api", "common", "worker"))]
    assert checks
    for needle in parts + numbers:
        assert not any(needle in text for text in logs), needle
    assert not any(jwk["n"].encode() in text for text in checks)
    wire, documents = tap.raw(), stored
    for needle in parts + numbers:
        assert not any(needle in message for message in wire), needle
        assert not any(needle in document for document in documents), needle
