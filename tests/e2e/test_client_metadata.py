"""The RFC 7591 metadata through HTTP: create, PATCH, the answers, the events' changed
fields, public clients, the secret's expiry (verify and stats), and a client stored
before the metadata was kept, read through the API and verify."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from api.gateway_metrics import GatewayMetrics
from api.views.stats import StatsPoller, known_clients
from common.keyring import SecretSlot, client_secret_aad
from common.settings import Settings
from common.store import CLIENTS
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, oidc_client, start_service
from tests.harness import add_token, bearer, event_tap

SECRET = "s3cret-value-for-tests"
IN_30_DAYS = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
METADATA: dict[str, Any] = {
    "token_endpoint_auth_method": "client_secret_post", "scope": "write read profile read",
    "post_logout_redirect_uris": ["https://portal.example.com/bye"],
    "client_uri": "https://portal.example.com/", "logo_uri": "https://portal.example.com/l.png",
    "policy_uri": "https://portal.example.com/privacy", "tos_uri": "https://portal.example.com/tos",
    "contacts": ["ops@example.com"], "client_secret_expires_at": IN_30_DAYS.isoformat()}


async def problem(service: Service, method: str, path: str, body: dict[str, Any]
                  ) -> dict[str, list[str]]:
    response = await service.request(method, path, json=body)
    answer = await response.json()
    assert response.status == 400, answer
    errors: dict[str, list[str]] = answer["errors"]
    return errors


async def test_create_and_edit_show_the_metadata_and_the_events_name_the_changes(
        service: Service) -> None:
    async with event_tap(service.settings) as tap:
        created = await service.create(oidc_client(**METADATA))
        key = created["key"]
        patched = await service.request("PATCH", f"/v1/clients/{key}", json={
            "scope": "read", "client_uri": None, "contacts": [], "require_pkce": False})
        body = await patched.json()
        assert patched.status == 200, body
        events = await tap.wait_for(2)
    assert created["scope"] == "openid profile read write"
    assert created["token_endpoint_auth_method"] == "client_secret_post"
    assert created["require_pkce"] is True
    assert created["contacts"] == ["ops@example.com"]
    assert created["client_secret_expires_at"] == IN_30_DAYS.isoformat()
    assert created["client_secret_issued_at"] == created["created_at"]
    read = await (await service.request("GET", f"/v1/clients/{key}")).json()
    assert read == {name: value for name, value in body.items() if name != "warnings"}
    assert (body["scope"], body["client_uri"], body["contacts"], body["require_pkce"]) == (
        "openid read", None, [], False)
    assert events[0]["data"]["client"]["post_logout_redirect_uris"] == [
        "https://portal.example.com/bye"]
    assert sorted(events[1]["data"]["changed_fields"]) == [
        "client_uri", "contacts", "require_pkce", "scope"]


async def test_a_public_client_has_no_secret_and_must_use_pkce(service: Service) -> None:
    public: dict[str, Any] = {"token_endpoint_auth_method": "none",
                              "redirect_uris": ["http://127.0.0.1:7/cb"]}
    body = {name: value for name, value in oidc_client(**public).items()
            if not name.startswith("secret")}
    created = await service.create(body)
    assert "secret" not in created
    assert (created["require_pkce"], created["client_secret_issued_at"]) == (True, None)
    errors = await problem(service, "POST", "/v1/clients", {**body, "generate_secret": True})
    assert list(errors) == ["generate_secret"]
    errors = await problem(service, "POST", "/v1/clients", oidc_client(**public))
    assert set(errors) == {"secret", "secret_confirmation"}
    errors = await problem(service, "POST", "/v1/clients", {**body, "require_pkce": False})
    assert list(errors) == ["require_pkce"]
    errors = await problem(service, "POST", "/v1/clients",
                           {**body, "grant_types": ["authorization_code", "password"]})
    assert list(errors) == ["grant_types"]
    key = created["key"]
    errors = await problem(service, "POST", f"/v1/clients/{key}/secret/rotate",
                           {"generate_secret": True})
    assert list(errors) == ["generate_secret"]
    errors = await problem(service, "PATCH", f"/v1/clients/{key}",
                           {"token_endpoint_auth_method": "client_secret_basic"})
    assert list(errors) == ["secret"]
    made_confidential = await service.request("PATCH", f"/v1/clients/{key}", json={
        "token_endpoint_auth_method": "client_secret_basic", "generate_secret": True})
    answer = await made_confidential.json()
    assert made_confidential.status == 200, answer
    assert answer["secret"] and answer["client_secret_issued_at"] is not None


@pytest.mark.parametrize(("field", "value"), [
    ("scope", "read"), ("token_endpoint_auth_method", "client_secret_basic"),
    ("client_uri", "https://a.example/"), ("contacts", ["a@example.com"]),
    ("client_secret_expires_at", IN_30_DAYS.isoformat()),
])
async def test_oauth1_consumers_get_none_of_it(service: Service, field: str, value: Any
                                               ) -> None:
    errors = await problem(service, "POST", "/v1/clients", {**oauth1_client(), field: value})
    assert field in errors, errors


@pytest.mark.parametrize(("body", "field"), [
    ({"scope": "read \"bad\""}, "scope"),
    ({"client_uri": "http://portal.example.com/"}, "client_uri"),
    ({"contacts": ["not an address"]}, "contacts"),
    ({"client_secret_expires_at": "2020-01-01T00:00:00Z"}, "client_secret_expires_at"),
    ({"client_secret_expires_at": "tomorrow"}, "client_secret_expires_at"),
    ({"token_endpoint_auth_method": "tls_client_auth"}, "token_endpoint_auth_method"),
    # private_key_jwt without its keys (and with the secret oidc_client gives).
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "secret"),
])
async def test_bad_metadata_is_refused_naming_the_field(service: Service, body: dict[str, Any],
                                                        field: str) -> None:
    errors = await problem(service, "POST", "/v1/clients", oidc_client(**body))
    assert field in errors, errors


async def test_rotate_and_edit_set_or_clear_the_expiry(service: Service) -> None:
    key = (await service.create(oidc_client()))["key"]
    rotated = await service.request("POST", f"/v1/clients/{key}/secret/rotate", json={
        "generate_secret": True, "client_secret_expires_at": IN_30_DAYS.isoformat()})
    body = await rotated.json()
    assert rotated.status == 200, body
    assert body["client_secret_expires_at"] == IN_30_DAYS.isoformat()
    assert body["client_secret_issued_at"] == body["secret_rotated_at"]
    cleared = await service.request("PATCH", f"/v1/clients/{key}",
                                    json={"client_secret_expires_at": None})
    assert (await cleared.json())["client_secret_expires_at"] is None


@pytest.fixture
async def checked(settings: Settings, aiohttp_client: AiohttpClient,
                  topology_cleanup: None) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    async for running in start_service(settings, aiohttp_client, 1):
        yield running, bearer(add_token(settings, "authz", CLIENTS_VERIFY))


async def verify(service: Service, verifier: dict[str, str], key: str) -> dict[str, Any]:
    response = await service.request("POST", f"/v1/clients/{key}/verify", headers=verifier,
                                     json={"secret": SECRET})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def test_an_expired_secret_does_not_verify_and_the_stats_count_it(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    key = (await service.create(oidc_client(client_secret_expires_at=soon)))["key"]
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    await service.http.app[keys.READ_MODEL].refresh(key)
    assert (await verify(service, verifier, key))["reason"] == "ok"
    stats = await (await service.request("GET", "/v1/stats")).json()
    assert stats["secrets"] == {"expiring_soon": 1, "expired": 0, "within_days": 14}
    # No request may set a past expiry: the clock is moved by writing the client.
    await service.http.app[keys.DB][CLIENTS].update_one(
        {"key": key}, {"$set": {"client_secret_expires_at": datetime.now(UTC)}})
    await service.http.app[keys.READ_MODEL].refresh(key)
    assert (await verify(service, verifier, key))["reason"] == "secret_expired"
    stats = await (await service.request("GET", "/v1/stats")).json()
    assert stats["secrets"] == {"expiring_soon": 0, "expired": 1, "within_days": 14}
    # The gauges take the read model's figures (api.views.stats.StatsPoller).
    registry = CollectorRegistry()
    poller = StatsPoller(service.http.app[keys.DB], service.http.app[keys.BUS],
                         GatewayMetrics(registry), 60,
                         known=lambda: known_clients(service.http.app[keys.READ_MODEL]))
    await poller.refresh()
    assert registry.get_sample_value("clientkeys_client_secrets_expired") == 1
    assert registry.get_sample_value("clientkeys_client_secrets_expiring") == 0


async def test_a_client_stored_before_the_metadata_reads_and_verifies_with_the_defaults(
        checked: tuple[Service, dict[str, str]]) -> None:
    service, verifier = checked
    key, at = "old-client-key-0000000000000000", datetime.now(UTC) - timedelta(days=100)
    sealed = service.http.app[keys.KEYRING].seal(SECRET, client_secret_aad(key, SecretSlot.CURRENT))
    await service.http.app[keys.DB][CLIENTS].insert_one({  # the shape stored before
        "key": key, "type": "oidc", "name": "Old portal", "name_sort": "old portal",
        "status": "approved", "redirect_uris": ["https://old.example.com/cb"],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "secret": sealed.to_document(), "previous_secrets": [], "created_at": at,
        "updated_at": at, "status_changed_at": at, "version": 4, "created_by": "op-old",
        "applied_commands": ["op-old"], "outbox": [], "removed_at": None})
    # Written behind the service's back, so no event tells the read model: it learns of
    # the client as its reconciliation would.
    await service.http.app[keys.READ_MODEL].refresh(key)
    client = await (await service.request("GET", f"/v1/clients/{key}")).json()
    assert {name: client[name] for name in (
        "token_endpoint_auth_method", "scope", "require_pkce", "post_logout_redirect_uris",
        "client_uri", "contacts", "client_secret_expires_at")} == {
        "token_endpoint_auth_method": "client_secret_basic", "scope": "openid",
        "require_pkce": True, "post_logout_redirect_uris": [], "client_uri": None,
        "contacts": [], "client_secret_expires_at": None}
    assert datetime.fromisoformat(client["client_secret_issued_at"]) == at.replace(
        microsecond=at.microsecond // 1000 * 1000)
    listed = await (await service.request("GET", "/v1/clients?type=oidc")).json()
    assert [item["scope"] for item in listed["items"]] == ["openid"]
    assert (await verify(service, verifier, key))["valid"] is True
    edited = await service.request("PATCH", f"/v1/clients/{key}", json={"scope": "email"})
    assert (await edited.json())["scope"] == "email openid"


async def test_the_client_types_tell_a_form_what_each_type_may_have(service: Service) -> None:
    body = await (await service.request("GET", "/v1/client-types")).json()
    by_type = {entry["type"]: entry for entry in body["types"]}
    assert by_type["oauth1"]["token_endpoint_auth_methods"] == []
    assert by_type["oidc"]["token_endpoint_auth_methods"] == [
        "client_secret_basic", "client_secret_post", "none", "private_key_jwt"]
    assert {"jwks", "jwks_uri"} <= set(by_type["oauth2"]["metadata_fields"])
    assert body["limits"]["jwks_keys_max"] == 10
    assert by_type["oidc"]["required_scope"] == ["openid"]
    assert "post_logout_redirect_uris" not in by_type["oauth2"]["metadata_fields"]
    assert body["limits"]["scope_tokens_max"] == 100 and body["limits"]["contacts_max"] == 10
