"""Who may register: the initial access token (or open registration), and how often.

A token is looked up by its digest and checked for its state here, so a
missing, unknown, expired, used-up or revoked token is refused before any
work. Its use is taken by the worker that makes the client (worker.handlers),
once per create command: a refused registration costs no use, nor does a
command redelivered to a worker; a registration sent again with its
Idempotency-Key is answered again without taking one (api.registration.idempotent),
one sent again without a key is a new registration.

Every request to a self-registration endpoint counts against its caller
address (`REGISTRATIONS_PER_MINUTE`, with the limiter of `api.auth.limiter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api import keys
from api.auth.middleware import bearer_token
from api.auth.tokens import token_digest
from api.registration.oauth_answers import OAuthError, unauthorized
from api.registration.policy import OPEN_POLICY
from api.registration.token_reads import find_token, get_token
from api.remote import caller_address, limiter_source
from api.views.idempotency import HEADER
from common.client_origin import registration_actor, registration_origin
from common.registration_tokens import TokenPolicy


@dataclass(frozen=True)
class Grant:
    """What the caller may register, and as whom."""

    token_id: str | None  # None: open registration
    label: str | None
    policy: TokenPolicy

    @property
    def actor(self) -> str:
        return registration_actor(self.token_id)

    @property
    def origin(self) -> dict[str, Any]:
        return registration_origin(self.token_id, self.label)


async def within_rate(request: web.Request) -> None:
    """Count this request against its source; 429 once the source is over its limit."""
    limiter = request.app[keys.REGISTRATION_REQUESTS]
    source = limiter_source(caller_address(request))
    wait = await limiter.retry_after(source)
    await limiter.failed(source)
    if wait is not None:
        raise OAuthError(429, "temporarily_unavailable",
                         "Too many registration requests from this address; try again later.",
                         headers={"Retry-After": str(wait)})


async def initial_access(request: web.Request) -> Grant:
    """The caller's grant; 401 (alike for every reason) when it has none."""
    token = bearer_token(request)
    if token is None:
        if request.app[keys.SETTINGS].open_registration:
            return Grant(None, None, OPEN_POLICY)
        raise unauthorized(token_given=False)
    found = await find_token(request.app[keys.DB], token_digest(token))
    # A retry with an Idempotency-Key may be the request that took the last use: it is
    # answered again (api.registration.idempotent); a new request is refused when the
    # worker comes to take a use (worker.handlers).
    used_up = found is not None and found["uses_left"] <= 0 and HEADER not in request.headers
    if (found is None or found["revoked"] or used_up
            or found["expires_at"] <= datetime.now(UTC)):
        raise unauthorized(token_given=True)
    return Grant(found["_id"], found["label"], found["policy"])


async def grant_of(request: web.Request, token_id: str | None, label: str | None) -> Grant:
    """The grant a client was registered with, for its own updates (RFC 7592): the
    token's policy still holds, whatever became of the token since."""
    found = None if token_id is None else await get_token(request.app[keys.DB], token_id)
    return Grant(token_id, label, OPEN_POLICY if found is None else found["policy"])


def identity(request: web.Request, grant: Grant) -> str:
    """Whose Idempotency-Keys these are: the token's, or the caller address's without one."""
    if grant.token_id is not None:
        return grant.actor
    return f"{grant.actor}:{limiter_source(caller_address(request))}"
