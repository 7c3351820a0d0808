"""A sealed secret belongs to one client and one slot (common.keyring), through the service.

Someone who can write to MongoDB but holds no key can copy sealed values around.
Copied to another client, or from the previous slot back to the current one, a
value no longer opens, so the gateway treats it as no secret at all. Values
sealed the legacy way (before this binding) still check until `clientkeys keys
rotate --reencrypt-only` binds them, which it does while the service serves,
once: a second run changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from oauthlib.oauth1 import Client

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.keyring import (
    LEGACY_AAD,
    Keyring,
    SealedSecret,
    SecretSlot,
    client_secret_aad,
    idempotent_response_aad,
)
from common.settings import Settings
from common.store import CLIENTS, IDEMPOTENCY_KEYS, Document
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, oidc_client, start_service
from tests.harness import add_token, bearer, run_cli

SECRET_A, SECRET_B = "secret-of-client-a-5f1d", "secret-of-client-b-93c0"
ROTATED_A = "rotated-secret-of-a-77e2"


@pytest.fixture
async def checked(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    async for running in start_service(settings, aiohttp_client, 1):
        yield running, bearer(add_token(settings, "authz", CLIENTS_VERIFY))


async def approved_client(service: Service, name: str, secret: str) -> str:
    key: str = (await service.create(oidc_client(name, secret=secret,
                                                 secret_confirmation=secret)))["key"]
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    return key


async def verdict(service: Service, verifier: dict[str, str], key: str, secret: str
                  ) -> tuple[bool, str]:
    response = await service.request("POST", f"/v1/clients/{key}/verify", headers=verifier,
                                     json={"secret": secret})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body["valid"], body["reason"]


async def stored(service: Service, key: str) -> Document:
    document: Document | None = await service.http.app[keys.DB][CLIENTS].find_one({"key": key})
    assert document is not None
    return document


async def tamper(service: Service, key: str, changes: Document) -> None:
    """Change a client's stored secrets behind the service's back, and let the
    gateway's read model take them in as its reconciliation would."""
    await service.http.app[keys.DB][CLIENTS].update_one({"key": key}, {"$set": changes})
    await service.http.app[keys.READ_MODEL].reconcile()


