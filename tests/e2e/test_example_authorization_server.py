"""examples/authorization_server.py, an Authlib authorization server whose clients live in
clientkeys, run as its own process against the running service, and asked for tokens by
Authlib's own OAuth 2.0 client: it needs only a `clients:verify` token and makes one
clientkeys call per request, and it holds each client to what clientkeys registered."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from prometheus_client import CollectorRegistry

from api.auth.principals import CLIENTS_VERIFY
from common.metrics import REGISTRY_KEY
from tests.e2e.conftest import Service
from tests.harness import add_token
from tests.processes import REPO, clean_env

EXAMPLE = REPO / "examples" / "authorization_server.py"
SECRET = "s3cret: with + and ünïcødé"
WAIT_S = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def example_server(service: Service, token: str) -> Iterator[str]:
    port = free_port()
    env = clean_env(CLIENTKEYS_URL=str(service.http.make_url("")).rstrip("/"),
                    CLIENTKEYS_TOKEN=token, PORT=str(port))
    process = subprocess.Popen([sys.executable, str(EXAMPLE)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the example did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def clientkeys_calls(registry: CollectorRegistry) -> dict[str, float]:
    """Requests the gateway answered, by route."""
    counted: dict[str, float] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "clientkeys_http_requests_total":
                route = sample.labels["route"]
                counted[route] = counted.get(route, 0) + sample.value
    return counted


class Calls:
    """How many requests of each route the gateway answered while a block ran."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self.made: dict[str, float] = {}

    @contextmanager
    def counting(self) -> Iterator[None]:
        before = clientkeys_calls(self._registry)
        yield
        after = clientkeys_calls(self._registry)
        self.made = {route: n - before.get(route, 0) for route, n in after.items()
                     if n != before.get(route, 0)}


async def approved(service: Service, **body: Any) -> str:
    response = await service.request("POST", "/v1/clients", json=body)
    created = await response.json()
    assert response.status == 201, created.get("errors")
    assert (await service.request("POST", f"/v1/clients/{created['key']}/approve")).status == 200
    return str(created["key"])


@pytest.fixture
async def authorization_server(service: Service) -> AsyncIterator[str]:
    token = add_token(service.settings, "authorization-server", CLIENTS_VERIFY)
    with example_server(service, token) as url:
        yield url


def fetch(session: OAuth2Session, url: str, **kwargs: Any) -> dict[str, Any] | str:
    """The token, or the OAuth error's code."""
    try:
        return dict(session.fetch_token(url, **kwargs))
    except OAuthError as exc:
        return str(exc.error)


def authorize(session: OAuth2Session, authorize_url: str, **kwargs: Any) -> dict[str, list[str]]:
    """The query of the authorization endpoint's redirect back to the client."""
    uri, _state = session.create_authorization_url(authorize_url, user="alice", **kwargs)
    answer = requests.get(uri, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)


REDIRECT_URI = "https://billing.example.com/callback"


async def confidential(service: Service, method: str) -> str:
    return await approved(
        service, type="oidc", name=f"Billing ({method})", secret=SECRET,
        secret_confirmation=SECRET, redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code"], response_types=["code"],
        token_endpoint_auth_method=method, scope="invoices:read invoices:write")


async def code_for(session: OAuth2Session, authorization_server: str, verifier: str
                   ) -> dict[str, list[str]]:
    return await asyncio.to_thread(authorize, session, f"{authorization_server}/authorize",
                                   code_verifier=verifier)


async def test_one_call_per_request_and_only_the_scope_given(
        service: Service, authorization_server: str) -> None:
    key = await confidential(service, "client_secret_basic")
    calls = Calls(service.http.app[REGISTRY_KEY])
    session = OAuth2Session(key, SECRET, redirect_uri=REDIRECT_URI,
                            scope="openid invoices:read", code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(48)
    with calls.counting():
        [code] = (await code_for(session, authorization_server, verifier))["code"]
    assert calls.made == {"client_profile": 1}
    with calls.counting():
        token = await asyncio.to_thread(fetch, session, f"{authorization_server}/token",
                                        grant_type="authorization_code", code=code,
                                        code_verifier=verifier)
    assert calls.made == {"authenticate_client": 1}
    assert isinstance(token, dict) and token["token_type"].lower() == "bearer", token
    assert token["scope"] == "openid invoices:read"
    introspected = (await asyncio.to_thread(
        requests.get, f"{authorization_server}/tokens/{token['access_token']}", timeout=5)
    ).json()
    assert introspected == {"active": True, "client_id": key,
                            "scope": "openid invoices:read"}

    # A scope the client was not given is refused, not narrowed.
    greedy = OAuth2Session(key, SECRET, redirect_uri=REDIRECT_URI,
                           scope="openid invoices:read admin", code_challenge_method="S256")
    refused = await code_for(greedy, authorization_server, generate_token(48))
    assert refused["error"] == ["invalid_scope"] and "code" not in refused

    # The right code with a wrong secret.
    verifier = generate_token(48)
    [code] = (await code_for(session, authorization_server, verifier))["code"]
    wrong = OAuth2Session(key, "not-the-secret", redirect_uri=REDIRECT_URI)
    assert await asyncio.to_thread(fetch, wrong, f"{authorization_server}/token",
                                   grant_type="authorization_code", code=code,
                                   code_verifier=verifier) == "invalid_client"


async def test_a_client_is_held_to_its_registered_method(
        service: Service, authorization_server: str) -> None:
    key = await confidential(service, "client_secret_post")
    for method, expected in (("client_secret_basic", "invalid_client"),
                             ("client_secret_post", "token")):
        session = OAuth2Session(key, SECRET, redirect_uri=REDIRECT_URI, scope="openid",
                                code_challenge_method="S256", token_endpoint_auth_method=method)
        verifier = generate_token(48)
        [code] = (await code_for(session, authorization_server, verifier))["code"]
        token = await asyncio.to_thread(fetch, session, f"{authorization_server}/token",
                                        grant_type="authorization_code", code=code,
                                        code_verifier=verifier)
        assert (token if isinstance(token, str) else "token") == expected, method


async def test_a_public_client_gets_a_code_only_with_pkce(
        service: Service, authorization_server: str) -> None:
    redirect_uri = "http://127.0.0.1/callback"
    public = await approved(
        service, type="oidc", name="Native app", token_endpoint_auth_method="none",
        redirect_uris=[redirect_uri], grant_types=["authorization_code"],
        response_types=["code"])
    calls = Calls(service.http.app[REGISTRY_KEY])
    authorize_url = f"{authorization_server}/authorize"

    without = OAuth2Session(public, redirect_uri=redirect_uri, scope="openid",
                            token_endpoint_auth_method="none")
    refused = await asyncio.to_thread(authorize, without, authorize_url)
    assert refused["error"] == ["invalid_request"] and "code" not in refused

    verifier = generate_token(48)
    with_pkce = OAuth2Session(public, redirect_uri=redirect_uri, scope="openid",
                              code_challenge_method="S256", token_endpoint_auth_method="none")
    with calls.counting():
        granted = await asyncio.to_thread(authorize, with_pkce, authorize_url,
                                          code_verifier=verifier)
    assert calls.made == {"client_profile": 1}
    [code] = granted["code"]
    with calls.counting():
        token = await asyncio.to_thread(fetch, with_pkce, f"{authorization_server}/token",
                                        grant_type="authorization_code", code=code,
                                        code_verifier=verifier)
    assert isinstance(token, dict) and token["scope"] == "openid", token
    assert calls.made == {"authenticate_client": 1}
