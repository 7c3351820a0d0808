"""OPEN_REGISTRATION lets callers without a token register (still pending), and every
self-registration endpoint is rate-limited per source address."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, start_service
from tests.e2e.registration_helpers import new_token, register


@pytest.fixture
async def open_service(settings: Settings, aiohttp_client: AiohttpClient,
                       topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(settings.with_overrides(open_registration=True),
                                       aiohttp_client, 1):
        yield running


async def test_open_registration_takes_callers_without_a_token(open_service: Service) -> None:
    status, body, _ = await register(open_service, None)
    assert status == 201, body
    assert body["status"] == "pending"
    assert body["origin"] == {"kind": "registration", "token_id": None, "label": None}
    history = await (await open_service.request(
        "GET", f"/v1/clients/{body['client_id']}/history")).json()
    assert history["items"][0]["actor"] == "registration:open"
    # A token presented must still be a valid one.
    assert (await register(open_service, "cki_made-up"))[0] == 401


@pytest.fixture
async def limited(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(settings.with_overrides(registrations_per_minute=3),
                                       aiohttp_client, 1):
        yield running


async def test_registration_requests_are_limited_per_address(limited: Service) -> None:
    token = await new_token(limited, max_uses=10)
    statuses = [(await register(limited, token["token"]))[0] for _ in range(3)]
    assert statuses == [201, 201, 201]
    status, body, headers = await register(limited, token["token"])
    assert status == 429
    assert body["error"] == "temporarily_unavailable"
    assert int(headers["Retry-After"]) >= 1
    # The other endpoints count against the same address.
    response = await limited.http.post("/oauth1/consumer-key-requests", json={})
    assert response.status == 429


@pytest.fixture
async def no_wait(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(settings.with_overrides(sync_wait_s=0),
                                       aiohttp_client, 1):
        yield running


async def test_a_registration_not_applied_within_the_wait_shows_its_secrets_at_once(
        no_wait: Service) -> None:
    token = await new_token(no_wait)
    status, body, headers = await register(no_wait, token["token"])
    assert status == 202, body
    assert body["client_secret"] and body["registration_access_token"]
    assert headers["Location"] == f"/v1/operations/{body['operation']['id']}"
    for _ in range(200):
        operation = await (await no_wait.request("GET", headers["Location"])).json()
        if operation["status"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert operation["status"] == "succeeded", operation
    read = await no_wait.http.get(f"/oauth/register/{operation['client_key']}", headers={
        "Authorization": f"Bearer {body['registration_access_token']}"})
    assert read.status == 200
    assert (await read.json())["status"] == "pending"
