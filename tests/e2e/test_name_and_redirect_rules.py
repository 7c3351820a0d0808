"""Names that would deceive a reader and redirect URIs that lead elsewhere: 400, nothing kept.

The rules are tabled in tests/unit/test_client_rules.py; here they are seen
through the gateway, on create and on edit, naming the field (and the entry).
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.e2e.test_http_errors import assert_nothing_stored, assert_problem

DECEIVING_NAMES = [
    pytest.param("Pay\u202eyap", "bidirectional", id="right-to-left-override"),
    pytest.param("Portal\u2067 admin", "bidirectional", id="right-to-left-isolate"),
    pytest.param("\u200b\u200d\u2060", "visible", id="only-format-characters"),
    pytest.param("\u200b\u3000\ufeff", "visible", id="format-and-space-only"),
    pytest.param("First line\u2028second line", "separators", id="line-separator"),
    pytest.param("One\u2029two", "separators", id="paragraph-separator"),
    pytest.param("Bell\x07", "control", id="control-character"),
]


@pytest.mark.parametrize(("name", "needle"), DECEIVING_NAMES)
async def test_a_deceiving_name_is_refused_on_create(service: Service, name: str,
                                                     needle: str) -> None:
    response = await service.request("POST", "/v1/clients", json=oauth1_client(name))
    problem = await assert_problem(response, 400)
    assert list(problem["errors"]) == ["name"]
    assert needle in " ".join(problem["errors"]["name"])
    await assert_nothing_stored(service)


@pytest.mark.parametrize(("name", "needle"), DECEIVING_NAMES[:3])
async def test_a_deceiving_name_is_refused_on_edit(service: Service, name: str,
                                                   needle: str) -> None:
    created = await service.create(oauth1_client("Legacy"))
    path = f"/v1/clients/{created['key']}"
    problem = await assert_problem(await service.request("PATCH", path, json={"name": name}),
                                   400)
    assert list(problem["errors"]) == ["name"]
    assert needle in " ".join(problem["errors"]["name"])
    assert (await (await service.request("GET", path)).json())["name"] == "Legacy"


REFUSED_URIS = [
    pytest.param("https://user@portal.example.com/cb", "credentials", id="user"),
    pytest.param("https://user:pass@portal.example.com/cb", "credentials", id="user-password"),
    pytest.param("com.example.app://user@host/cb", "credentials", id="private-scheme-user"),
    pytest.param("https://portal.example.com:0/cb", "Port 0", id="port-0"),
    pytest.param("http://127.0.0.1:0/cb", "Port 0", id="loopback-port-0"),
    pytest.param("myapp:/callback", "reverse-domain", id="not-reverse-domain"),
    pytest.param("com..example:/cb", "reverse-domain", id="empty-label"),
]


@pytest.mark.parametrize(("uri", "needle"), REFUSED_URIS)
async def test_a_refused_redirect_uri_is_named_by_its_entry(service: Service, uri: str,
                                                            needle: str) -> None:
    body = oidc_client(redirect_uris=["https://portal.example.com/cb", uri])
    problem = await assert_problem(await service.request("POST", "/v1/clients", json=body), 400)
    assert list(problem["errors"]) == ["redirect_uris"]
    [message] = problem["errors"]["redirect_uris"]
    assert message.startswith(f"Entry 2 ({uri!r}): ") and needle in message
    await assert_nothing_stored(service)


async def test_what_was_allowed_stays_allowed(service: Service) -> None:
    uris = ["https://portal.example.com:8443/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb",
            "http://localhost:3000/cb", "com.example.app:/oauth2redirect"]
    created = await service.create(oidc_client(redirect_uris=uris))
    assert created["redirect_uris"] == uris
