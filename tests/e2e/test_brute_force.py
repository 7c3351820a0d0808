"""Failed sign-ins and failed secret checks are held back per source, never the right ones.

Only failures count and only failures are held back: a valid token, or a
client's right secret from a source that has not failed, is always served,
whoever else keeps failing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.settings import Settings
from tests.e2e.conftest import (
    AiohttpClient,
    Service,
    oauth1_client,
    oidc_client,
    start_service,
)
from tests.harness import add_token, bearer

LIMIT = 20  # the default CLIENTKEYS_AUTH_FAILURES_PER_MINUTE
SECRET_LIMIT = 10  # the default CLIENTKEYS_SECRET_FAILURES_PER_MINUTE
RIGHT = "s3cret-value-for-tests"  # oidc_client()'s
CONSUMER_SECRET = "consumer-secret-123"  # oauth1_client()'s
WRONG = {"Authorization": "Bearer not-a-token"}


@pytest.fixture
async def guarded(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Service]:
    limited = settings.with_overrides(auth_failures_per_minute=LIMIT,
                                      secret_failures_per_minute=SECRET_LIMIT)
    async for running in start_service(limited, aiohttp_client, 1):
        yield running


@pytest.fixture
async def behind_proxy(settings: Settings, aiohttp_client: AiohttpClient,
                       topology_cleanup: None) -> AsyncIterator[Service]:
    """The gateway behind a reverse proxy on this machine (the test client's address)."""
    proxied = settings.with_overrides(auth_failures_per_minute=LIMIT,
                                      secret_failures_per_minute=SECRET_LIMIT,
                                      trusted_proxies=(ipaddress.ip_network("127.0.0.1"),))
    async for running in start_service(proxied, aiohttp_client, 1):
        yield running


@asynccontextmanager
async def peer(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client connecting from another loopback address: another peer for the gateway."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def test_bad_tokens_from_an_address_are_held_back_but_not_its_valid_token(
        guarded: Service) -> None:
    for _ in range(LIMIT):
        assert (await guarded.request("GET", "/v1/clients", headers=WRONG)).status == 401
    held = await guarded.request("GET", "/v1/clients", headers=WRONG)
    assert held.status == 429
    assert int(held.headers["Retry-After"]) in range(1, 61)
    assert held.content_type == "application/problem+json"
    assert held.headers["Cache-Control"] == "no-store"
    # 21 failures in, the valid token of the same address is served, and keeps being so.
    for _ in range(3):
        assert (await guarded.request("GET", "/v1/clients", headers=guarded.reader)).status \
            == 200
    assert (await guarded.request("GET", "/v1/clients", headers=WRONG)).status == 429
    # No token at all is a failure like a bad one.
    assert (await guarded.request("GET", "/v1/clients", headers={"Accept": "*/*"})).status \
        == 429
    assert (await guarded.request("GET", "/healthz")).status == 200


async def test_another_address_is_not_held_back_by_one_that_fails(guarded: Service) -> None:
    for _ in range(LIMIT + 1):
        await guarded.request("GET", "/v1/clients", headers=WRONG)
    assert (await guarded.request("GET", "/v1/clients", headers=WRONG)).status == 429
    async with peer("127.0.0.2") as other, \
            other.get(guarded.http.make_url("/v1/clients"), headers=WRONG) as answer:
        assert answer.status == 401


async def test_successes_do_not_count(guarded: Service) -> None:
    for _ in range(LIMIT * 2):
        assert (await guarded.request("GET", "/v1/clients", headers=guarded.reader)).status \
            == 200
    assert (await guarded.request("GET", "/v1/clients", headers=WRONG)).status == 401


async def test_x_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(
        guarded: Service) -> None:
    for number in range(LIMIT):
        forged = {**WRONG, "X-Forwarded-For": f"198.51.100.{number}"}
        assert (await guarded.request("GET", "/v1/clients", headers=forged)).status == 401
    forged = {**WRONG, "X-Forwarded-For": "198.51.100.250"}
    assert (await guarded.request("GET", "/v1/clients", headers=forged)).status == 429


async def test_behind_a_trusted_proxy_each_forwarded_client_is_its_own_source(
        behind_proxy: Service) -> None:
    attacker = {**WRONG, "X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    for _ in range(LIMIT):
        assert (await behind_proxy.request("GET", "/v1/clients", headers=attacker)).status \
            == 401
    assert (await behind_proxy.request("GET", "/v1/clients", headers=attacker)).status == 429
    # Changing what it writes to the left of the proxy's entry does not help the attacker.
    rotated = {**WRONG, "X-Forwarded-For": "7.7.7.7, 198.51.100.7"}
    assert (await behind_proxy.request("GET", "/v1/clients", headers=rotated)).status == 429
    # Another client behind the same proxy is not held back, nor is the proxy itself.
    innocent = {**WRONG, "Forwarded": "for=198.51.100.8"}
    assert (await behind_proxy.request("GET", "/v1/clients", headers=innocent)).status == 401
    assert (await behind_proxy.request("GET", "/v1/clients", headers=WRONG)).status == 401


async def approved(service: Service) -> tuple[str, dict[str, str]]:
    key = (await service.create(oidc_client()))["key"]
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    await service.http.app[keys.READ_MODEL].refresh(key)
    return key, bearer(add_token(service.settings, "authz", CLIENTS_VERIFY))


async def verify(service: Service, authz: dict[str, str], key: str, secret: str,
                 **extra: Any) -> tuple[int, dict[str, Any]]:
    response = await service.request("POST", f"/v1/clients/{key}/verify", headers=authz,
                                     json={"secret": secret, **extra})
    return response.status, await response.json()


async def test_wrong_secrets_from_one_source_leave_the_right_one_working_from_another(
        guarded: Service) -> None:
    key, authz = await approved(guarded)
    for _ in range(SECRET_LIMIT):
        status, verdict = await verify(guarded, authz, key, "wrong", remote_addr="203.0.113.6")
        assert (status, verdict["valid"]) == (200, False)
    status, _ = await verify(guarded, authz, key, "wrong", remote_addr="203.0.113.6")
    assert status == 429
    status, _ = await verify(guarded, authz, key, RIGHT, remote_addr="203.0.113.6")
    assert status == 429  # the failing source is held back, whatever it sends
    status, verdict = await verify(guarded, authz, key, RIGHT, remote_addr="198.51.100.20")
    assert (status, verdict["valid"]) == (200, True)
    status, verdict = await verify(guarded, authz, key, RIGHT)  # the caller's own address
    assert (status, verdict["valid"]) == (200, True)


async def test_wrong_secrets_from_one_peer_leave_the_right_one_working_from_another(
        guarded: Service) -> None:
    key, authz = await approved(guarded)
    for _ in range(SECRET_LIMIT + 1):
        await verify(guarded, authz, key, "wrong")
    assert (await verify(guarded, authz, key, RIGHT))[0] == 429
    async with peer("127.0.0.3") as other, \
            other.post(guarded.http.make_url(f"/v1/clients/{key}/verify"), headers=authz,
                       json={"secret": RIGHT}) as answer:
        assert answer.status == 200
        assert (await answer.json())["valid"] is True


async def test_a_guesser_spread_over_many_sources_is_held_back_where_it_failed(
        guarded: Service) -> None:
    key, authz = await approved(guarded)
    ceiling = SECRET_LIMIT * 10  # api.app.CLIENT_CEILING_FACTOR
    for number in range(ceiling):
        source = f"10.{number // 250}.{number % 250}.1"
        assert (await verify(guarded, authz, key, "wrong", remote_addr=source))[0] == 200
    # Over the client's ceiling, a source that has failed once is held back...
    assert (await verify(guarded, authz, key, "wrong", remote_addr="10.0.0.1"))[0] == 429
    # ...and one that has not failed still has its right secret checked.
    status, verdict = await verify(guarded, authz, key, RIGHT, remote_addr="192.0.2.99")
    assert (status, verdict["valid"]) == (200, True)


@pytest.mark.parametrize("path", ["/v1/clients/any/verify", "/v1/oauth1/verify"])
@pytest.mark.parametrize("value", ["not-an-address", "300.1.1.1", "", 7, "10.0.0.0/8"])
async def test_remote_addr_must_be_an_ip_address(guarded: Service, path: str,
                                                 value: object) -> None:
    authz = bearer(add_token(guarded.settings, "authz", CLIENTS_VERIFY))
    body = {"secret": "x", "method": "POST", "url": "https://api.example.com/",
            "remote_addr": value}
    if path.startswith("/v1/clients"):
        body = {"secret": "x", "remote_addr": value}
    response = await guarded.request("POST", path, headers=authz, json=body)
    assert response.status == 400
    problem = await response.json()
    assert "remote_addr" in problem["errors"]


def oauth1_signed(key: str, secret: str, nonce: str) -> dict[str, Any]:
    """A request the consumer `key` signed with `secret` (HMAC-SHA256, in the header)."""
    signer = Client(key, client_secret=secret, signature_method=SIGNATURE_HMAC_SHA256,
                    nonce=nonce)
    uri, headers, _ = signer.sign("https://api.example.com/photos", http_method="POST")
    return {"method": "POST", "url": uri, "authorization": headers["Authorization"]}


async def test_bad_oauth1_signatures_from_one_source_leave_the_consumer_working_from_another(
        guarded: Service) -> None:
    key = (await guarded.create(oauth1_client()))["key"]
    assert (await guarded.request("POST", f"/v1/clients/{key}/approve")).status == 200
    await guarded.http.app[keys.READ_MODEL].refresh(key)
    authz = bearer(add_token(guarded.settings, "authz", CLIENTS_VERIFY))

    async def check(secret: str, number: int, source: str) -> tuple[int, dict[str, Any]]:
        body = {**oauth1_signed(key, secret, f"nonce{number:04d}{source}"),
                "remote_addr": source}
        response = await guarded.request("POST", "/v1/oauth1/verify", headers=authz, json=body)
        return response.status, await response.json()

    for number in range(SECRET_LIMIT):
        status, verdict = await check("a-guess", number, "203.0.113.6")
        assert (status, verdict["reason"]) == (200, "bad_signature")
    assert (await check(CONSUMER_SECRET, 100, "203.0.113.6"))[0] == 429
    status, verdict = await check(CONSUMER_SECRET, 101, "198.51.100.20")
    assert (status, verdict["valid"], verdict["reason"]) == (200, True, "ok")
