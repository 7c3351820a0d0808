"""JWTs of the platform's identity provider at the running gateway, beside static tokens.

A real aiohttp server plays the provider and serves its JWKS; the gateway is the
one production runs, with competing workers behind it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.app import create_app
from api.auth.principals import CLIENTS_READ, CONFIGURE_SERVER
from common.settings import Settings, SettingsError
from tests.e2e.conftest import WORKERS, AiohttpClient, Service, oidc_client, start_service
from tests.harness import bearer
from tests.identity_provider import (
    AUDIENCE,
    ISSUER,
    IdentityProvider,
    SigningKey,
    claims,
    identity_provider,
)

CHALLENGE = 'Bearer realm="clientkeys"'
INVALID_TOKEN = 'Bearer realm="clientkeys", error="invalid_token"'


def trusting(settings: Settings, jwks_url: str) -> Settings:
    # No rate limit between fetches here, so a rotation is seen at once.
    return settings.with_overrides(jwt_jwks_url=jwks_url, jwt_issuer=ISSUER,
                                   jwt_audience=AUDIENCE, jwks_min_refresh_s=0)


@pytest.fixture
async def provider() -> AsyncIterator[IdentityProvider]:
    async with identity_provider() as running:
        yield running


@pytest.fixture
async def service_with_idp(settings: Settings, provider: IdentityProvider,
                           aiohttp_client: AiohttpClient,
                           topology_cleanup: None) -> AsyncIterator[Service]:
    async for running in start_service(trusting(settings, provider.url), aiohttp_client,
                                       WORKERS):
        yield running


def jwt_bearer(key: SigningKey, *permissions: str, **extra: object) -> dict[str, str]:
    return bearer(key.sign(claims("ops-bot", *permissions, **extra)))


async def test_a_jwt_with_configure_server_creates_a_client(
        service_with_idp: Service, provider: IdentityProvider) -> None:
    admin = jwt_bearer(provider.keys[0], CONFIGURE_SERVER)
    response = await service_with_idp.request("POST", "/v1/clients", headers=admin,
                                              json=oidc_client("From the IdP"))
    created = await response.json()
    assert response.status == 201, created
    shown = await service_with_idp.request("GET", f"/v1/clients/{created['key']}",
                                           headers=admin)
    assert shown.status == 200 and (await shown.json())["name"] == "From the IdP"


async def test_a_jwt_with_clients_read_may_read_but_not_create(
        service_with_idp: Service, provider: IdentityProvider) -> None:
    reader = jwt_bearer(provider.keys[0], CLIENTS_READ)
    denied = await service_with_idp.request("POST", "/v1/clients", headers=reader,
                                            json=oidc_client())
    assert denied.status == 403
    assert (await denied.json())["missing_permission"] == CONFIGURE_SERVER
    listed = await service_with_idp.request("GET", "/v1/clients", headers=reader)
    assert listed.status == 200 and (await listed.json())["total"] == 0


async def test_a_rotated_key_is_fetched_when_its_kid_first_appears(
        service_with_idp: Service, provider: IdentityProvider) -> None:
    old_key = provider.keys[0]
    assert provider.fetches == 1
    new_key = provider.rotate()
    response = await service_with_idp.request("POST", "/v1/clients",
                                              headers=jwt_bearer(new_key, CONFIGURE_SERVER),
                                              json=oidc_client("After rotation"))
    assert response.status == 201, await response.text()
    assert provider.fetches == 2
    # The provider withdrew the old key: its tokens are no longer accepted.
    stale = await service_with_idp.request("GET", "/v1/clients",
                                           headers=jwt_bearer(old_key, CLIENTS_READ))
    assert stale.status == 401


async def test_an_invalid_jwt_gets_invalid_token_and_no_reason(
        service_with_idp: Service, provider: IdentityProvider) -> None:
    expired = jwt_bearer(provider.keys[0], CONFIGURE_SERVER, exp=int(time.time()) - 3600)
    wrong_audience = jwt_bearer(provider.keys[0], CONFIGURE_SERVER, aud="another-service")
    for headers in (expired, wrong_audience, bearer("not-a-token")):
        response = await service_with_idp.http.get("/v1/clients", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == INVALID_TOKEN
        body = await response.text()
        assert "expire" not in body.lower() and "audience" not in body.lower()
    anonymous = await service_with_idp.http.get("/v1/clients")
    assert anonymous.status == 401 and anonymous.headers["WWW-Authenticate"] == CHALLENGE


@pytest.fixture
async def service_with_idp_down(settings: Settings, aiohttp_client: AiohttpClient,
                                topology_cleanup: None
                                ) -> AsyncIterator[tuple[Service, SigningKey]]:
    async with identity_provider() as gone:
        url, key = gone.url, gone.keys[0]
    # Nothing listens there any more: the gateway starts all the same.
    async for running in start_service(trusting(settings, url), aiohttp_client, WORKERS):
        yield running, key


async def test_static_tokens_keep_working_while_the_jwks_url_is_down(
        service_with_idp_down: tuple[Service, SigningKey]) -> None:
    service, key = service_with_idp_down
    await service.create(oidc_client("Static token, IdP down"))
    listed = await service.request("GET", "/v1/clients", headers=service.reader)
    assert (await listed.json())["total"] == 1
    refused = await service.request("GET", "/v1/clients", headers=jwt_bearer(key, CLIENTS_READ))
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == INVALID_TOKEN


async def test_a_gateway_may_trust_only_the_identity_provider(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        tmp_path: Path) -> None:
    key = SigningKey.es256()
    pem = tmp_path / "idp.pem"
    pem.write_bytes(key.public_pem())
    jwt_only = settings.with_overrides(tokens_file=None, jwt_public_key_file=pem,
                                       jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    http = await aiohttp_client(create_app(jwt_only))
    listed = await http.get("/v1/clients", headers=jwt_bearer(key, CLIENTS_READ))
    assert listed.status == 200
    with pytest.raises(SettingsError, match="CLIENTKEYS_TOKENS_FILE is not set, nor"):
        create_app(settings.with_overrides(tokens_file=None))
