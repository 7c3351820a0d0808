"""Rotating a client's secret with a grace, through HTTP, the workers and the events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.secret_grace import DEFAULT_GRACE_S, GRACE_LIMIT_S
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, oidc_client, start_service
from tests.harness import add_token, bearer, event_tap

OLD = "s3cret-value-for-tests"  # what oidc_client() registers
NEW = "the-rotated-secret-4c1e"
LONGEST_GRACE = 3600


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(max_grace_s=LONGEST_GRACE)


def rotate_path(key: str) -> str:
    return f"/v1/clients/{key}/secret/rotate"


def previous_path(key: str) -> str:
    return f"/v1/clients/{key}/secret/previous"


async def answer(response: Any, status: int = 200) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    assert response.status == status, body
    return body


async def test_rotation_with_a_given_secret_keeps_the_old_one_for_the_grace(
        service: Service) -> None:
    async with event_tap(service.settings) as tap:
        key = (await service.create(oidc_client()))["key"]
        started = datetime.now().astimezone()
        response = await service.request("POST", rotate_path(key), json={
            "secret": NEW, "secret_confirmation": NEW, "grace_seconds": 600})
        rotated = await answer(response)
        events = await tap.wait_for(2)
    assert response.headers["ETag"] == '"2"'
    assert "secret" not in rotated and NEW not in json.dumps(rotated)
    assert rotated["version"] == 2
    rotated_at = datetime.fromisoformat(rotated["secret_rotated_at"])
    assert rotated_at >= started - timedelta(seconds=1)
    [previous] = rotated["previous_secrets"]
    assert datetime.fromisoformat(previous["expires_at"]) == rotated_at + timedelta(seconds=600)
    fetched = await answer(await service.request("GET", f"/v1/clients/{key}",
                                                 headers=service.reader))
    assert fetched == rotated

    assert [m.routing_key for m in tap.messages] == ["client.oidc.created",
                                                    "client.oidc.secret_rotated"]
    assert events[1]["type"] == "clientkeys.client.secret_rotated"
    # The event is the answer less when each secret last verified, which only answers show.
    assert events[1]["data"]["client"] == {
        **{k: v for k, v in rotated.items() if k != "client_secret_last_used_at"},
        "previous_secrets": [{k: v for k, v in p.items() if k != "last_used_at"}
                             for p in rotated["previous_secrets"]]}
    for message in tap.messages:
        assert OLD.encode() not in message.body and NEW.encode() not in message.body
        assert b'"ct"' not in message.body

    history = await answer(await service.request("GET", f"/v1/clients/{key}/history",
                                                 headers=service.reader))
    assert [(e["action"], e["outcome"], e["fields"]) for e in history["items"]] == [
        ("rotate_secret", "applied", ["secret"]), ("create_client", "applied", [
            "type", "name", "secret", "redirect_uris", "grant_types", "response_types"])]


async def test_a_generated_secret_is_shown_in_the_rotation_answer_only(
        service: Service) -> None:
    key = (await service.create(oidc_client()))["key"]
    rotated = await answer(await service.request("POST", rotate_path(key), json={
        "generate_secret": True, "grace_seconds": 0}))
    generated = rotated.pop("secret")
    assert len(generated) >= 43
    assert rotated["previous_secrets"] == []  # no grace: the old secret ended at once
    fetched = await (await service.request("GET", f"/v1/clients/{key}")).read()
    listed = await (await service.request("GET", "/v1/clients")).read()
    assert generated.encode() not in fetched + listed


async def test_the_default_grace_is_a_day_within_the_bound(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    async for service in start_service(settings.with_overrides(max_grace_s=7 * 86400),
                                       aiohttp_client, 1):
        key = (await service.create(oidc_client()))["key"]
        rotated = await answer(await service.request("POST", rotate_path(key), json={
            "secret": NEW, "secret_confirmation": NEW}))
        [previous] = rotated["previous_secrets"]
        assert datetime.fromisoformat(previous["expires_at"]) == \
            datetime.fromisoformat(rotated["secret_rotated_at"]) \
            + timedelta(seconds=DEFAULT_GRACE_S)


async def test_with_a_shorter_bound_the_default_grace_is_the_bound(service: Service) -> None:
    key = (await service.create(oidc_client()))["key"]
    rotated = await answer(await service.request("POST", rotate_path(key), json={
        "secret": NEW, "secret_confirmation": NEW}))
    [previous] = rotated["previous_secrets"]
    assert datetime.fromisoformat(previous["expires_at"]) == \
        datetime.fromisoformat(rotated["secret_rotated_at"]) + timedelta(seconds=LONGEST_GRACE)


async def operations(service: Service) -> int:
    return int(await service.http.app[keys.DB]["operations"].count_documents({}))


@pytest.mark.parametrize(("body", "field"), [
    ({"secret": NEW, "secret_confirmation": NEW, "grace_seconds": LONGEST_GRACE + 1},
     "grace_seconds"),
    ({"generate_secret": True, "grace_seconds": GRACE_LIMIT_S + 1}, "grace_seconds"),
    ({"generate_secret": True, "grace_seconds": -1}, "grace_seconds"),
    ({"generate_secret": True, "grace_seconds": "60"}, "grace_seconds"),
    ({"generate_secret": True, "grace_seconds": 1.5}, "grace_seconds"),
    ({}, "secret"),
    ({"grace_seconds": 60}, "secret"),
    ({"secret": NEW}, "secret_confirmation"),
    ({"secret": NEW, "secret_confirmation": NEW + "x"}, "secret_confirmation"),
    ({"secret": "short", "secret_confirmation": "short"}, "secret"),
    ({"secret": NEW, "secret_confirmation": NEW, "generate_secret": True}, "generate_secret"),
    ({"generate_secret": True, "name": "Other"}, "name"),
])
async def test_a_bad_rotation_is_400_naming_the_field_and_changes_nothing(
        service: Service, body: dict[str, Any], field: str) -> None:
    key = (await service.create(oidc_client()))["key"]
    before = await operations(service)
    response = await service.request("POST", rotate_path(key), json=body)
    problem = await answer(response, 400)
    assert response.content_type == "application/problem+json"
    assert field in problem["errors"], problem
    assert NEW not in json.dumps(problem)
    assert await operations(service) == before
    current = await answer(await service.request("GET", f"/v1/clients/{key}"))
    assert current["version"] == 1 and current["previous_secrets"] == []


async def test_ending_the_grace_leaves_only_the_current_secret(service: Service) -> None:
    async with event_tap(service.settings) as tap:
        key = (await service.create(oidc_client()))["key"]
        for secret in (NEW, NEW + "-2"):
            await answer(await service.request("POST", rotate_path(key), json={
                "secret": secret, "secret_confirmation": secret}))
        response = await service.request("DELETE", previous_path(key),
                                         headers={**service.admin, "If-Match": '"3"'})
        ended = await answer(response)
        events = await tap.wait_for(4)
    assert ended["previous_secrets"] == [] and ended["version"] == 4
    assert response.headers["ETag"] == '"4"'
    assert events[3]["type"] == "clientkeys.client.updated"
    assert events[3]["data"]["changed_fields"] == ["previous_secrets"]
    again = await answer(await service.request("DELETE", previous_path(key)))
    assert again["version"] == 4  # nothing left to end: nothing changes
    history = await answer(await service.request("GET", f"/v1/clients/{key}/history"))
    assert [e["action"] for e in history["items"]][:2] == ["end_secret_grace",
                                                            "end_secret_grace"]
    assert history["items"][1]["fields"] == ["previous_secrets"]


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("POST", "/secret/rotate", {"generate_secret": True}),
    ("DELETE", "/secret/previous", None),
])
async def test_a_stale_if_match_is_412_and_changes_nothing(
        service: Service, method: str, suffix: str, body: dict[str, Any] | None) -> None:
    key = (await service.create(oidc_client()))["key"]
    path = f"/v1/clients/{key}"
    await answer(await service.request("POST", rotate_path(key), json={"generate_secret": True}))
    stale = await service.request(method, path + suffix, json=body,
                                  headers={**service.admin, "If-Match": '"1"'})
    assert stale.status == 412
    assert stale.headers["ETag"] == '"2"'
    current = await answer(await service.request("GET", path))
    assert current["version"] == 2 and len(current["previous_secrets"]) == 1


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("POST", "/secret/rotate", {"generate_secret": True}),
    ("DELETE", "/secret/previous", None),
])
async def test_unknown_clients_and_readers_are_refused(
        service: Service, method: str, suffix: str, body: dict[str, Any] | None) -> None:
    missing = await service.request(method, f"/v1/clients/no-such-key{suffix}", json=body)
    assert missing.status == 404
    key = (await service.create(oidc_client()))["key"]
    refused = await service.request(method, f"/v1/clients/{key}{suffix}", json=body,
                                    headers=service.reader)
    assert refused.status == 403
    assert (await refused.json())["missing_permission"] == "configure_server"


@pytest.fixture
async def checked(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    async for running in start_service(settings, aiohttp_client, 1):
        yield running, bearer(add_token(settings, "authz", CLIENTS_VERIFY))


async def test_credential_checks_take_the_old_secret_until_the_grace_ends(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    model = service.http.app[keys.READ_MODEL]

    async def valid(key: str, secret: str) -> bool:
        await model.refresh(key)  # the event that would do it may still be in flight
        body = await answer(await service.request(
            "POST", f"/v1/clients/{key}/verify", headers=verifier, json={"secret": secret}))
        return bool(body["valid"])

    key = (await service.create(oidc_client()))["key"]
    await answer(await service.request("POST", f"/v1/clients/{key}/approve"))
    await answer(await service.request("POST", rotate_path(key), json={
        "secret": NEW, "secret_confirmation": NEW}))
    assert await valid(key, NEW) and await valid(key, OLD)
    await answer(await service.request("DELETE", previous_path(key)))
    assert await valid(key, NEW) and not await valid(key, OLD)
