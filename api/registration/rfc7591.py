"""A client as RFC 7591 (section 3.2.1) and RFC 7592 (section 3) show it.

Made from the public view every answer and event uses (common.client_view), so a
registration's answer cannot show what a management read would not, plus what
only the registering client gets: its secret and its registration access
token, each shown once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

REGISTRATION_PATH = "/oauth/register"
# RFC 7591 section 2 metadata as the public view names it (client_name: `name`).
_METADATA = ("redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method",
             "scope", "post_logout_redirect_uris", "client_uri", "logo_uri", "policy_uri",
             "tos_uri", "contacts", "jwks", "jwks_uri")


def _epoch(value: str | None) -> int:
    return 0 if value is None else int(datetime.fromisoformat(value).timestamp())


def client_uri(request: web.Request, client_id: str) -> str:
    """The registration client URI (RFC 7592), on the address the caller used."""
    return f"{request.url.origin()}{REGISTRATION_PATH}/{client_id}"


def registered_client(request: web.Request, client: dict[str, Any], *,
                      client_secret: str | None = None,
                      registration_access_token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": client["key"],
        "client_id_issued_at": _epoch(client["created_at"]),
        "registration_client_uri": client_uri(request, client["key"]),
        "client_name": client["name"],
        **{name: client[name] for name in _METADATA
           if client.get(name) is not None and client.get(name) != []},
        "status": client["status"],
        "origin": client["origin"],
    }
    if client.get("client_secret_issued_at") is not None:
        body["client_secret_expires_at"] = _epoch(client.get("client_secret_expires_at"))
    if client_secret is not None:
        body["client_secret"] = client_secret
    if registration_access_token is not None:
        body["registration_access_token"] = registration_access_token
    return body
