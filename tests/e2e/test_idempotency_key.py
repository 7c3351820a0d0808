"""Idempotency-Key on POST: a retried request is answered, not applied again."""

from __future__ import annotations

import asyncio
import json

import bson

from api import keys
from tests.e2e.conftest import Service, oauth1_client, oidc_client


def with_key(service: Service, key: str) -> dict[str, str]:
    return {**service.admin, "Idempotency-Key": f'"{key}"'}


async def client_count(service: Service) -> int:
    listed = await (await service.request("GET", "/v1/clients")).json()
    return int(listed["total"])


async def test_a_retried_create_replays_the_first_answer(service: Service) -> None:
    body = {"type": "oauth1", "name": "Once", "generate_secret": True}
    first = await service.request("POST", "/v1/clients", json=body,
                                  headers=with_key(service, "create-1"))
    again = await service.request("POST", "/v1/clients", json=body,
                                  headers=with_key(service, "create-1"))
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await client_count(service) == 1
    # The remembered answer holds the generated secret only sealed.
    secret = (await first.json())["secret"]
    records = await service.http.app[keys.DB]["idempotency_keys"].find({}).to_list()
    assert records and all(secret.encode() not in bson.encode(r) for r in records)


async def test_the_same_key_with_another_body_is_422(service: Service) -> None:
    await service.request("POST", "/v1/clients", json=oauth1_client("A"),
                          headers=with_key(service, "k"))
    other = await service.request("POST", "/v1/clients", json=oauth1_client("B"),
                                  headers=with_key(service, "k"))
    assert other.status == 422
    assert await client_count(service) == 1


async def test_keys_belong_to_their_caller(service: Service) -> None:
    from api.principals import CONFIGURE_SERVER
    from tests.harness import add_token, bearer

    other_admin = bearer(add_token(service.settings, "bob", CONFIGURE_SERVER))
    await service.request("POST", "/v1/clients", json=oauth1_client("A"),
                          headers=with_key(service, "shared"))
    response = await service.request("POST", "/v1/clients", json=oauth1_client("A"),
                                     headers={**other_admin, "Idempotency-Key": "shared"})
    assert response.status == 201
    assert "Idempotent-Replayed" not in response.headers
    assert await client_count(service) == 2


async def test_a_retry_while_the_first_runs_is_409(service: Service) -> None:
    body = oidc_client()
    results = await asyncio.gather(*(
        service.request("POST", "/v1/clients", json=body, headers=with_key(service, "race"))
        for _ in range(5)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    conflict = next((r for r in results if r.status == 409), None)
    if conflict is not None:
        assert conflict.headers["Retry-After"] == "1"
    assert await client_count(service) == 1


async def test_validation_errors_are_remembered_too(service: Service) -> None:
    bad = oidc_client(redirect_uris=["http://example.com/cb"])
    first = await service.request("POST", "/v1/clients", json=bad,
                                  headers=with_key(service, "bad"))
    again = await service.request("POST", "/v1/clients", json=bad,
                                  headers=with_key(service, "bad"))
    assert first.status == again.status == 400
    assert json.loads(await again.text()) == json.loads(await first.text())


async def test_approve_with_a_key_applies_once(service: Service) -> None:
    created = await service.create(oidc_client())
    path = f"/v1/clients/{created['key']}"
    await service.request("POST", f"{path}/approve", headers=with_key(service, "a1"))
    await service.request("POST", f"{path}/disapprove")
    replayed = await service.request("POST", f"{path}/approve", headers=with_key(service, "a1"))
    assert replayed.headers["Idempotent-Replayed"] == "true"
    current = await (await service.request("GET", path)).json()
    assert current["status"] == "disapproved"  # the replay did not approve again


async def test_a_malformed_key_is_400(service: Service) -> None:
    response = await service.request("POST", "/v1/clients", json=oauth1_client(),
                                     headers={**service.admin, "Idempotency-Key": "x" * 300})
    assert response.status == 400
    assert await client_count(service) == 0
