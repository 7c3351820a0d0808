"""What a caller may ask before doing anything: who it is, and what a client can be."""

from __future__ import annotations

from aiohttp import web

from api.auth import principal_of
from api.principals import PERMISSIONS
from common.clients import LIMITS, client_type_catalogue
from common.json_responses import json_response


async def whoami(request: web.Request) -> web.Response:
    """`GET /v1/me`: the token's subject and every permission it holds."""
    principal = principal_of(request)
    return json_response({"subject": principal.subject,
                          "permissions": [p for p in PERMISSIONS if principal.allows(p)]})


async def client_types(request: web.Request) -> web.Response:
    """`GET /v1/client-types`: the types, their grant and response types, the limits."""
    return json_response({"types": client_type_catalogue(), "limits": dict(LIMITS)})
