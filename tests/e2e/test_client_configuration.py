"""RFC 7592: a registered client reads, replaces and removes itself with its own token;
and what it registered stays unusable until approved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.settings import Settings
from tests.client_keys import AUDIENCE, JWT_BEARER, KeyPair, ec_pair, jwks, rsa_pair
from tests.e2e.conftest import AiohttpClient, Service, start_service
from tests.e2e.registration_helpers import new_token, register, rfc7591_client, with_token
from tests.harness import add_token, bearer


async def _registered(service: Service, **overrides: Any) -> dict[str, Any]:
    token = await new_token(service)
    status, body, _ = await register(service, token["token"], rfc7591_client(**overrides))
    assert status == 201, body
    return body


async def _call(service: Service, method: str, client: dict[str, Any], token: str | None,
                body: dict[str, Any] | None = None) -> tuple[int, Any, dict[str, str]]:
    path = f"/oauth/register/{client['client_id']}"
    response = await service.http.request(method, path, json=body, headers=with_token(token))
    answer = await response.json() if response.status != 204 else None
    return response.status, answer, dict(response.headers)


def _replacement(client: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {name: client[name] for name in (
        "client_id", "client_name", "redirect_uris", "grant_types", "response_types",
        "token_endpoint_auth_method", "scope", "contacts", "logo_uri")}
    body.update(changes)
    return body


async def test_a_client_reads_itself_with_its_token(service: Service) -> None:
    client = await _registered(service)
    status, body, headers = await _call(service, "GET", client,
                                        client["registration_access_token"])
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert body["client_id"] == client["client_id"] and body["status"] == "pending"
    assert "client_secret" not in body and "registration_access_token" not in body


async def test_a_token_opens_only_its_own_client(service: Service) -> None:
    first, second = await _registered(service), await _registered(service)
    for method in ("GET", "DELETE"):
        status, body, headers = await _call(service, method, second,
                                            first["registration_access_token"])
        assert (status, body["error"]) == (401, "invalid_token")
        assert headers["WWW-Authenticate"].startswith("Bearer")
    status, _, _ = await _call(service, "GET", second, None)
    assert status == 401
    missing = {"client_id": "no-such-client"}
    assert (await _call(service, "GET", missing, first["registration_access_token"]))[0] == 401


async def test_an_update_rotates_the_token(service: Service) -> None:
    client = await _registered(service)
    old = client["registration_access_token"]
    status, body, _ = await _call(service, "PUT", client, old,
                                  _replacement(client, client_name="Renamed"))
    assert status == 200, body
    assert body["client_name"] == "Renamed" and body["status"] == "pending"
    new = body["registration_access_token"]
    assert new != old
    assert (await _call(service, "GET", client, old))[0] == 401
    assert (await _call(service, "GET", client, new))[0] == 200


@pytest.mark.parametrize(("changes", "back_to_pending"), [
    ({"redirect_uris": ["https://app.example.com/other"]}, True),
    ({"scope": "read write admin"}, True),
    ({"grant_types": ["authorization_code"]}, True),
    ({"client_name": "Only the name"}, False),
    ({"contacts": ["someone@example.org"]}, False),
])
async def test_widening_an_approved_client_sends_it_back_to_pending(
        service: Service, changes: dict[str, Any], back_to_pending: bool) -> None:
    client = await _registered(service)
    approved = await service.request("POST", f"/v1/clients/{client['client_id']}/approve")
    assert approved.status == 200
    status, body, _ = await _call(service, "PUT", client, client["registration_access_token"],
                                  _replacement(client, **changes))
    assert status == 200, body
    assert body["status"] == ("pending" if back_to_pending else "approved")


async def test_an_update_is_held_to_the_rules_and_the_address(service: Service) -> None:
    client = await _registered(service)
    token = client["registration_access_token"]
    status, body, _ = await _call(service, "PUT", client, token, _replacement(
        client, redirect_uris=["http://evil.example/cb"]))
    assert (status, body["error"]) == (400, "invalid_redirect_uri")
    status, body, _ = await _call(service, "PUT", client, token, _replacement(
        client, client_id="another"))
    assert (status, body["error"]) == (400, "invalid_client_metadata")
    status, body, _ = await _call(service, "PUT", client, token, _replacement(
        client, scope="openid"))
    assert (status, body["error"]) == (400, "invalid_client_metadata")
    # Refused updates rotate nothing: the token still opens the client.
    assert (await _call(service, "GET", client, token))[0] == 200


async def test_a_client_removes_itself_and_its_token_with_it(service: Service) -> None:
    client = await _registered(service)
    token = client["registration_access_token"]
    status, _, headers = await _call(service, "DELETE", client, token)
    assert status == 204 and headers["Cache-Control"] == "no-store"
    assert (await _call(service, "GET", client, token))[0] == 401
    gone = await service.request("GET", f"/v1/clients/{client['client_id']}")
    assert gone.status == 404


@pytest.fixture
async def checked(settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None
                  ) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    async for running in start_service(settings, aiohttp_client, 1):
        yield running, bearer(add_token(settings, "authz", CLIENTS_VERIFY))


async def test_a_registered_client_verifies_only_once_approved(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    client = await _registered(service)
    key, secret = client["client_id"], client["client_secret"]
    await service.http.app[keys.READ_MODEL].refresh(key)

    async def verdict() -> dict[str, Any]:
        response = await service.request("POST", f"/v1/clients/{key}/verify",
                                         headers=verifier, json={"secret": secret})
        answer: dict[str, Any] = await response.json()
        return answer

    assert (await verdict())["reason"] == "not_approved"
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    await service.http.app[keys.READ_MODEL].refresh(key)
    assert (await verdict())["valid"] is True


async def test_a_private_key_jwt_client_registers_its_keys_and_authenticates_once_approved(
        service: Service) -> None:
    """RFC 7591 with `jwks`: no secret is made; its assertions authenticate once approved,
    and a key change by RFC 7592 sends it back to pending, so no new key is trusted
    without an administrator."""
    first, second = rsa_pair("reg-rsa-1"), ec_pair("reg-ec-1")
    client = await _registered(service, token_endpoint_auth_method="private_key_jwt",
                               jwks=jwks(first))
    assert "client_secret" not in client and "client_secret_expires_at" not in client
    assert [key["kid"] for key in client["jwks"]["keys"]] == ["reg-rsa-1"]
    key = client["client_id"]
    verifier = bearer(add_token(service.settings, "authz", CLIENTS_VERIFY))

    async def authenticate(pair: KeyPair) -> str:
        response = await service.request("POST", "/v1/client-authentication", headers=verifier,
                                         json={"form": {
                                             "client_assertion_type": JWT_BEARER,
                                             "client_assertion": pair.sign(key)},
                                             "audiences": [AUDIENCE]})
        return str((await response.json())["reason"])

    assert await authenticate(first) == "not_approved"
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    assert await authenticate(first) == "ok"
    status, body, _ = await _call(service, "PUT", client, client["registration_access_token"],
                                  {**_replacement(client), "jwks": jwks(second)})
    assert status == 200, body
    assert body["status"] == "pending"
    assert await authenticate(second) == "not_approved"
