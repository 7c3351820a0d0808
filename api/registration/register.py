"""POST /oauth/register: RFC 7591 dynamic client registration, behind the approval gate.

The request is checked by the very rules of the management API
(`check_registration`), then by the initial access token's policy; only then
is a use of the token taken and the create sent down the command path like
any other (`dispatch`: the operation, the signed command, the worker, the
outbox). The client is pending unless the policy auto-approves, carries its
origin, and its audit entries name the actor `registration:<token id>`.

The registration access token (RFC 7592) is made here, shown once in the
answer and sent to the worker only as its SHA-256 digest, which the client
document keeps; a generated secret travels sealed, as every secret does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError

from api import keys
from api.auth.tokens import token_digest
from api.docs.registration_schemas import RegistrationRequest
from api.observe import request_id
from api.problems import Problem
from api.registration import access
from api.registration.idempotent import once
from api.registration.oauth_answers import OAuthError, invalid_metadata, oauth_json
from api.registration.policy import policy_problems
from api.registration.rfc7591 import registered_client
from api.registration.sending import send_create
from api.remote import caller_address
from api.views import json_body
from api.views.idempotency import command_id
from common.client_metadata import METADATA_FIELDS, OPENID, ClientMetadata
from common.clients import ClientFields, ClientType, RuleViolation
from common.commands import CreateClient
from common.keyring import command_secret_aad, generate_secret
from common.metadata_rules import check_registration

_REQUEST = RegistrationRequest()
# A registration access token: as random as an API token, with a prefix scanners know.
ACCESS_TOKEN_PREFIX = "ckr_"


def new_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + generate_secret()


async def read_metadata(request: web.Request, schema: Schema = _REQUEST) -> dict[str, Any]:
    """The request's metadata; 400 invalid_client_metadata when it is not JSON of that shape."""
    try:
        body = await json_body.read_json_object(request)
    except Problem as exc:
        if exc.status != 400 and exc.status != 415:
            raise
        raise OAuthError(400, "invalid_client_metadata", exc.detail or "Not JSON.") from None
    try:
        data: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        raise invalid_metadata({name: [str(m) for m in (v if isinstance(v, list) else [v])]
                                for name, v in errors.items()}) from None
    return data


def client_type_of(scope: list[str], response_types: list[str]) -> ClientType:
    """OpenID Connect when it asks for openid or an ID token, else OAuth 2.0."""
    if OPENID in scope or any("id_token" in r.split() for r in response_types):
        return ClientType.OIDC
    return ClientType.OAUTH2


def checked_client(data: dict[str, Any], grant: access.Grant
                   ) -> tuple[ClientFields, ClientMetadata]:
    """The canonical client, by the rules and then by the token's policy; 400 otherwise."""
    grants = data.get("grant_types") or ["authorization_code"]
    responses = data.get("response_types")
    if responses is None:
        responses = ["code"] if "authorization_code" in grants else []
    metadata = ClientMetadata(**{name: data[name] for name in METADATA_FIELDS
                                 if data.get(name) is not None})
    given = ClientFields(client_type_of(metadata.scope, responses), data["client_name"],
                         data.get("redirect_uris") or [], grants, responses)
    try:
        fields, canonical, _warnings = check_registration(given, metadata)
    except RuleViolation as exc:
        raise invalid_metadata(exc.errors) from None
    problems = policy_problems(grant.policy, fields, canonical.post_logout_redirect_uris)
    if problems:
        raise invalid_metadata(problems)
    return fields, canonical


async def register_client(request: web.Request) -> web.StreamResponse:
    try:
        await access.within_rate(request)
        grant = await access.initial_access(request)

        async def run() -> web.Response:
            try:
                data = await read_metadata(request)
                fields, metadata = checked_client(data, grant)
                return await _create(request, grant, data, fields, metadata)
            except OAuthError as exc:  # an answer to keep with the key, like a success
                return exc.response()

        return await once(request, access.identity(request, grant), run)
    except OAuthError as exc:
        return exc.response()


async def _create(request: web.Request, grant: access.Grant, data: dict[str, Any],
                  fields: ClientFields, metadata: ClientMetadata) -> web.Response:
    method = metadata.with_defaults(fields.type, fields.grant_types).auth_method
    secret = generate_secret() if method is not None and method.uses_secret else None
    access_token = new_access_token()
    origin: dict[str, Any] = {
        "id": command_id(request), "actor": grant.actor, "request_id": request_id(request),
        "remote_addr": caller_address(request), "issued_at": datetime.now(UTC)}
    command = CreateClient(
        **origin, type=fields.type, name=fields.name,
        secret=None if secret is None else request.app[keys.KEYRING].seal(
            secret, command_secret_aad(origin["id"], CreateClient.kind)),
        redirect_uris=fields.redirect_uris, grant_types=fields.grant_types,
        response_types=fields.response_types,
        **{name: getattr(metadata, name) for name in METADATA_FIELDS if name in data},
        origin=grant.origin, registration_access_sha256=token_digest(access_token),
        auto_approve=grant.policy["auto_approve"] or None)
    return await send_create(
        request, command, secret=secret,
        made=lambda client, generated: oauth_json(registered_client(
            request, client, client_secret=generated, registration_access_token=access_token),
            201),
        shown_while_queued={"registration_access_token": access_token})
