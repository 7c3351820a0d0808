"""private_key_jwt through HTTP: a client registered with its public keys (inline, or a
jwks_uri served over local https by the test), its assertions checked by
POST /v1/client-authentication, a jti refused by a second gateway on the same database,
key rotation both ways, and the SSRF guard on a jwks_uri that resolves to 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api import keys
from api.app import create_app
from api.auth.principals import CLIENTS_VERIFY
from common.settings import Settings
from tests.client_keys import AUDIENCE, JWT_BEARER, KeyPair, ec_pair, jwks, rsa_pair
from tests.e2e.conftest import AiohttpClient, Service, start_service
from tests.harness import add_token, bearer
from tests.jwks_server import JwksServer, self_signed, serving_jwks

OLD, NEW, EC = rsa_pair("old-key"), rsa_pair("new-key"), ec_pair("ec-key")


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
def pkj_settings(settings: Settings, tls_files: tuple[Path, Path]) -> Settings:
    return settings.with_overrides(jwks_uri_allow_private=True, outbound_ca_file=tls_files[0])


@pytest.fixture
async def running(pkj_settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    async for service in start_service(pkj_settings, aiohttp_client, 1):
        yield service, bearer(add_token(pkj_settings, "authz", CLIENTS_VERIFY))


@pytest.fixture
async def jwks_server(tls_files: tuple[Path, Path]) -> AsyncIterator[JwksServer]:
    async with serving_jwks(*tls_files, jwks(OLD)) as server:
        yield server


def client_body(**keys_given: Any) -> dict[str, Any]:
    return {"type": "oauth2", "name": "Web app", "grant_types": ["authorization_code"],
            "redirect_uris": ["https://app.example.com/cb"], "response_types": ["code"],
            "token_endpoint_auth_method": "private_key_jwt", **keys_given}


async def approved(service: Service, body: dict[str, Any]) -> str:
    key = str((await service.create(body))["key"])
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    return key


async def authenticate(http: TestClient[Any, Any], verifier: dict[str, str], assertion: str,
                       **extra: Any) -> dict[str, Any]:
    body = {"form": {"client_assertion_type": JWT_BEARER, "client_assertion": assertion},
            "audiences": [AUDIENCE], **extra}
    response = await http.post("/v1/client-authentication", headers=verifier, json=body)
    answer: dict[str, Any] = await response.json()
    assert response.status == 200, answer
    return answer


async def test_a_registered_key_authenticates_once_across_gateways(
        running: tuple[Service, dict[str, str]], pkj_settings: Settings,
        aiohttp_client: AiohttpClient) -> None:
    service, verifier = running
    created = await service.create(client_body(jwks=jwks(OLD, EC)))
    assert created["jwks"] == jwks(OLD, EC) and created["client_secret_issued_at"] is None
    key = created["key"]
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    assertion = OLD.sign(key)
    first = await authenticate(service.http, verifier, assertion)
    assert (first["valid"], first["reason"], first["method"]) == (True, "ok", "private_key_jwt")
    assert first["client"]["client_id"] == key
    assert (await authenticate(service.http, verifier, EC.sign(key)))["reason"] == "ok"

    other = await aiohttp_client(create_app(pkj_settings))
    await other.app[keys.READ_MODEL].loaded.wait()
    again = await authenticate(other, verifier, assertion)
    assert (again["valid"], again["reason"], again["client"]) == (False, "replayed_jti", None)
    assert (await authenticate(other, verifier, OLD.sign(key)))["reason"] == "ok"


async def test_a_key_rotated_in_jwks(running: tuple[Service, dict[str, str]]) -> None:
    service, verifier = running
    key = await approved(service, client_body(jwks=jwks(OLD)))
    assert (await authenticate(service.http, verifier, NEW.sign(key)))["reason"] == \
        "bad_signature"
    edited = await service.request("PATCH", f"/v1/clients/{key}", json={"jwks": jwks(NEW)})
    assert edited.status == 200, await edited.text()
    assert (await edited.json())["jwks"] == jwks(NEW)
    history = await (await service.request("GET", f"/v1/clients/{key}/history")).json()
    assert history["items"][0]["fields"] == ["jwks"]
    assert (await authenticate(service.http, verifier, NEW.sign(key)))["reason"] == "ok"
    refused = await authenticate(service.http, verifier, OLD.sign(key))
    assert (refused["valid"], refused["reason"]) == (False, "bad_signature")


async def test_a_private_key_is_refused_at_registration_naming_it(
        running: tuple[Service, dict[str, str]]) -> None:
    service, _ = running
    private = OLD.private_jwk()
    answer = await service.create(client_body(jwks={"keys": [EC.public_jwk(), private]}),
                                  expect=400)
    assert any("Key 2 (kid 'old-key') holds private key material" in message
               for message in answer["errors"]["jwks"]), answer
    assert private["d"] not in str(answer)
    secret = await service.create(client_body(jwks=jwks(OLD), secret="s3cret-value-for-tests",
                                              secret_confirmation="s3cret-value-for-tests"),
                                  expect=400)
    assert "secret" in secret["errors"], secret


async def test_a_key_rotated_at_the_jwks_uri_is_picked_up_at_once(
        running: tuple[Service, dict[str, str]], jwks_server: JwksServer) -> None:
    service, verifier = running
    key = await approved(service, client_body(jwks_uri=jwks_server.uri()))
    assert (await authenticate(service.http, verifier, OLD.sign(key)))["reason"] == "ok"
    assert (await authenticate(service.http, verifier, OLD.sign(key)))["reason"] == "ok"
    assert len(jwks_server.fetches) == 1  # kept for its max-age
    jwks_server.jwks = jwks(NEW)
    assert (await authenticate(service.http, verifier, NEW.sign(key)))["reason"] == "ok"
    assert len(jwks_server.fetches) == 2
    # Another unknown kid within the minute does not fetch again.
    stranger = KeyPair("stranger", rsa_pair("elsewhere").private, "RS256")
    assert (await authenticate(service.http, verifier, stranger.sign(key)))["reason"] == \
        "bad_signature"
    assert len(jwks_server.fetches) == 2
    assert (await authenticate(service.http, verifier, OLD.sign(key)))["reason"] == \
        "bad_signature"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_jwks_uri_on_a_loopback_address_is_refused_unless_allowed(
        running: tuple[Service, dict[str, str]], jwks_server: JwksServer,
        pkj_settings: Settings, aiohttp_client: AiohttpClient, host: str) -> None:
    service, verifier = running
    key = await approved(service, client_body(jwks_uri=jwks_server.uri(host)))
    guarded = await aiohttp_client(create_app(pkj_settings.with_overrides(
        jwks_uri_allow_private=False)))
    await guarded.app[keys.READ_MODEL].loaded.wait()
    refused = await authenticate(guarded, verifier, OLD.sign(key))
    assert (refused["valid"], refused["reason"]) == (False, "jwks_unavailable")
    assert jwks_server.fetches == []
    fetches = guarded.app[keys.METRICS].jwks_fetches.labels("refused_address")
    assert fetches._value.get() == 1
    assert (await authenticate(service.http, verifier, OLD.sign(key)))["reason"] == "ok"


async def test_a_secret_client_moves_to_private_key_jwt_and_loses_its_secret(
        running: tuple[Service, dict[str, str]]) -> None:
    service, verifier = running
    body = {**client_body(), "token_endpoint_auth_method": "client_secret_basic",
            "secret": "s3cret-value-for-tests", "secret_confirmation": "s3cret-value-for-tests"}
    key = await approved(service, body)
    keyless = await service.request("PATCH", f"/v1/clients/{key}", json={
        "token_endpoint_auth_method": "private_key_jwt"})
    assert keyless.status == 400 and "jwks" in (await keyless.json())["errors"]
    moved = await service.request("PATCH", f"/v1/clients/{key}", json={
        "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(OLD)})
    answer = await moved.json()
    assert moved.status == 200, answer
    assert (answer["client_secret_issued_at"], answer["jwks_uri"]) == (None, None)
    assert (await authenticate(service.http, verifier, OLD.sign(key)))["reason"] == "ok"
    both = await service.request("PATCH", f"/v1/clients/{key}", json={
        "jwks_uri": "https://keys.example/jwks"})
    assert both.status == 400 and "not both" in str((await both.json())["errors"]["jwks"])
    to_uri = await service.request("PATCH", f"/v1/clients/{key}", json={
        "jwks": None, "jwks_uri": "https://keys.example/jwks"})
    assert to_uri.status == 200, await to_uri.text()
    assert (await to_uri.json())["jwks"] is None


async def test_failed_assertions_hold_back_their_source(
        running: tuple[Service, dict[str, str]]) -> None:
    service, verifier = running
    key = await approved(service, client_body(jwks=jwks(OLD)))
    limit = service.settings.secret_failures_per_minute
    for _ in range(limit):
        refused = await authenticate(service.http, verifier, NEW.sign(key),
                                     remote_addr="203.0.113.9")
        assert refused["reason"] == "bad_signature"
    held = await service.request("POST", "/v1/client-authentication", headers=verifier, json={
        "form": {"client_assertion_type": JWT_BEARER, "client_assertion": OLD.sign(key)},
        "audiences": [AUDIENCE], "remote_addr": "203.0.113.9"})
    assert held.status == 429 and int(held.headers["Retry-After"]) > 0
    assert (await authenticate(service.http, verifier, OLD.sign(key),
                               remote_addr="198.51.100.4"))["reason"] == "ok"


async def test_an_assertion_without_audiences_is_a_clear_400(
        running: tuple[Service, dict[str, str]]) -> None:
    service, verifier = running
    response = await service.request("POST", "/v1/client-authentication", headers=verifier,
                                      json={"form": {"client_assertion_type": JWT_BEARER,
                                                     "client_assertion": OLD.sign("any")}})
    problem = await response.json()
    assert response.status == 400 and "audiences" in problem["errors"], problem
