"""Idempotency-Key on self-registration, so a retried registration makes one client and
takes one use.

The records are the management API's (api.views.idempotency_records), keyed by who
registers (`registration:<token id>`, or the caller's address for open
registration) and the key, with the same fingerprint of the request. What differs
is what a retry can be given: an answer here holds what is shown once (the
secret, the registration access token), which is kept, sealed, only with the
answer the first request gave. So a retry gets that answer again once the first
request answered (`Idempotent-Replayed: true`, no new use, no new client), 422 if
the key came with another request, and 409 while the first is still running, or
if the first was answered 202 (its operation tells the outcome; the secret and
token were in that answer). A request that failed before its command was queued
releases its key, so a retry runs again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from cryptography.exceptions import InvalidTag

from api import keys
from api.problems import Problem
from api.registration.oauth_answers import OAuthError
from api.views import idempotency_records as stored
from api.views.idempotency import REPLAYED_HEADER, idempotency_key, request_fingerprint
from common.keyring import KeyringError
from common.store import now

_INVALID_REQUEST = "invalid_request"


def _problem(exc: Problem) -> OAuthError:
    return OAuthError(exc.status, _INVALID_REQUEST, exc.detail or "", headers=exc.headers)


async def once(request: web.Request, identity: str,
               run: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """`run()` once per Idempotency-Key of `identity` (every time without a key)."""
    try:
        key = idempotency_key(request)
    except Problem as exc:
        raise _problem(exc) from None
    if key is None:
        return await run()
    app = request.app
    keyring, records = app[keys.KEYRING], stored.records_in(app[keys.DB])
    settings = app[keys.SETTINGS]
    record = stored.record_id(identity, key)
    key_id, fingerprint = await request_fingerprint(request, keyring)
    found = await stored.claim(records, record, key_id, fingerprint, now(),
                               stored.lease_for(settings.publish_timeout_s,
                                                settings.sync_wait_s))
    if isinstance(found, stored.Claim):
        return await _first(request, records, found, run)
    if found["kid"] != key_id or found["fingerprint"] != fingerprint:
        # Another request, or one whose fingerprint key was retired: not safe to replay.
        raise OAuthError(422, _INVALID_REQUEST,
                         "This Idempotency-Key was already used with a different request.")
    if not stored.is_done(found):
        raise OAuthError(409, _INVALID_REQUEST, "A request with this Idempotency-Key is still "
                         "running, or was answered 202: its operation tells the outcome.",
                         headers={"Retry-After": "1"})
    try:
        answer = stored.replay(found, keyring)
    except (KeyringError, InvalidTag):
        raise OAuthError(422, _INVALID_REQUEST, "The answer to this Idempotency-Key can no "
                         "longer be read; use a new key.") from None
    answer.headers[REPLAYED_HEADER] = "true"
    return answer


async def _first(request: web.Request, records: stored.Records, claim: stored.Claim,
                 run: Callable[[], Awaitable[web.Response]]) -> web.Response:
    request[keys.IDEMPOTENCY_CLAIM] = claim  # the command takes the id the record names
    try:
        response = await run()
    except BaseException:
        if not request.get(keys.COMMAND_QUEUED):
            await stored.forget(records, claim)
        raise
    if response.status >= 500 and not request.get(keys.COMMAND_QUEUED):
        await stored.forget(records, claim)
    elif response.status < 500:
        await stored.settle(records, claim.record_id, claim.owner, response,
                            request.app[keys.KEYRING])
    return response
