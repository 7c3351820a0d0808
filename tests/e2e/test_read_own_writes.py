"""A caller reads its own writes on the gateway that answered them.

The read model of this gateway hears no event here (its event feed is muted), and it
reconciles only every minute: whatever the reads show right after each 2xx comes from
the outcome the gateway applied before answering (`api.views.command_answers`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.verify.read_model import ClientReadModel
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, oidc_client, start_service


@pytest.fixture
async def deaf_service(settings: Settings, aiohttp_client: AiohttpClient,
                       topology_cleanup: None, monkeypatch: pytest.MonkeyPatch
                       ) -> AsyncIterator[Service]:
    async def no_event(self: ClientReadModel, routing_key: str, body: bytes) -> None:
        return None

    monkeypatch.setattr(ClientReadModel, "on_event", no_event)
    assert settings.read_model_reconcile_s >= 60
    async for running in start_service(settings, aiohttp_client, 1):
        yield running


async def _read(service: Service, path: str) -> dict[str, Any]:
    response = await service.request("GET", path)
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def test_each_answered_change_is_read_at_once(deaf_service: Service) -> None:
    service = deaf_service
    created = await service.create(oidc_client("Own write"))
    key = created["key"]
    assert (await _read(service, f"/v1/clients/{key}"))["version"] == created["version"]
    listed = await _read(service, "/v1/clients?q=own%20write")
    assert [c["key"] for c in listed["items"]] == [key] and listed["total"] == 1

    approved = await service.request("POST", f"/v1/clients/{key}/approve")
    assert approved.status == 200
    shown = await _read(service, f"/v1/clients/{key}")
    assert shown["status"] == "approved" and shown == await approved.json()
    assert (await _read(service, "/v1/clients?status=approved"))["total"] == 1

    renamed = await service.request("PATCH", f"/v1/clients/{key}", json={"name": "Renamed"})
    assert renamed.status == 200
    assert [c["name"] for c in (await _read(service, "/v1/clients?sort=name"))["items"]] \
        == ["Renamed"]

    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate",
                                    json={"generate_secret": True, "grace_seconds": 60})
    assert rotated.status == 200
    secret = (await rotated.json())["secret"]
    verified = await service.request(
        "POST", f"/v1/clients/{key}/verify", json={"secret": secret},
        headers=service.everything)
    assert (await verified.json())["valid"] is True  # the new sealed secret was read

    removed = await service.request("DELETE", f"/v1/clients/{key}")
    assert removed.status == 204
    gone = await service.request("GET", f"/v1/clients/{key}")
    assert gone.status == 404
    assert (await _read(service, "/v1/clients"))["total"] == 0
