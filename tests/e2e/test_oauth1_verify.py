"""POST /v1/oauth1/verify through the running service, with oauthlib as the consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from oauthlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    SIGNATURE_PLAINTEXT,
    SIGNATURE_TYPE_AUTH_HEADER,
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
    Client,
)

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, oidc_client, start_service
from tests.harness import add_token, bearer

CONSUMER_SECRET = "consumer-secret-123"  # oauth1_client()'s
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def consumer(settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None
                   ) -> AsyncIterator[tuple[Service, dict[str, str], str]]:
    async for service in start_service(settings, aiohttp_client, 1):
        key = (await service.create(oauth1_client()))["key"]
        assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
        await service.http.app[keys.READ_MODEL].refresh(key)
        yield service, bearer(add_token(settings, "authz", CLIENTS_VERIFY)), key


def signed(key: str, method: str, placement: str, *, secret: str = CONSUMER_SECRET,
           token: tuple[str, str] | None = None, url: str = "https://api.example.com/photos?size=large",
           form: dict[str, str] | None = None) -> dict[str, Any]:
    """What an authorization server would pass on: the request as the consumer signed it."""
    client = Client(key, client_secret=secret, signature_method=method,
                    signature_type=placement, resource_owner_key=token[0] if token else None,
                    resource_owner_secret=token[1] if token else None)
    body = form if form is not None else ({} if placement != SIGNATURE_TYPE_BODY else {"a": "1"})
    uri, headers, signed_body = client.sign(
        url, http_method="POST", body=body or None,
        headers={"Content-Type": FORM} if body else None)
    request: dict[str, Any] = {"method": "POST", "url": uri}
    if "Authorization" in headers:
        request["authorization"] = headers["Authorization"]
    if signed_body:
        request["form"] = dict(parse_qsl(signed_body))
    if token:
        request["token_secret"] = token[1]
    return request


async def check(service: Service, verifier: dict[str, str], request: dict[str, Any]
                ) -> dict[str, Any]:
    response = await service.request("POST", "/v1/oauth1/verify", headers=verifier,
                                     json=request)
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


@pytest.mark.parametrize("method", [SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256,
                                    SIGNATURE_PLAINTEXT])
@pytest.mark.parametrize("placement", [SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_BODY,
                                       SIGNATURE_TYPE_QUERY])
@pytest.mark.parametrize("token", [None, ("access-token-1", "token-secret-1")])
async def test_oauthlib_signed_requests_verify(
        consumer: tuple[Service, dict[str, str], str], method: str, placement: str,
        token: tuple[str, str] | None) -> None:
    service, verifier, key = consumer
    answer = await check(service, verifier, signed(key, method, placement, token=token))
    assert answer == {"valid": True, "reason": "ok", "client_key": key, "status": "approved"}


def tampered(request: dict[str, Any], how: str) -> dict[str, Any]:
    changed = dict(request)
    if how == "url":
        changed["url"] = changed["url"].replace("/photos", "/albums")
    elif how == "query":
        changed["url"] = changed["url"].replace("size=large", "size=small")
    elif how == "method":
        changed["method"] = "GET"
    elif how == "host":
        changed["url"] = changed["url"].replace("api.example.com", "evil.example.com")
    elif how == "token_secret":
        changed["token_secret"] = "not-the-token-secret"
    return changed


@pytest.mark.parametrize("how", ["url", "query", "method", "host", "token_secret"])
async def test_tampered_requests_do_not_verify(
        consumer: tuple[Service, dict[str, str], str], how: str) -> None:
    service, verifier, key = consumer
    request = signed(key, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER,
                     token=("access-token-1", "token-secret-1"))
    answer = await check(service, verifier, tampered(request, how))
    assert answer == {"valid": False, "reason": "bad_signature", "client_key": None,
                      "status": None}


async def test_wrong_secret_unknown_key_replay_and_disapproval(
        consumer: tuple[Service, dict[str, str], str]) -> None:
    service, verifier, key = consumer
    wrong = await check(service, verifier, signed(key, SIGNATURE_HMAC_SHA1,
                                                  SIGNATURE_TYPE_AUTH_HEADER, secret="guess"))
    oidc_key = (await service.create(oidc_client()))["key"]
    await service.http.app[keys.READ_MODEL].refresh(oidc_key)
    not_a_consumer = await check(service, verifier, signed(oidc_key, SIGNATURE_HMAC_SHA1,
                                                           SIGNATURE_TYPE_AUTH_HEADER))
    unknown = await check(service, verifier, signed("K" * 32, SIGNATURE_HMAC_SHA1,
                                                    SIGNATURE_TYPE_AUTH_HEADER))
    assert wrong == not_a_consumer == unknown == {
        "valid": False, "reason": "bad_signature", "client_key": None, "status": None}

    once = signed(key, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER)
    assert (await check(service, verifier, once))["valid"] is True
    assert (await check(service, verifier, once))["reason"] == "replayed_nonce"

    assert (await service.request("POST", f"/v1/clients/{key}/disapprove")).status == 200
    await service.http.app[keys.READ_MODEL].refresh(key)
    refused = await check(service, verifier, signed(key, SIGNATURE_HMAC_SHA1,
                                                    SIGNATURE_TYPE_AUTH_HEADER))
    assert refused == {"valid": False, "reason": "not_approved", "client_key": key,
                       "status": "disapproved"}


async def test_a_signature_notes_when_the_secret_that_made_it_was_last_used(
        consumer: tuple[Service, dict[str, str], str]) -> None:
    service, verifier, key = consumer
    usage = service.http.app[keys.SECRET_USAGE]
    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate", json={
        "secret": "the-next-consumer-secret", "secret_confirmation": "the-next-consumer-secret",
        "grace_seconds": 3600})
    assert rotated.status == 200
    await service.http.app[keys.READ_MODEL].refresh(key)
    # Signed with the previous secret, still in its grace: only that one is noted.
    previous = signed(key, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER)
    assert (await check(service, verifier, previous))["valid"] is True
    await usage.write()  # as the gateway does once a minute
    client = await (await service.request("GET", f"/v1/clients/{key}")).json()
    assert client["client_secret_last_used_at"] is None
    [used] = [p["last_used_at"] for p in client["previous_secrets"]]
    assert used is not None
    # A bad signature notes nothing.
    guessed = signed(key, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER, secret="guess")
    assert (await check(service, verifier, guessed))["valid"] is False
    current = signed(key, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_BODY,
                     secret="the-next-consumer-secret")
    assert (await check(service, verifier, current))["valid"] is True
    await usage.write()
    client = await (await service.request("GET", f"/v1/clients/{key}")).json()
    assert client["client_secret_last_used_at"] is not None
