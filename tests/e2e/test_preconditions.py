"""ETag and If-Match: two administrators never overwrite each other silently."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Service, oidc_client


async def test_every_client_response_carries_its_version_as_etag(service: Service) -> None:
    response = await service.request("POST", "/v1/clients", json=oidc_client())
    created = await response.json()
    assert response.headers["ETag"] == '"1"'
    fetched = await service.request("GET", f"/v1/clients/{created['key']}")
    assert fetched.headers["ETag"] == '"1"'
    approved = await service.request("POST", f"/v1/clients/{created['key']}/approve")
    assert approved.headers["ETag"] == '"2"'


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("PATCH", "", {"name": "Changed"}),
    ("POST", "/approve", None),
    ("POST", "/disapprove", None),
    ("DELETE", "", None),
])
async def test_a_stale_if_match_is_412_and_changes_nothing(
        service: Service, method: str, suffix: str, body: dict[str, str] | None) -> None:
    created = await service.create(oidc_client())
    path = f"/v1/clients/{created['key']}"
    await service.request("PATCH", path, json={"name": "Someone else's edit"})
    stale = await service.request(method, path + suffix, json=body,
                                  headers={**service.admin, "If-Match": '"1"'})
    assert stale.status == 412
    assert stale.headers["ETag"] == '"2"'
    current = await (await service.request("GET", path)).json()
    assert current["version"] == 2 and current["name"] == "Someone else's edit"


@pytest.mark.parametrize("if_match", ['"1"', '"7", "1"', "*"])
async def test_a_current_if_match_applies(service: Service, if_match: str) -> None:
    created = await service.create(oidc_client())
    response = await service.request("PATCH", f"/v1/clients/{created['key']}",
                                     json={"name": "Mine"},
                                     headers={**service.admin, "If-Match": if_match})
    assert response.status == 200
    assert response.headers["ETag"] == '"2"'


async def test_a_weak_etag_never_matches(service: Service) -> None:
    created = await service.create(oidc_client())
    response = await service.request("POST", f"/v1/clients/{created['key']}/approve",
                                     headers={**service.admin, "If-Match": 'W/"1"'})
    assert response.status == 412


async def test_two_edits_from_the_same_version_one_wins(service: Service) -> None:
    created = await service.create(oidc_client())
    path = f"/v1/clients/{created['key']}"
    headers = {**service.admin, "If-Match": '"1"'}
    first, second = await asyncio.gather(
        service.request("PATCH", path, json={"name": "Alice's"}, headers=headers),
        service.request("PATCH", path, json={"name": "Bob's"}, headers=headers))
    assert sorted([first.status, second.status]) == [200, 412]
    winner = (first if first.status == 200 else second)
    final = await (await service.request("GET", path)).json()
    assert final["name"] == (await winner.json())["name"]
    assert final["version"] == 2
