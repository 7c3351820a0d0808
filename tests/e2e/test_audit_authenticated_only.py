"""The audit trail holds authenticated actions only, for as long as the retention says."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest

from api import keys
from common.settings import Settings
from common.store import AUDIT, AUDIT_EXPIRY
from tests.e2e.conftest import AiohttpClient, Service, oidc_client, start_service

LIMIT = 3
RETENTION_DAYS = 7


@pytest.fixture
async def guarded(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Service]:
    chosen = settings.with_overrides(auth_failures_per_minute=LIMIT,
                                     audit_retention_days=RETENTION_DAYS)
    async for running in start_service(chosen, aiohttp_client, 1):
        yield running


async def audit_entries(service: Service) -> list[dict[str, object]]:
    return [entry async for entry in service.http.app[keys.DB][AUDIT].find({})]


async def test_an_unauthenticated_flood_writes_no_audit_entry(guarded: Service) -> None:
    key = (await guarded.create(oidc_client()))["key"]
    created = await audit_entries(guarded)
    attempts = [("POST", "/v1/clients", {"type": "oidc"}),
                ("PATCH", f"/v1/clients/{key}", {"name": "Taken"}),
                ("DELETE", f"/v1/clients/{key}", None),
                ("POST", f"/v1/clients/{key}/approve", None),
                ("POST", f"/v1/clients/{key}/secret/rotate", {"generate_secret": True}),
                ("DELETE", f"/v1/clients/{key}/secret/previous", None),
                # A key that does not exist, chosen by the caller.
                ("POST", "/v1/clients/attacker-chosen-key/disapprove", None),
                ("PATCH", "/v1/clients/attacker-chosen-key", {"name": "x"})]
    statuses = set()
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
                    {"Accept": "*/*"}):
        for method, path, body in attempts * 2:
            response = await guarded.request(method, path, headers=headers, json=body)
            statuses.add(response.status)
        # A body that is not even JSON.
        response = await guarded.request("POST", "/v1/clients", headers=headers,
                                         data=b"{not json")
        statuses.add(response.status)
    assert statuses == {401, 429}  # both refusals were met
    after = await audit_entries(guarded)
    assert after == created
    assert not any(entry["client_key"] == "attacker-chosen-key" for entry in after)
    # An authenticated caller's refusal is still an action, and is recorded.
    refused = await guarded.request("POST", "/v1/clients/attacker-chosen-key/approve",
                                    headers=guarded.reader)
    assert refused.status == 403  # from the address that just failed: a valid token counts
    recorded = await audit_entries(guarded)
    assert [(e["action"], e["actor"], e["outcome"]) for e in recorded[len(created):]] == [
        ("approve_client", "dashboard", "refused")]


async def test_the_gateway_keeps_the_audit_expiry_of_its_setting(guarded: Service) -> None:
    indexes = {index["name"]: index
               async for index in await guarded.http.app[keys.DB][AUDIT].list_indexes()}
    assert indexes[AUDIT_EXPIRY]["key"] == {"at": 1}
    assert indexes[AUDIT_EXPIRY]["expireAfterSeconds"] == RETENTION_DAYS * 24 * 3600


@pytest.fixture
async def behind_proxy(settings: Settings, aiohttp_client: AiohttpClient,
                       topology_cleanup: None) -> AsyncIterator[Service]:
    """The gateway behind a reverse proxy on this machine (the test client's address)."""
    proxied = settings.with_overrides(trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
    async for running in start_service(proxied, aiohttp_client, 1):
        yield running


async def test_behind_a_trusted_proxy_entries_name_the_forwarded_caller(
        behind_proxy: Service) -> None:
    forwarded = {**behind_proxy.admin, "X-Forwarded-For": "6.6.6.6, 198.51.100.7, 127.0.0.5"}
    response = await behind_proxy.request("POST", "/v1/clients", headers=forwarded,
                                          json=oidc_client())
    assert response.status == 201
    key = (await response.json())["key"]
    refused = await behind_proxy.request("POST", f"/v1/clients/{key}/approve", headers={
        **behind_proxy.reader, "Forwarded": 'for="[2001:db8::9]:4711"'})
    assert refused.status == 403
    entries = sorted(await audit_entries(behind_proxy), key=lambda e: str(e["at"]))
    # The worker's entry (from the command's remote_addr), then the gateway's own.
    assert [(e["action"], e["remote_addr"]) for e in entries] == [
        ("create_client", "198.51.100.7"), ("approve_client", "2001:db8::9")]
