"""Credential checks: right answers, nothing to learn from wrong ones, disapproval felt fast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.settings import Settings
from common.store import CLIENTS, now
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, oidc_client, start_service
from tests.harness import add_token, bearer

SECRET = "s3cret-value-for-tests"


@pytest.fixture
async def checked(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    async for running in start_service(settings.with_overrides(secret_failures_per_minute=5),
                                       aiohttp_client, 1):
        yield running, bearer(add_token(settings, "authz", CLIENTS_VERIFY))


async def verify(service: Service, verifier: dict[str, str], key: str, secret: str
                 ) -> dict[str, Any]:
    response = await service.request("POST", f"/v1/clients/{key}/verify", headers=verifier,
                                     json={"secret": secret})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def test_only_an_approved_client_with_its_secret_is_valid(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    key = (await service.create(oidc_client()))["key"]
    await service.http.app[keys.READ_MODEL].refresh(key)  # the created event may be in flight
    pending = await verify(service, verifier, key, SECRET)
    assert (pending["valid"], pending["reason"], pending["status"]) == (
        False, "not_approved", "pending")
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    approved = await wait_for(service, verifier, key, SECRET, valid=True)
    assert approved == {"valid": True, "reason": "ok", "status": "approved", "type": "oidc",
                        "grant_types": ["authorization_code", "refresh_token"],
                        "response_types": ["code"],
                        "redirect_uris": ["https://portal.example.com/cb"]}
    wrong = await verify(service, verifier, key, "not-the-secret")
    unknown = await verify(service, verifier, "no-such-client-key", SECRET)
    # Unknown key and wrong secret: the same answer, nothing about the client.
    assert wrong == unknown == {"valid": False, "reason": "invalid_client", "status": None,
                                "type": None, "grant_types": None, "response_types": None,
                                "redirect_uris": None}


async def wait_for(service: Service, verifier: dict[str, str], key: str, secret: str, *,
                   valid: bool, bound_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + bound_s
    while True:
        answer = await verify(service, verifier, key, secret)
        if answer["valid"] is valid or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.002)


async def test_a_disapproval_stops_verification_within_the_bound(
        checked: tuple[Service, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    service, verifier = checked
    key = (await service.create(oauth1_client()))["key"]
    await service.http.app[keys.READ_MODEL].refresh(key)
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    assert (await wait_for(service, verifier, key, "consumer-secret-123", valid=True))["valid"]
    assert (await service.request("POST", f"/v1/clients/{key}/disapprove")).status == 200
    answered = time.monotonic()
    # The bound: the event normally; reconciliation (READ_MODEL_RECONCILE_S) at the latest.
    bound = service.settings.read_model_reconcile_s + 5
    after = await wait_for(service, verifier, key, "consumer-secret-123", valid=False,
                           bound_s=bound)
    lag_ms = (time.monotonic() - answered) * 1000
    assert (after["valid"], after["reason"], after["status"]) == (
        False, "not_approved", "disapproved")
    with capsys.disabled():
        print(f"\n  disapproval → verification refused after {lag_ms:.1f} ms "
              f"(bound {bound:.0f} s)")


@pytest.mark.parametrize(("full_every_s", "stamped"), [
    (3600.0, True),   # a worker's write (it sets updated_at): the catch-up sees it
    (2.0, False),     # a change without updated_at: the pass over every client does
], ids=["catch-up", "full"])
async def test_reconciliation_repairs_what_no_event_told(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        full_every_s: float, stamped: bool) -> None:
    overrides = settings.with_overrides(read_model_reconcile_s=1.0,
                                        read_model_full_reconcile_s=full_every_s)
    async for service in start_service(overrides, aiohttp_client, 1):
        verifier = bearer(add_token(settings, "authz", CLIENTS_VERIFY))
        key = (await service.create(oidc_client()))["key"]
        await service.http.app[keys.READ_MODEL].refresh(key)
        assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
        assert (await wait_for(service, verifier, key, SECRET, valid=True))["valid"]
        # A change no event announced (as if the event was lost with the connection).
        changes = {"status": "disapproved", **({"updated_at": now()} if stamped else {})}
        await service.http.app[keys.DB][CLIENTS].update_one(
            {"key": key}, {"$set": changes, "$inc": {"version": 1}})
        repaired = await wait_for(service, verifier, key, SECRET, valid=False, bound_s=10)
        assert repaired["status"] == "disapproved"


async def test_repeated_failures_for_one_key_are_held_back(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    for _ in range(5):
        assert (await verify(service, verifier, "target-key", "guess"))["valid"] is False
    response = await service.request("POST", "/v1/clients/target-key/verify", headers=verifier,
                                     json={"secret": "guess"})
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    # Another key is not affected.
    assert (await verify(service, verifier, "other-key", "guess"))["valid"] is False


async def test_verification_is_its_own_permission(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, _ = checked
    response = await service.request("POST", "/v1/clients/any/verify", json={"secret": "x"})
    assert response.status == 403  # an administrator's token is no secret oracle
    assert (await response.json())["missing_permission"] == CLIENTS_VERIFY
    ready = await (await service.request("GET", "/readyz")).json()
    assert ready["checks"]["read_model"] == "ok"


async def test_a_rotated_secret_and_its_predecessor_both_work_until_the_deadline(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    key = (await service.create(oidc_client()))["key"]
    await service.http.app[keys.READ_MODEL].refresh(key)
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    grace_s = 2
    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate", json={
        "secret": "the-new-secret-456", "secret_confirmation": "the-new-secret-456",
        "grace_seconds": grace_s})
    assert rotated.status == 200, await rotated.json()
    await wait_for(service, verifier, key, "the-new-secret-456", valid=True, bound_s=10)
    assert (await verify(service, verifier, key, SECRET))["valid"] is True  # still in grace
    await asyncio.sleep(grace_s + 0.5)  # past the deadline: no event needed
    assert (await verify(service, verifier, key, SECRET))["reason"] == "invalid_client"
    assert (await verify(service, verifier, key, "the-new-secret-456"))["valid"] is True


async def test_ending_the_grace_early_stops_the_old_secret(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    key = (await service.create(oidc_client()))["key"]
    await service.http.app[keys.READ_MODEL].refresh(key)
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate",
                                    json={"generate_secret": True})
    new_secret = (await rotated.json())["secret"]
    await wait_for(service, verifier, key, new_secret, valid=True, bound_s=10)
    assert (await verify(service, verifier, key, SECRET))["valid"] is True
    ended = await service.request("DELETE", f"/v1/clients/{key}/secret/previous")
    assert ended.status in (200, 204)
    await wait_for(service, verifier, key, SECRET, valid=False, bound_s=10)
    assert (await verify(service, verifier, key, new_secret))["valid"] is True
