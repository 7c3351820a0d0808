"""The management API of initial access tokens: create (shown once), list, revoke.

Making and revoking a token are commands (common.token_commands), sent and
answered like a client's (api.views.dispatch): the workers apply them, writing
the token with its event in its outbox (worker.token_handlers), and record
their audit entries. The token is made here and shown once; the command carries
only its SHA-256 digest, so the broker never sees it.

Management routes (`configure_server`), so a create takes an Idempotency-Key
(api.views.idempotency), as every management route does, and a retry answered
from the operation shows the token again, from the sealed copy kept with the key.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api import keys
from api.auth.middleware import principal_of
from api.auth.tokens import token_digest
from api.docs.registration_schemas import CreateRegistrationTokenRequest
from api.observe import request_id
from api.problems import Problem
from api.registration.token_reads import list_tokens
from api.remote import caller_address
from api.views.dispatch import dispatch
from api.views.idempotency import command_id
from api.views.json_body import read_json_object
from common.json_responses import json_response
from common.registration_tokens import public_token
from common.token_commands import CreateRegistrationToken, RevokeRegistrationToken

# A recognisable prefix lets secret scanners find a leaked initial access token.
TOKEN_PREFIX = "cki_"
TOKEN_BYTES = 32
# A token id is ID_LENGTH hex digits; anything much longer is no token's.
_ID_MAX = 64
_CREATE = CreateRegistrationTokenRequest()


def _origin(request: web.Request) -> dict[str, Any]:
    """What every command carries of the request that sent it."""
    return {"id": command_id(request), "actor": principal_of(request).subject,
            "request_id": request_id(request), "remote_addr": caller_address(request),
            "issued_at": datetime.now(UTC)}


async def create_registration_token(request: web.Request) -> web.StreamResponse:
    data = _CREATE.load(await read_json_object(request))
    if data["expires_at"] <= datetime.now(UTC):
        raise Problem(400, "The token would be expired already.",
                      errors={"expires_at": ["Must be in the future."]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    command = CreateRegistrationToken(
        **_origin(request),
        token_sha256=token_digest(token), label=data["label"].strip(),
        expires_at=data["expires_at"], max_uses=data["max_uses"], policy=data["policy"])
    # The token is shown once: in this answer (api.views.command_answers), or in a 202.
    return await dispatch(request, command, generated_secret=token)


async def list_registration_tokens(request: web.Request) -> web.StreamResponse:
    tokens = await list_tokens(request.app[keys.DB])
    return json_response({"items": [public_token(t) for t in tokens]})


async def revoke_registration_token(request: web.Request) -> web.StreamResponse:
    id_ = request.match_info["id"]
    if len(id_) > _ID_MAX:
        raise Problem(404, f"There is no initial access token {id_[:_ID_MAX]!r}.")
    # 204 also when it was revoked before (no second event); 404 when there is none.
    return await dispatch(request, RevokeRegistrationToken(
        **_origin(request), token_id=id_))
