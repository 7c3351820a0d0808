"""Idempotency-Key on management writes: a retried request is answered, not applied again."""

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
    from api.auth.principals import CONFIGURE_SERVER
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


async def test_the_same_subject_on_another_token_has_keys_of_its_own(service: Service) -> None:
    from api.auth.principals import CONFIGURE_SERVER
    from tests.harness import add_token, bearer

    second_alice = bearer(add_token(service.settings, "alice", CONFIGURE_SERVER))
    await service.request("POST", "/v1/clients", json=oauth1_client("A"),
                          headers=with_key(service, "mine"))
    response = await service.request("POST", "/v1/clients", json=oauth1_client("A"),
                                     headers={**second_alice, "Idempotency-Key": '"mine"'})
    assert response.status == 201
    assert "Idempotent-Replayed" not in response.headers
    assert await client_count(service) == 2


async def test_credential_checks_ignore_the_key_and_write_nothing(service: Service) -> None:
    created = await service.create(oauth1_client())
    await service.request("POST", f"/v1/clients/{created['key']}/approve")
    records = service.http.app[keys.DB]["idempotency_keys"]
    await records.delete_many({})
    checker = {**service.everything, "Idempotency-Key": "check-1"}
    for secret, valid in (("consumer-secret-123", True), ("wrong-secret-1", False)):
        response = await service.request("POST", f"/v1/clients/{created['key']}/verify",
                                         json={"secret": secret}, headers=checker)
        assert response.status == 200
        assert (await response.json())["valid"] is valid  # not the first answer replayed
        assert "Idempotent-Replayed" not in response.headers
    assert await records.count_documents({}) == 0


async def test_patch_and_delete_take_a_key_too(service: Service) -> None:
    created = await service.create(oauth1_client())
    path = f"/v1/clients/{created['key']}"
    renamed = [await service.request("PATCH", path, json={"name": "Renamed"},
                                     headers=with_key(service, "rename")) for _ in range(2)]
    assert [r.status for r in renamed] == [200, 200]
    assert renamed[1].headers["Idempotent-Replayed"] == "true"
    assert (await renamed[1].json())["version"] == created["version"] + 1
    removed = [await service.request("DELETE", path, headers=with_key(service, "remove"))
               for _ in range(2)]
    assert [r.status for r in removed] == [204, 204]  # not 404: the first answer again
    assert removed[1].headers["Idempotent-Replayed"] == "true"