async def test_a_secret_copied_to_another_client_does_not_verify_there(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    a = await approved_client(service, "A", SECRET_A)
    b = await approved_client(service, "B", SECRET_B)
    await service.http.app[keys.READ_MODEL].reconcile()
    assert await verdict(service, verifier, b, SECRET_B) == (True, "ok")

    copied = (await stored(service, a))["secret"]
    await tamper(service, b, {"secret": copied})

    held = service.http.app[keys.READ_MODEL].get(b)
    assert held is not None and held.secrets[0][0] == SealedSecret.from_document(copied)
    assert await verdict(service, verifier, b, SECRET_A) == (False, "invalid_client")
    assert await verdict(service, verifier, b, SECRET_B) == (False, "invalid_client")
    assert await verdict(service, verifier, a, SECRET_A) == (True, "ok")


async def test_a_previous_secret_moved_back_to_the_current_slot_does_not_verify(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    a = await approved_client(service, "A", SECRET_A)
    rotated = await service.request("POST", f"/v1/clients/{a}/secret/rotate", json={
        "secret": ROTATED_A, "secret_confirmation": ROTATED_A, "grace_seconds": 600})
    assert rotated.status == 200, await rotated.text()
    await service.http.app[keys.READ_MODEL].reconcile()
    assert await verdict(service, verifier, a, SECRET_A) == (True, "ok")  # in its grace

    [replaced] = (await stored(service, a))["previous_secrets"]
    await tamper(service, a, {"secret": replaced["secret"], "previous_secrets": []})

    assert await verdict(service, verifier, a, SECRET_A) == (False, "invalid_client")


def oauth1_signed(key: str, secret: str) -> dict[str, Any]:
    """A request as a consumer signs it (HMAC-SHA1, in the Authorization header)."""
    _, headers, _ = Client(key, client_secret=secret).sign(
        "https://api.example.com/photos", http_method="GET")
    return {"method": "GET", "url": "https://api.example.com/photos",
            "authorization": headers["Authorization"]}


async def test_an_oauth1_consumer_with_a_copied_secret_is_refused_not_an_error(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    a = await approved_client(service, "A", SECRET_A)
    consumer = (await service.create(oauth1_client()))["key"]
    assert (await service.request("POST", f"/v1/clients/{consumer}/approve")).status == 200

    async def check(secret: str) -> tuple[bool, str]:
        response = await service.request("POST", "/v1/oauth1/verify", headers=verifier,
                                         json=oauth1_signed(consumer, secret))
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body["valid"], body["reason"]

    await service.http.app[keys.READ_MODEL].reconcile()
    assert await check("consumer-secret-123") == (True, "ok")  # oauth1_client()'s
    await tamper(service, consumer, {"secret": (await stored(service, a))["secret"]})
    assert await check(SECRET_A) == (False, "bad_signature")


# Migration from legacy values ------------------------------------------------------------

def as_legacy(keyring: Keyring, value: Document, aad: bytes) -> Document:
    """`value` as it was stored before values were bound: sealed with the constant, no `v`."""
    plaintext = keyring.open(SealedSecret.from_document(value), aad)
    return dataclasses.replace(keyring.seal(plaintext, LEGACY_AAD), bound=False).to_document()


def sealed_values(document: Document) -> list[Document]:
    return [document["secret"], *(p["secret"] for p in document.get("previous_secrets", []))]


async def test_legacy_secrets_verify_before_and_after_the_migration_which_runs_once(
        checked: tuple[Service, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    service, verifier = checked
    keyring = service.settings.keyring()
    db = service.http.app[keys.DB]
    a = await approved_client(service, "A", SECRET_A)
    assert (await service.request("POST", f"/v1/clients/{a}/secret/rotate", json={
        "secret": ROTATED_A, "secret_confirmation": ROTATED_A, "grace_seconds": 600})).status \
        == 200
    remembered = {**service.admin, "Idempotency-Key": "create-b"}
    created_b = await service.request("POST", "/v1/clients", headers=remembered,
                                      json=oidc_client("B"))
    assert created_b.status == 201
    # Every stored value as a release from before the binding sealed it.
    document = await stored(service, a)
    await tamper(service, a, {
        "secret": as_legacy(keyring, document["secret"], client_secret_aad(a, SecretSlot.CURRENT)),
        "previous_secrets": [{**p, "secret": as_legacy(
            keyring, p["secret"], client_secret_aad(a, SecretSlot.PREVIOUS))}
            for p in document["previous_secrets"]]})
    record = await db[IDEMPOTENCY_KEYS].find_one({"response": {"$exists": True}})
    assert record is not None
    await db[IDEMPOTENCY_KEYS].update_one({"_id": record["_id"]}, {"$set": {
        "response.body": as_legacy(keyring, record["response"]["body"],
                                   idempotent_response_aad(record["_id"]))}})
    assert all("v" not in value for value in sealed_values(await stored(service, a)))

    assert await verdict(service, verifier, a, ROTATED_A) == (True, "ok")
    assert await verdict(service, verifier, a, SECRET_A) == (True, "ok")
    assert await run_cli(service.settings, "keys", "status") == 0
    assert "legacy values, not bound to their place: clients 2, idempotency_keys 1" \
        in capsys.readouterr().out

    assert await run_cli(service.settings, "keys", "rotate", "--reencrypt-only") == 0
    printed = capsys.readouterr().out
    assert "legacy values, not bound to their place: clients 0, idempotency_keys 0" in printed

    migrated = await stored(service, a)
    assert [value["v"] for value in sealed_values(migrated)] == [2, 2]
    assert migrated["version"] == document["version"]
    await service.http.app[keys.READ_MODEL].reconcile()
    assert await verdict(service, verifier, a, ROTATED_A) == (True, "ok")
    assert await verdict(service, verifier, a, SECRET_A) == (True, "ok")
    replayed = await service.request("POST", "/v1/clients", headers=remembered,
                                     json=oidc_client("B"))
    assert replayed.status == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert await replayed.json() == await created_b.json()

    assert await run_cli(service.settings, "keys", "rotate", "--reencrypt-only") == 0
    assert "nothing to re-encrypt" in capsys.readouterr().out
    assert await stored(service, a) == migrated
