"""What a caller may ask before doing anything: who it is, what a client can be, and
whether a redirect URI would be accepted (the same rule a create applies, so a form
can mark a bad URI as it is typed without a second copy of the rule).
"""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from api.auth.middleware import principal_of
from api.auth.principals import PERMISSIONS
from api.views.client_types import (
    LIMITS,
    METADATA_LIMITS,
    client_type_catalogue,
    metadata_catalogue,
)
from api.views.json_body import read_json_object
from common.clients import ClientType
from common.json_responses import json_response
from common.redirect_uris import redirect_uri_problem

# Longer than any redirect URI the rules accept, so a too-long one is answered by the rule.
_URI_BOUND = 8192


class RedirectUriCheckRequest(Schema):
    uri = fields.String(required=True, validate=validate.Length(min=1, max=_URI_BOUND))


class RedirectUriVerdictSchema(Schema):
    """Whether a redirect URI passes the rules; `problem` says why not, else null."""

    valid = fields.Boolean(required=True)
    problem = fields.String(required=True, allow_none=True)


_CHECK = RedirectUriCheckRequest()


async def whoami(request: web.Request) -> web.Response:
    """`GET /v1/me`: the token's subject and every permission it holds."""
    principal = principal_of(request)
    return json_response({"subject": principal.subject,
                          "permissions": [p for p in PERMISSIONS if principal.allows(p)]})


async def client_types(request: web.Request) -> web.Response:
    """`GET /v1/client-types`: the types, their grant and response types, their metadata,
    the limits."""
    types = [{**entry, **metadata_catalogue(ClientType(entry["type"]))}
             for entry in client_type_catalogue()]
    return json_response({"types": types, "limits": {**LIMITS, **METADATA_LIMITS}})


async def check_redirect_uri(request: web.Request) -> web.Response:
    """`POST /v1/redirect-uri-checks`: the rules' verdict on one redirect URI; nothing stored."""
    data = _CHECK.load(await read_json_object(request))
    problem = redirect_uri_problem(data["uri"])
    return json_response({"valid": problem is None, "problem": problem})
