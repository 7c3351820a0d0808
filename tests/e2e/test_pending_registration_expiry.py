"""Self-registered clients never approved are removed after PENDING_REGISTRATION_TTL_DAYS,
with a `removed` event; approved ones, ones approved once, and an administrator's stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api import keys
from clientkeys.bootstrap import create_worker
from common.settings import Settings
from common.store import CLIENTS
from tests.e2e.conftest import Service, oidc_client
from tests.e2e.registration_helpers import new_token, register, rfc7591_client, with_token
from tests.harness import event_tap


async def _age(service: Service, key: str, days: int) -> None:
    """As if the client was made (and its status last changed) `days` ago."""
    db = service.http.app[keys.DB]
    found = await db[CLIENTS].find_one({"key": key}, {"created_at": 1, "status_changed_at": 1})
    assert found is not None
    shift = timedelta(days=days)
    changes: dict[str, Any] = {"created_at": found["created_at"] - shift,
                               "status_changed_at": found["status_changed_at"] - shift}
    await db[CLIENTS].update_one({"key": key}, {"$set": changes})


async def test_never_approved_registrations_are_removed_after_the_ttl(service: Service
                                                                      ) -> None:
    assert service.settings.pending_registration_ttl_days == 30
    token = await new_token(service)
    made = [(await register(service, token["token"], rfc7591_client(client_name=f"App {n}")))[1]
            for n in range(4)]
    expired, recent, approved, approved_once = made
    admins = await service.create(oidc_client())
    for key in (approved["client_id"], approved_once["client_id"]):
        assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    # Widened by its own update: back to pending, but it was approved once.
    body = {"client_id": approved_once["client_id"], "client_name": "App 3",
            "redirect_uris": ["https://app.example.com/wider"]}
    put = await service.http.put(f"/oauth/register/{approved_once['client_id']}", json=body,
                                 headers=with_token(approved_once["registration_access_token"]))
    assert (put.status, (await put.json())["status"]) == (200, "pending")
    for key in (expired["client_id"], approved["client_id"], approved_once["client_id"],
                admins["key"]):
        await _age(service, key, 31)
    await _age(service, recent["client_id"], 29)

    sweep = service.workers[0].pending_sweep
    assert sweep is not None
    async with event_tap(service.settings, "client.*.removed") as tap:
        assert await sweep.sweep() == 1
        [event] = await tap.wait_for(1)
    assert event["subject"] == expired["client_id"]
    assert event["data"]["actor"] == "system:pending-registration-expiry"
    assert event["data"]["client"]["origin"]["token_id"] == token["id"]
    for key, status in ((expired["client_id"], 404), (recent["client_id"], 200),
                        (approved["client_id"], 200), (approved_once["client_id"], 200),
                        (admins["key"], 200)):
        assert (await service.request("GET", f"/v1/clients/{key}")).status == status, key
    # Its registration access token went with it.
    gone = await service.http.get(f"/oauth/register/{expired['client_id']}",
                                  headers=with_token(expired["registration_access_token"]))
    assert gone.status == 401
    assert await sweep.sweep() == 0


@pytest.mark.parametrize(("days", "sweeps"), [(0, False), (1, True)])
async def test_a_ttl_of_0_keeps_them_forever(settings: Settings, topology_cleanup: None,
                                             days: int, sweeps: bool) -> None:
    async with create_worker(settings.with_overrides(pending_registration_ttl_days=days),
                             app_name="clientkeys-test-worker") as parts:
        assert (parts.worker.pending_sweep is not None) is sweeps
