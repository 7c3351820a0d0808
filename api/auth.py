"""May they: the middleware that checks each route's permission.

Routes declare their permission in `api.routes`; a route without one is public
(health and the API document only). The principal found is put on the request
for the views. An address with too many failed sign-ins is answered 429 before
its token is even looked at (see `api.limiter`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from api import keys
from api.principals import Principal
from api.problems import Problem


def _bearer_token(request: web.Request) -> str | None:
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
    failures = request.app[keys.SIGN_IN_FAILURES]
    address = request.remote or "unknown"
    wait = await failures.retry_after(address)
    if wait is not None:
        raise Problem(429, "Too many failed sign-ins from this address; try again later.",
                      headers={"Retry-After": str(wait)})
    token = _bearer_token(request)
    principal = await request.app[keys.AUTHENTICATOR].authenticate(token) if token else None
    if principal is None:
        await failures.failed(address)
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
