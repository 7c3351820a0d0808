"""Initial access tokens and registrations, as the self-registration tests make them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from api.auth.tokens import token_digest, token_id
from tests.e2e.conftest import Service

REDIRECT = "https://app.example.com/cb"


def rfc7591_client(**overrides: Any) -> dict[str, Any]:
    """RFC 7591 section 3.1's example, trimmed to what this server keeps."""
    body: dict[str, Any] = {"client_name": "My Example Client", "redirect_uris": [REDIRECT],
                            "grant_types": ["authorization_code", "refresh_token"],
                            "token_endpoint_auth_method": "client_secret_basic",
                            "scope": "read write", "contacts": ["ve7jtb@example.org"],
                            "logo_uri": "https://client.example.org/logo.png"}
    body.update(overrides)
    return body


async def new_token(service: Service, *, max_uses: int = 5, days: float = 1,
                    **policy: Any) -> dict[str, Any]:
    response = await service.request("POST", "/v1/registration-tokens", json={
        "label": "partner onboarding", "max_uses": max_uses,
        "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
        "policy": policy})
    body: dict[str, Any] = await response.json()
    if response.status == 202:  # queued, not applied within the wait: the token is shown now
        return await _made_later(service, response.headers["Location"], body["token"])
    assert response.status == 201, body
    return body


async def _made_later(service: Service, location: str, token: str) -> dict[str, Any]:
    """The record of a token whose create was answered 202, once its operation succeeded."""
    for _ in range(200):
        operation = await (await service.request("GET", location)).json()
        if operation["status"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert operation["status"] == "succeeded", operation
    listed = await (await service.request("GET", "/v1/registration-tokens")).json()
    made = token_id(token_digest(token))
    [record] = [item for item in listed["items"] if item["id"] == made]
    return {**record, "token": token}


def with_token(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def register(service: Service, token: str | None, body: dict[str, Any] | None = None
                   ) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = await service.http.post("/oauth/register", json=body or rfc7591_client(),
                                       headers=with_token(token))
    return response.status, await response.json(), dict(response.headers)
