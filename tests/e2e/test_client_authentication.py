"""An authorization server's two calls through HTTP: a client's profile and the
authentication of a token request, each with a `clients:verify` token alone."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from common.settings import Settings
from common.store import CLIENTS
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, oidc_client, start_service
from tests.harness import add_token, bearer

SECRET = "s3cret-value-for-tests"
# Reserved and non-ASCII characters, which client_secret_basic form-urlencodes.
ODD_SECRET = "ünïcødé: with+plus & %25 and spaces"
Checked = tuple[Service, dict[str, str]]


@pytest.fixture
async def checked(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[Checked]:
    async for running in start_service(settings.with_overrides(secret_failures_per_minute=5),
                                       aiohttp_client, 1):
        yield running, bearer(add_token(settings, "authz", CLIENTS_VERIFY))


def basic(client_id: str, secret: str) -> str:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


async def authenticate(service: Service, verifier: dict[str, str], *,
                       authorization: str | None = None, form: dict[str, str] | None = None,
                       remote_addr: str | None = None, expect: int = 200) -> dict[str, Any]:
    body: dict[str, Any] = {"authorization": authorization, "form": form or {}}
    if remote_addr is not None:
        body["remote_addr"] = remote_addr
    response = await service.request("POST", "/v1/client-authentication", headers=verifier,
                                      json=body)
    answer: dict[str, Any] = await response.json()
    assert response.status == expect, answer
    return answer


def public_client() -> dict[str, Any]:
    """A native app (RFC 8252): no secret, a loopback redirect URI, PKCE."""
    body = oidc_client("Native app", token_endpoint_auth_method="none",
                       redirect_uris=["http://127.0.0.1/callback"],
                       grant_types=["authorization_code"])
    del body["secret"], body["secret_confirmation"]
    return body


async def approved(service: Service, body: dict[str, Any]) -> str:
    key = str((await service.create(body))["key"])
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    return key


async def test_each_method_authenticates_and_answers_the_profile(checked: Checked) -> None:
    service, verifier = checked
    basic_key = await approved(service, oidc_client(
        "Basic", secret=ODD_SECRET, secret_confirmation=ODD_SECRET, scope="email"))
    post_key = await approved(service, oidc_client(
        "Post", token_endpoint_auth_method="client_secret_post"))
    public_key = await approved(service, public_client())

    by_basic = await authenticate(service, verifier, authorization=basic(basic_key, ODD_SECRET))
    assert (by_basic["valid"], by_basic["reason"], by_basic["method"]) == (
        True, "ok", "client_secret_basic")
    assert by_basic["client"]["client_id"] == basic_key
    assert by_basic["client"]["scope"] == "email openid"
    by_post = await authenticate(service, verifier,
                                 form={"client_id": post_key, "client_secret": SECRET})
    assert (by_post["reason"], by_post["method"]) == ("ok", "client_secret_post")
    by_none = await authenticate(service, verifier, form={"client_id": public_key})
    assert (by_none["reason"], by_none["method"]) == ("ok", "none")
    assert by_none["client"]["require_pkce"] is True

    # The profile each answer carried is the one the authorization endpoint reads.
    profile = await service.request("GET", f"/v1/clients/{basic_key}/profile",
                                    headers=verifier)
    assert profile.status == 200
    assert await profile.json() == by_basic["client"]
    assert profile.headers["ETag"] == f'"{by_basic["client"]["version"]}"'


async def test_each_refusal_has_its_reason(checked: Checked) -> None:
    service, verifier = checked
    post_key = await approved(service, oidc_client(
        "Post", token_endpoint_auth_method="client_secret_post"))
    pending_key = str((await service.create(oidc_client("Pending")))["key"])
    expiring_key = await approved(service, oidc_client(
        "Expiring", client_secret_expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()))
    consumer_key = await approved(service, oauth1_client())
    # No request may set a past expiry: the clock is moved by writing the client.
    await service.http.app[keys.DB][CLIENTS].update_one(
        {"key": expiring_key}, {"$set": {"client_secret_expires_at": datetime.now(UTC)}})
    await service.http.app[keys.READ_MODEL].refresh(expiring_key)

    wrong_method = await authenticate(service, verifier, authorization=basic(post_key, SECRET))
    assert (wrong_method["reason"], wrong_method["client"]["client_id"]) == (
        "wrong_method", post_key)
    assert (await authenticate(service, verifier, authorization=basic(
        consumer_key, "consumer-secret-123")))["reason"] == "wrong_method"
    not_approved = await authenticate(service, verifier, authorization=basic(pending_key,
                                                                            SECRET))
    assert (not_approved["reason"], not_approved["client"]["status"]) == (
        "not_approved", "pending")
    assert (await authenticate(service, verifier, authorization=basic(
        expiring_key, SECRET)))["reason"] == "secret_expired"

    refusals = [
        await authenticate(service, verifier, form={"client_id": post_key,
                                                    "client_secret": "wrong"}),
        await authenticate(service, verifier, authorization=basic("no-such-client", SECRET)),
        await authenticate(service, verifier, form={"client_id": post_key}),
        await authenticate(service, verifier, authorization=basic(post_key, SECRET),
                           form={"client_secret": SECRET}),
        await authenticate(service, verifier),
    ]
    assert {(r["valid"], r["reason"], str(r["client"])) for r in refusals} == {
        (False, "invalid_client", "None")}


async def test_a_verify_token_is_enough_and_opens_nothing_else(checked: Checked) -> None:
    service, verifier = checked
    key = await approved(service, oidc_client())
    assert (await service.request("GET", f"/v1/clients/{key}/profile",
                                  headers=verifier)).status == 200
    assert (await authenticate(service, verifier, authorization=basic(key, SECRET)))["valid"]
    for method, path in [("GET", f"/v1/clients/{key}"), ("GET", "/v1/clients"),
                         ("GET", f"/v1/clients/{key}/history"), ("GET", "/v1/audit"),
                         ("GET", "/v1/stats"), ("POST", f"/v1/clients/{key}/approve")]:
        response = await service.request(method, path, headers=verifier)
        assert response.status == 403, (method, path)
    # A reader may list clients, but not read profiles or authenticate clients.
    assert (await service.request("GET", f"/v1/clients/{key}/profile",
                                  headers=service.reader)).status == 403
    assert (await service.request("POST", "/v1/client-authentication", headers=service.reader,
                                  json={"form": {"client_id": key}})).status == 403


async def test_an_unknown_or_removed_client_has_no_profile(checked: Checked) -> None:
    service, verifier = checked
    key = await approved(service, oidc_client())
    assert (await service.request("DELETE", f"/v1/clients/{key}")).status == 204
    for missing in (key, "no-such-client", "x" * 300):
        response = await service.request("GET", f"/v1/clients/{missing}/profile",
                                         headers=verifier)
        assert response.status == 404
    assert (await authenticate(service, verifier, authorization=basic(key, SECRET)))[
        "reason"] == "invalid_client"


async def test_failures_hold_back_their_source_only(checked: Checked) -> None:
    service, verifier = checked
    key = await approved(service, oidc_client())
    for _ in range(5):
        answer = await authenticate(service, verifier, authorization=basic(key, "guess"),
                                    remote_addr="203.0.113.9")
        assert answer["reason"] == "invalid_client"
    held = await service.request("POST", "/v1/client-authentication", headers=verifier, json={
        "authorization": basic(key, SECRET), "remote_addr": "203.0.113.9"})
    assert held.status == 429 and int(held.headers["Retry-After"]) > 0
    # The right secret from another source still authenticates.
    assert (await authenticate(service, verifier, authorization=basic(key, SECRET),
                               remote_addr="198.51.100.4"))["valid"] is True


async def test_a_bad_body_is_a_clear_400(checked: Checked) -> None:
    service, verifier = checked
    for body in ({"form": {"client_id": "a", "unexpected": "x"}}, {"form": "text"},
                 {"authorization": 42}, {"remote_addr": "not an address"}):
        response = await service.request("POST", "/v1/client-authentication",
                                         headers=verifier, json=body)
        problem = await response.json()
        assert response.status == 400, body
        assert problem["errors"], problem


async def test_each_secret_shows_when_it_last_verified(checked: Checked) -> None:
    service, verifier = checked
    key = await approved(service, oidc_client())
    usage = service.http.app[keys.SECRET_USAGE]
    client = await (await service.request("GET", f"/v1/clients/{key}")).json()
    assert client["client_secret_last_used_at"] is None

    assert (await authenticate(service, verifier, authorization=basic(key, SECRET)))["valid"]
    await usage.write()  # as the gateway does once a minute
    await usage.read()
    client = await (await service.request("GET", f"/v1/clients/{key}")).json()
    used = datetime.fromisoformat(client["client_secret_last_used_at"])
    assert used.second == 0 and datetime.now(UTC) - used < timedelta(minutes=2)

    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate", json={
        "secret": "the-next-secret-value", "secret_confirmation": "the-next-secret-value",
        "grace_seconds": 3600})
    assert rotated.status == 200
    answer = await rotated.json()
    # The replaced secret keeps its last use; the new one has none yet.
    assert answer["client_secret_last_used_at"] is None
    assert [p["last_used_at"] for p in answer["previous_secrets"]] == [
        client["client_secret_last_used_at"]]
    verified = await service.request("POST", f"/v1/clients/{key}/verify", headers=verifier,
                                     json={"secret": "the-next-secret-value"})
    assert (await verified.json())["valid"] is True
    await usage.write()
    listed = await (await service.request("GET", "/v1/clients?type=oidc")).json()
    [shown] = [item for item in listed["items"] if item["key"] == key]
    assert shown["client_secret_last_used_at"] is not None
