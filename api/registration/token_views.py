"""The management API of initial access tokens: create (shown once), list, revoke.

Making and revoking a token are single writes of the token with its event in its
outbox (common.registration_tokens); the workers publish the events
(worker.token_relay).

Management routes (`configure_server`), so each answer goes into the audit
trail and a create takes an Idempotency-Key (api.views.idempotency), as every
management route does.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from aiohttp import web

from api import keys
from api.auth.middleware import principal_of
from api.auth.tokens import token_digest
from api.docs.registration_schemas import (
    CreateRegistrationTokenRequest,
    RegistrationTokenSchema,
)
from api.observe import request_id
from api.problems import Problem
from api.views.json_body import read_json_object
from common.json_responses import json_response
from common.registration_tokens import (
    get_token,
    insert_token,
    list_tokens,
    new_document,
    public_token,
    revoke_token,
)
from common.store import now
from common.token_events import RegistrationTokenEvent, RegistrationTokenEventType

# A recognisable prefix lets secret scanners find a leaked initial access token.
TOKEN_PREFIX = "cki_"
TOKEN_BYTES = 32
_CREATE = CreateRegistrationTokenRequest()
_TOKEN = RegistrationTokenSchema()


async def create_registration_token(request: web.Request) -> web.StreamResponse:
    data = _CREATE.load(await read_json_object(request))
    if data["expires_at"] <= datetime.now(UTC):
        raise Problem(400, "The token would be expired already.",
                      errors={"expires_at": ["Must be in the future."]})
    policy = data["policy"]
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    document = new_document(
        token_digest(token), label=data["label"].strip(), created_by=principal_of(request).subject,
        created_at=now(), expires_at=data["expires_at"], max_uses=data["max_uses"],
        policy={"client_types": sorted(set(policy["client_types"])),
                "grant_types": sorted(set(policy["grant_types"])),
                "redirect_uri_hosts": sorted({h.lower() for h in policy["redirect_uri_hosts"]}),
                "auto_approve": policy["auto_approve"]})
    shown = _TOKEN.dump(public_token(document))
    event = RegistrationTokenEvent(RegistrationTokenEventType.CREATED, shown,
                                   principal_of(request).subject, request_id(request),
                                   time=document["created_at"])
    await insert_token(request.app[keys.DB], document, event.to_document())
    body = {**shown, "token": token}
    return json_response(body, status=201, headers={
        "Location": f"/v1/registration-tokens/{document['_id']}", "Cache-Control": "no-store"})


async def list_registration_tokens(request: web.Request) -> web.StreamResponse:
    tokens = await list_tokens(request.app[keys.DB])
    return json_response({"items": [_TOKEN.dump(public_token(t)) for t in tokens]})


async def revoke_registration_token(request: web.Request) -> web.StreamResponse:
    id_ = request.match_info["id"]
    db = request.app[keys.DB]
    found = await get_token(db, id_) if len(id_) <= 64 else None
    if found is None:
        raise Problem(404, f"There is no initial access token {id_[:64]!r}.")
    at = now()
    event = RegistrationTokenEvent(
        RegistrationTokenEventType.REVOKED,
        _TOKEN.dump({**public_token(found), "revoked": True, "revoked_at": at}),
        principal_of(request).subject, request_id(request), time=at)
    # False: revoked before, which is as asked (and no second event).
    await revoke_token(db, id_, at, event.to_document())
    return web.Response(status=204)
