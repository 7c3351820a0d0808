"""POST /oauth1/consumer-key-requests: a provisional OAuth 1.0a consumer key (the
Jazz/OSLC flow), behind the approval gate.

A tool asks for a key under a name with the secret it chose; it gets the key at
once, and the consumer is pending until an administrator approves it (or the
initial access token's policy auto-approves). Same path as an RFC 7591
registration (api.registration.register): the token, the rules of a consumer,
the token's policy, one use taken, the create on the command path, the use
given back on a refusal. Its answers and errors have the shape of the OAuth
endpoints (api.registration.oauth_answers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from marshmallow import ValidationError

from api import keys
from api.docs.registration_schemas import ConsumerKeyRequest
from api.observe import request_id
from api.problems import Problem
from api.registration import access
from api.registration.idempotent import once
from api.registration.oauth_answers import OAuthError, invalid_metadata, oauth_json
from api.registration.policy import policy_problems
from api.registration.sending import send_create
from api.remote import caller_address
from api.views import json_body
from api.views.idempotency import command_id
from common.client_metadata import ClientMetadata
from common.clients import SECRET_MAX, SECRET_MIN, ClientFields, ClientType, RuleViolation
from common.commands import CreateClient
from common.keyring import command_secret_aad
from common.metadata_rules import check_registration

_REQUEST = ConsumerKeyRequest()


async def _request(request: web.Request) -> dict[str, Any]:
    try:
        data: dict[str, Any] = _REQUEST.load(await json_body.read_json_object(request))
    except Problem as exc:
        raise OAuthError(400, "invalid_client_metadata", exc.detail or "Not JSON.") from None
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        raise invalid_metadata({k: [str(v)] for k, v in messages.items()}) from None
    if not SECRET_MIN <= len(data["secret"]) <= SECRET_MAX:
        raise invalid_metadata({"secret": [
            f"Must be between {SECRET_MIN} and {SECRET_MAX} characters."]})
    return data


async def request_consumer_key(request: web.Request) -> web.StreamResponse:
    try:
        await access.within_rate(request)
        grant = await access.initial_access(request)
        return await once(request, access.identity(request, grant),
                          lambda: _checked_create(request, grant))
    except OAuthError as exc:
        return exc.response()


async def _checked_create(request: web.Request, grant: access.Grant) -> web.Response:
    try:
        data = await _request(request)
        try:
            fields, _metadata, _ = check_registration(
                ClientFields(ClientType.OAUTH1, data["name"]), ClientMetadata())
        except RuleViolation as exc:
            raise invalid_metadata(exc.errors) from None
        problems = policy_problems(grant.policy, fields)
        if problems:
            raise invalid_metadata(problems)
        return await _create(request, grant, fields, data["secret"])
    except OAuthError as exc:  # an answer to keep with the key, like a success
        return exc.response()


async def _create(request: web.Request, grant: access.Grant, fields: ClientFields,
                  secret: str) -> web.Response:
    id_ = command_id(request)
    command = CreateClient(
        id=id_, actor=grant.actor, request_id=request_id(request),
        remote_addr=caller_address(request), issued_at=datetime.now(UTC),
        type=ClientType.OAUTH1, name=fields.name,
        secret=request.app[keys.KEYRING].seal(secret, command_secret_aad(id_, CreateClient.kind)),
        origin=grant.origin, auto_approve=grant.policy["auto_approve"] or None)
    return await send_create(
        request, command, secret=None, shown_while_queued={},
        made=lambda client, _: oauth_json({"key": client["key"], "status": client["status"]},
                                          201))
