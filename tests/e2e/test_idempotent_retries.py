"""Idempotency-Key retries of a request that did not finish: answered from its command.

Each test brings a record into a state a failure leaves it in (a write that
never landed, a publish the broker refused, a request that died) and checks what
the retry gets and that the change is applied once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from api import keys
from api.problems import Problem
from api.views import dispatch, idempotency_records
from api.views.operations import record_pending
from common.bus import BrokerUnavailable
from common.clients import ClientType
from common.commands import ApproveClient, CreateClient
from common.keyring import command_secret_aad
from common.operations_store import get_operation
from common.settings import Settings
from common.store import Document
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, start_service
from tests.harness import running_workers

GENERATED = {"type": "oauth1", "name": "Once", "generate_secret": True}


def with_key(service: Service, key: str) -> dict[str, str]:
    return {**service.admin, "Idempotency-Key": key}


async def records(service: Service) -> list[Document]:
    found: list[Document] = await service.http.app[keys.DB]["idempotency_keys"].find(
        {}).to_list()
    return found


async def client_names(service: Service) -> list[str]:
    clients = await service.http.app[keys.DB]["clients"].find({}, {"name": 1}).to_list()
    return [c["name"] for c in clients]


async def lost(*_args: Any, **_kwargs: Any) -> None:
    """A write to the record that never lands, as when MongoDB goes away just then."""


@pytest.fixture
async def queued_only(settings: Settings, aiohttp_client: AiohttpClient,
                      topology_cleanup: None) -> AsyncIterator[Service]:
    """The service with no worker and no wait: every command answers 202 and waits."""
    async for running in start_service(settings.with_overrides(sync_wait_s=0),
                                       aiohttp_client, 0):
        yield running


async def test_a_create_whose_answer_was_not_recorded_is_answered_from_its_operation(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(idempotency_records, "settle", lost)
        first = await service.request("POST", "/v1/clients", json=GENERATED,
                                      headers=with_key(service, "lost"))
    assert first.status == 201
    [record] = await records(service)
    assert record["state"] == "running" and record["lease_until"] > record["claimed_at"]
    again = await service.request("POST", "/v1/clients", json=GENERATED,
                                  headers=with_key(service, "lost"))
    assert again.status == 201, await again.text()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()  # the generated secret too
    assert (again.headers["Location"], again.headers["ETag"]) == (first.headers["Location"],
                                                                  first.headers["ETag"])
    assert await client_names(service) == ["Once"]
    [record] = await records(service)
    assert record["state"] == "done" and "secret" not in record


async def test_a_retry_of_a_command_the_broker_refused_runs_it_again(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(*_args: Any, **_kwargs: Any) -> None:
        raise BrokerUnavailable("test: not confirmed")

    with monkeypatch.context() as patch:
        patch.setattr(service.http.app[keys.BUS], "publish_command", refused)
        patch.setattr(idempotency_records, "forget", lost)
        first = await service.request("POST", "/v1/clients", json=oauth1_client("Again"),
                                      headers=with_key(service, "refused"))
    assert first.status == 503
    [record] = await records(service)
    withdrawn = await get_operation(service.http.app[keys.DB], record["operation_id"])
    assert withdrawn is not None and (withdrawn["error"] or {}).get("code") == "undeliverable"
    again = await service.request("POST", "/v1/clients", json=oauth1_client("Again"),
                                  headers=with_key(service, "refused"))
    assert again.status == 201
    assert "Idempotent-Replayed" not in again.headers  # run, not replayed
    assert await client_names(service) == ["Again"]
    [record] = await records(service)
    assert record["operation_id"] != withdrawn["_id"] and record["state"] == "done"


async def test_a_command_never_recorded_is_fenced_once_its_request_cannot_record_it(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(*_args: Any, **_kwargs: Any) -> Document:
        raise AutoReconnect("test: MongoDB went away")

    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "record_pending", unreachable)
        patch.setattr(idempotency_records, "forget", lost)
        first = await service.request("POST", "/v1/clients", json=oauth1_client("Fenced"),
                                      headers=with_key(service, "fence"))
    assert first.status == 503
    [record] = await records(service)
    named = record["operation_id"]
    soon = await service.request("POST", "/v1/clients", json=oauth1_client("Fenced"),
                                 headers=with_key(service, "fence"))
    assert soon.status == 409 and soon.headers["Retry-After"] == "1"
    db = service.http.app[keys.DB]
    await db["idempotency_keys"].update_one(  # 31 s later
        {"_id": record["_id"]}, {"$set": {"claimed_at": record["claimed_at"]
                                          - timedelta(seconds=31)}})
    later = await service.request("POST", "/v1/clients", json=oauth1_client("Fenced"),
                                  headers=with_key(service, "fence"))
    assert later.status == 201
    fenced = await get_operation(db, named)
    assert fenced is not None and (fenced["error"] or {}).get("code") == "undeliverable"
    # The first request, had it been alive after all, can no longer queue its command.
    command = CreateClient(id=named, actor="alice", request_id="r", type=ClientType.OAUTH1,
                           name="Fenced", secret=service.http.app[keys.KEYRING].seal(
                               "x" * 12, command_secret_aad(named, CreateClient.kind)))
    with pytest.raises(Problem) as refused:
        await record_pending(db, command)
    assert refused.value.status == 409
    assert await client_names(service) == ["Fenced"]


async def test_after_a_202_a_retry_gets_202_until_the_command_is_applied_then_its_answer(
        queued_only: Service) -> None:
    service = queued_only
    first = await service.request("POST", "/v1/clients", json=GENERATED,
                                  headers=with_key(service, "later"))
    assert first.status == 202
    accepted = await first.json()
    queued = await service.request("POST", "/v1/clients", json=GENERATED,
                                   headers=with_key(service, "later"))
    assert queued.status == 202 and queued.headers["Idempotent-Replayed"] == "true"
    assert queued.headers["Location"] == first.headers["Location"]
    assert await queued.json() == accepted
    async with running_workers(service.settings, 1):
        for _ in range(100):
            operation = await (await service.request("GET", first.headers["Location"])).json()
            if operation["status"] != "pending":
                break
            await asyncio.sleep(0.1)
    assert operation["status"] == "succeeded"
    done = await service.request("POST", "/v1/clients", json=GENERATED,
                                 headers=with_key(service, "later"))
    assert done.status == 201
    body = await done.json()
    assert body["secret"] == accepted["secret"] and body["key"] == operation["client_key"]
    assert await client_names(service) == ["Once"]


async def test_a_queued_command_whose_request_died_is_withdrawn_after_the_lease(
        queued_only: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    service = queued_only
    db = service.http.app[keys.DB]
    with monkeypatch.context() as patch:
        patch.setattr(idempotency_records, "settle", lost)
        first = await service.request("POST", "/v1/clients", json=oauth1_client("Died"),
                                      headers=with_key(service, "queued"))
    assert first.status == 202
    record = await db["idempotency_keys"].find_one({"state": "running",
                                                    "operation_id": (await first.json())[
                                                        "operation"]["id"]})
    assert record is not None
    within = await service.request("POST", "/v1/clients", json=oauth1_client("Died"),
                                   headers=with_key(service, "queued"))
    assert within.status == 409  # its request may still be waiting for the outcome
    await db["idempotency_keys"].update_one(
        {"_id": record["_id"]}, {"$set": {"lease_until": record["claimed_at"]}})
    after = await service.request("POST", "/v1/clients", json=oauth1_client("Died"),
                                  headers=with_key(service, "queued"))
    assert after.status == 202 and "Idempotent-Replayed" not in after.headers
    replaced = await get_operation(db, record["operation_id"])
    assert replaced is not None and (replaced["error"] or {}).get("code") == "undeliverable"
    async with running_workers(service.settings, 1):
        for _ in range(100):
            if await db["operations"].count_documents({"status": "pending"}) == 0:
                break
            await asyncio.sleep(0.1)
    assert await client_names(service) == ["Died"]


async def test_every_command_kind_is_answered_from_its_operation(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    created = await service.create(oauth1_client())
    path = f"/v1/clients/{created['key']}"
    asks: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("PATCH", path, {"name": "Renamed"}, 200),
        ("POST", f"{path}/approve", None, 200),
        ("POST", f"{path}/disapprove", None, 200),
        ("POST", f"{path}/secret/rotate", {"generate_secret": True, "grace_seconds": 60}, 200),
        ("DELETE", f"{path}/secret/previous", None, 200),
        ("DELETE", path, None, 204),
    ]
    for number, (method, where, body, status) in enumerate(asks):
        with monkeypatch.context() as patch:
            patch.setattr(idempotency_records, "settle", lost)
            first = await service.request(method, where, json=body,
                                          headers=with_key(service, f"kind-{number}"))
        again = await service.request(method, where, json=body,
                                      headers=with_key(service, f"kind-{number}"))
        assert (first.status, again.status) == (status, status), (method, where)
        assert again.headers["Idempotent-Replayed"] == "true"
        if status != 204:
            assert await again.json() == await first.json(), (method, where)
    kinds = [o["kind"] for o in await service.http.app[keys.DB]["operations"].find(
        {"status": "succeeded"}).sort("created_at", 1).to_list()]
    assert kinds == ["create_client", "update_client", ApproveClient.kind,
                     "disapprove_client", "rotate_secret", "end_secret_grace", "remove_client"]
