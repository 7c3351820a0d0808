"""With CLIENTKEYS_SYNC_WAIT_S=0 the gateway answers 202 and the operation tells the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, oidc_client, start_service


@pytest.fixture
async def accepting(settings: Settings, aiohttp_client: AiohttpClient,
                    topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(settings.with_overrides(sync_wait_s=0.0),
                                       aiohttp_client, 1):
        yield running


async def finished(service: Service, location: str) -> dict[str, Any]:
    for _ in range(200):
        operation: dict[str, Any] = await (await service.request("GET", location)).json()
        if operation["status"] != "pending":
            return operation
        await asyncio.sleep(0.05)
    raise AssertionError(f"operation {location} never finished")


async def test_create_is_accepted_then_succeeds(accepting: Service) -> None:
    response = await accepting.request("POST", "/v1/clients", json=oidc_client())
    assert response.status == 202
    location = response.headers["Location"]
    body = await response.json()
    assert location == f"/v1/operations/{body['operation']['id']}"
    assert body["operation"]["status"] == "pending"
    assert body["operation"]["kind"] == "create_client"

    operation = await finished(accepting, location)
    assert operation["status"] == "succeeded"
    assert operation["error"] is None
    client = await accepting.request("GET", f"/v1/clients/{operation['client_key']}")
    assert client.status == 200


async def test_generated_secret_comes_with_the_202(accepting: Service) -> None:
    response = await accepting.request("POST", "/v1/clients",
                                       json={"type": "oauth1", "name": "G",
                                             "generate_secret": True})
    body = await response.json()
    assert response.status == 202
    assert len(body["secret"]) >= 43
    operation = await finished(accepting, response.headers["Location"])
    assert body["secret"] not in str(operation)


async def test_failure_is_recorded_on_the_operation(accepting: Service) -> None:
    response = await accepting.request("POST", "/v1/clients", json=oidc_client())
    operation = await finished(accepting, response.headers["Location"])
    key = operation["client_key"]
    removal = await accepting.request("DELETE", f"/v1/clients/{key}")
    assert removal.status == 202
    # A second removal passes the gateway's check only while the first is queued;
    # whichever way it goes, the outcome is recorded and never lost.
    second = await accepting.request("DELETE", f"/v1/clients/{key}")
    if second.status == 202:
        failed = await finished(accepting, second.headers["Location"])
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "not_found"
    else:
        assert second.status == 404
    assert (await finished(accepting, removal.headers["Location"]))["status"] == "succeeded"
