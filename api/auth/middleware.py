"""May they: the middleware that checks each route's permission.

Routes declare their permission in `api.routes`; a route without one is public
(health and the API document only). The principal found is put on the request
for the views.

The token is looked at first, whatever the address: a valid token is served
even from an address that keeps failing (behind a proxy, or on a shared NAT,
that address is shared with an attacker). Only failures are counted and held
back (`api.auth.limiter`): a bad token from an address over its limit is answered
429 instead of 401. A bad token costs a hash lookup, or one signature check for
a JWT (whose key set is fetched at most once per `JWKS_MIN_REFRESH_S`), so the
work an attacker makes the gateway do stays bounded while the 429 stops the
guessing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from api import keys
from api.auth.principals import Principal
from api.problems import Problem
from api.remote import caller_address, limiter_source


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    permission = request.app[keys.ROUTE_PERMISSIONS].get(route.name or "")
    if permission is None:
        return await handler(request)
    token = bearer_token(request)
    principal = await request.app[keys.AUTHENTICATOR].authenticate(token) if token else None
    if principal is None:
        failures = request.app[keys.SIGN_IN_FAILURES]
        source = limiter_source(caller_address(request))
        wait = await failures.retry_after(source)
        await failures.failed(source)
        if wait is not None:
            raise Problem(429, "Too many failed sign-ins from this address; try again later.",
                          headers={"Retry-After": str(wait)})
        # RFC 6750: say that a presented token is invalid, never why.
        challenge = 'Bearer realm="clientkeys"' + (', error="invalid_token"' if token else "")
        raise Problem(401, "A valid bearer token is required.",
                      headers={"WWW-Authenticate": challenge})
    request[keys.PRINCIPAL] = principal  # also for the audit entry of a refusal
    if not principal.allows(permission):
        raise Problem(403, f"This token lacks the '{permission}' permission.",
                      missing_permission=permission)
    return await handler(request)


def principal_of(request: web.Request) -> Principal:
    return request[keys.PRINCIPAL]
