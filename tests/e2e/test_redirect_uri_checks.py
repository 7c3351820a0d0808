"""POST /v1/redirect-uri-checks: the create rule's verdict on one redirect URI, for forms."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Service


@pytest.mark.parametrize(("uri", "problem"), [
    ("https://app.example.com/cb", None),
    ("http://127.0.0.1:8080/cb", None),
    ("com.example.app:/callback", None),
    ("http://app.example.com/cb", "loopback"),
    ("https://app.example.com/cb#x", "fragment"),
    ("https://*.example.com/cb", "Wildcards"),
    ("javascript:alert(1)", "scheme"),
])
async def test_the_verdict_is_the_rule_of_a_create(service: Service, uri: str,
                                                  problem: str | None) -> None:
    response = await service.request("POST", "/v1/redirect-uri-checks", headers=service.reader,
                                     json={"uri": uri})
    verdict = await response.json()
    assert response.status == 200, verdict
    assert verdict["valid"] is (problem is None)
    if problem is None:
        assert verdict["problem"] is None
    else:
        assert problem in verdict["problem"]
    # The same URI in a create is refused for the same reason, or accepted.
    created = await service.request("POST", "/v1/clients", json={
        "type": "oauth2", "name": "Checked", "generate_secret": True,
        "redirect_uris": [uri], "grant_types": ["authorization_code"],
        "response_types": ["code"]})
    assert (created.status in (201, 202)) is (problem is None)
    if problem is not None:
        assert problem in " ".join((await created.json())["errors"]["redirect_uris"])


@pytest.mark.parametrize("body", [{}, {"uri": ""}, {"uri": 3}, {"uri": "x" * 9000}])
async def test_a_bad_request_is_a_problem(service: Service, body: dict[str, object]) -> None:
    response = await service.request("POST", "/v1/redirect-uri-checks", json=body)
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert "uri" in (await response.json())["errors"]


async def test_it_needs_a_token(service: Service) -> None:
    response = await service.http.post("/v1/redirect-uri-checks", json={"uri": "https://a.b/c"})
    assert response.status == 401
