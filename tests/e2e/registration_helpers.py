"""Initial access tokens and registrations, as the self-registration tests make them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
    assert response.status == 201, body
    return body


def with_token(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def register(service: Service, token: str | None, body: dict[str, Any] | None = None
                   ) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = await service.http.post("/oauth/register", json=body or rfc7591_client(),
                                       headers=with_token(token))
    return response.status, await response.json(), dict(response.headers)
