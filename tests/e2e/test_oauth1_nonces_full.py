"""POST /v1/oauth1/verify when the gateway's nonce store is full: 503 with Retry-After.

A full store cannot record a fresh nonce, so a request with a good signature can
be neither accepted (it could be a replay) nor refused (it may be fresh). The
caller is told to come back, with a problem, never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER

from api import keys
from api.auth.principals import CLIENTS_VERIFY
from api.verify.oauth1_nonces import NonceCache
from api.verify.oauth1_signatures import SignatureVerifier
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, start_service
from tests.e2e.test_http_errors import assert_problem
from tests.e2e.test_oauth1_verify import check, signed
from tests.harness import add_token, bearer


def _small_nonce_store(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    app[keys.OAUTH1_VERIFIER] = SignatureVerifier(
        window_s=settings.oauth1_window_s, require_https=settings.oauth1_require_https,
        nonces=NonceCache(max_entries=1))


@pytest.fixture
async def consumer(settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None
                   ) -> AsyncIterator[tuple[Service, dict[str, str], str]]:
    async for service in start_service(settings, aiohttp_client, 1, _small_nonce_store):
        key = (await service.create(oauth1_client()))["key"]
        assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
        await service.http.app[keys.READ_MODEL].refresh(key)
        yield service, bearer(add_token(settings, "authz", CLIENTS_VERIFY)), key


async def test_a_full_nonce_store_answers_503_with_retry_after(
        consumer: tuple[Service, dict[str, str], str]) -> None:
    service, verifier, key = consumer
    first = signed(key, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER)
    assert (await check(service, verifier, first))["valid"] is True

    second = signed(key, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER)
    response = await service.request("POST", "/v1/oauth1/verify", headers=verifier,
                                     json=second)
    problem = await assert_problem(response, 503)
    assert "nonce" in problem["detail"] and "Retry-After" in problem["detail"]
    # The first nonce leaves the store when its timestamp leaves the window.
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= service.settings.oauth1_window_s * 2 + 1
    # Nothing was recorded: the first request is still known, and still a replay.
    assert (await check(service, verifier, first))["reason"] == "replayed_nonce"
    # A bad signature is refused as before: only good ones need a nonce recorded.
    guess = signed(key, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, secret="guess")
    assert (await check(service, verifier, guess))["reason"] == "bad_signature"
