"""Which client a registration access token (RFC 7592) opens: a read of the clients
collection that, unlike every other read, takes the token's digest along, only to
compare it here.

A token opens only the client it was made for: the client is read by the key
in the path, and the digest of the presented token compared with the one stored
on that very client by `hmac.compare_digest`. No such client, a removed one
(its digest is dropped with it), no token or another client's token: 401 alike,
as RFC 7592 section 2 asks, so the answer does not say whether the client exists.
"""

from __future__ import annotations

import hmac
from typing import cast

from aiohttp import web

from api import keys
from api.auth.middleware import bearer_token
from api.auth.tokens import token_digest
from api.docs.route_docs import ID_MAX
from api.registration.oauth_answers import unauthorized
from common.client_documents import WITHOUT_SECRETS, ClientDocument, live
from common.store import CLIENTS

_DIGEST = "registration_access_sha256"
# Every field a read shows, and the digest this read alone needs.
_PROJECTION = {name: 0 for name in WITHOUT_SECRETS if name != _DIGEST}


async def opened_client(request: web.Request) -> ClientDocument:
    """The client of the path, if the request's bearer token is its registration access token."""
    token = bearer_token(request)
    key = request.match_info["client_id"]
    if token is None:
        raise unauthorized(token_given=False)
    found = None
    if len(key) <= ID_MAX:
        found = live(await request.app[keys.DB][CLIENTS].find_one({"key": key}, _PROJECTION))
    stored = (found or {}).get(_DIGEST)
    if not isinstance(stored, str) or not hmac.compare_digest(
            stored.encode(), token_digest(token).encode()):
        raise unauthorized(token_given=True)
    assert found is not None
    found.pop(_DIGEST, None)
    return cast(ClientDocument, found)
