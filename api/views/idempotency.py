"""Idempotency-Key on management writes (IETF httpapi draft, as Stripe does it).

The same key with the same request gets the first request's answer and never
applies its change twice; the same key with a different request is 422. Keys
are per caller identity (a static token, or a JWT's issuer and subject) and kept
24 hours. Credential checks (the verify routes) ignore the header: they change
nothing, and their path writes nothing to the database.

Each record names the command its request sends before that command is queued
(`api.views.idempotency_records`), so a retry of a request that did not finish asks
that command's operation rather than guessing from a lease:

- finished: the answer the first request gave or would have given (201/200/204,
  or the problem of a failed outcome), and the record is `done` from then on;
- queued, not finished: 409 with Retry-After while the first request may still
  be waiting for it (its lease: longer than the first request can run, from the
  publish timeout and the sync wait; 55 s by default), as the draft asks, so that the caller
  gets the very answer the first request gets; after that, or once the first
  request answered 202, 202 with the operation's address (as its first answer);
- never queued (withdrawn after an unconfirmed publish, or never recorded: then
  fenced first, so it can never be queued, once the first request cannot be
  about to record it): it runs again, as a new command.

A generated secret is kept sealed with the record before the command is
queued, so an answer rebuilt from the operation carries it like the first did.
`clientkeys keys rotate` re-seals what records hold, but a fingerprint cannot be
recomputed without its request: once its key is retired from the keyring, a
reused key is answered 422 rather than replayed (keep an old key 24 hours).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from cryptography.exceptions import InvalidTag
from pymongo.errors import PyMongoError

from api import keys
from api.observe import request_id
from api.problems import Problem, answer_for
from api.views import idempotency_records as stored
from api.views.command_answers import accepted_answer, outcome_answer, read_own_write
from api.views.idempotency_records import DISPATCH_DEADLINE, Claim
from api.views.json_body import read_body
from common.keyring import KeyringError, SecretKeyring
from common.operations_store import fence, get_operation, is_withdrawn, outcome_of, withdraw
from common.store import now

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r'^"?([\x21\x23-\x7e]{1,255})"?$')

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def command_id(request: web.Request) -> str:
    """The id of the command a view sends: the one its Idempotency-Key record names."""
    claim = request.get(keys.IDEMPOTENCY_CLAIM)
    return claim.operation_id if claim is not None else str(uuid.uuid4())


async def keep_generated_secret(request: web.Request, secret: str) -> None:
    """Keep a generated secret with the request's record, if it has one, before queuing."""
    claim = request.get(keys.IDEMPOTENCY_CLAIM)
    if claim is None:
        return
    records = stored.records_in(request.app[keys.DB])
    if not await stored.keep_secret(records, claim, request.app[keys.KEYRING], secret):
        raise _taken_over_meanwhile()


def idempotency_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key, if it sent one; Problem 400 if it is malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    match = _KEY.fullmatch(raw.strip())
    if match is None:
        raise Problem(400, f"{HEADER} must be 1-255 visible ASCII characters.")
    return match.group(1)


async def request_fingerprint(request: web.Request, keyring: SecretKeyring,
                              key_id: str | None = None) -> tuple[str, str]:
    """(key id, fingerprint) of the method, path and body: what a retry must repeat."""
    body = await read_body(request)  # bounded in time, like every read of a body
    return keyring.fingerprint(
        b"\0".join((request.method.encode(), request.path.encode(), body)), key_id)


def _in_progress() -> Problem:
    return Problem(409, f"A request with this {HEADER} is still in progress.",
                   headers={"Retry-After": "1"})


def _taken_over_meanwhile() -> Problem:
    return Problem(409, f"A retry with the same {HEADER} took this request over; nothing "
                   "was queued for this one.")


def _unreadable() -> Problem:
    # Its key was retired, or what is stored was not sealed for this record.
    return Problem(422, f"The answer to this {HEADER} can no longer be read; use a new key.")


def _replayed(response: web.Response) -> web.Response:
    response.headers[REPLAYED_HEADER] = "true"
    return response


async def _same_request(request: web.Request, record: stored.IdempotencyRecord,
                        keyring: SecretKeyring) -> None:
    try:
        _, expected = await request_fingerprint(request, keyring, record["kid"])
    except KeyringError:
        # Its key was retired from the keyring: the requests cannot be compared,
        # and replaying an answer to what may be another request is not safe.
        raise Problem(422, f"This {HEADER} was used with a request that can no longer be "
                      "compared (its encryption key was retired); use a new key.") from None
    if expected != record["fingerprint"]:
        raise Problem(422, f"This {HEADER} was already used with a different request.")


def _lease(request: web.Request) -> timedelta:
    settings = request.app[keys.SETTINGS]
    return stored.lease_for(settings.publish_timeout_s, settings.sync_wait_s)


async def _run_again(request: web.Request, records: stored.Records,
                     record: stored.IdempotencyRecord) -> Claim:
    claim = await stored.take_over(records, record, now(), _lease(request))
    if claim is None:  # another retry took it over first
        raise _in_progress()
    return claim


async def _answer_retry(request: web.Request, records: stored.Records,
                        record: stored.IdempotencyRecord, keyring: SecretKeyring
                        ) -> Claim | web.Response:
    """What a retry of a request that is not `done` gets: a claim to run it again
    (only once its command provably never reached a worker), or the answer."""
    db, at = request.app[keys.DB], now()
    operation_id = record.get("operation_id")
    if operation_id is None:  # a record of a gateway from before records named commands
        if stored.is_leased(record, at):
            raise _in_progress()
        return await _run_again(request, records, record)
    operation = await get_operation(db, operation_id)
    if operation is None:
        if stored.claimed_at(record) + DISPATCH_DEADLINE > at:
            raise _in_progress()  # the first request may be about to record it
        principal = request[keys.PRINCIPAL]
        # A management route is named as the command kind it sends.
        if await fence(db, operation_id, request.match_info.route.name or "",
                       principal.subject, request_id(request)):
            return await _run_again(request, records, record)
        operation = await get_operation(db, operation_id)  # recorded meanwhile
        if operation is None:
            raise _in_progress()
    if is_withdrawn(operation):
        return await _run_again(request, records, record)
    try:
        secret = stored.secret_of(record, keyring)
    except (KeyringError, InvalidTag):
        raise _unreadable() from None
    outcome = outcome_of(operation)
    if outcome is not None:
        await read_own_write(request, outcome)
        answer = outcome_answer(operation["kind"], outcome, secret,
                                request.app[keys.SECRET_USAGE])
        await stored.settle(records, record["_id"], record["owner"], answer, keyring)
        return _replayed(answer)
    running = stored.is_running(record)
    if running and stored.is_leased(record, at):
        raise _in_progress()
    if running and await withdraw(db, operation_id):
        return await _run_again(request, records, record)  # it died before it was queued
    return _replayed(accepted_answer(operation, secret))


async def _claim(request: web.Request, records: stored.Records, record: str,
                 keyring: SecretKeyring) -> Claim | web.Response:
    key_id, fingerprint = await request_fingerprint(request, keyring)
    found = await stored.claim(records, record, key_id, fingerprint, now(), _lease(request))
    if isinstance(found, Claim):
        return found
    await _same_request(request, found, keyring)
    if not stored.is_done(found):
        return await _answer_retry(request, records, found, keyring)
    try:
        return _replayed(stored.replay(found, keyring))
    except (KeyringError, InvalidTag):
        raise _unreadable() from None


async def _release(request: web.Request, records: stored.Records,
                   claim: Claim) -> None:
    """After a 5xx: forget the claim if its command can never be applied (none was
    recorded, or it is withdrawn: now, if the broker never confirmed it); otherwise,
    or if the database is away, keep it: a retry asks the operation."""
    db = request.app[keys.DB]
    try:
        operation = await get_operation(db, claim.operation_id)
        if operation is not None and not is_withdrawn(operation) and (
                request.get(keys.COMMAND_QUEUED) or not await withdraw(db, claim.operation_id)):
            return
    except PyMongoError:
        return
    await stored.forget(records, claim)


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (keys.PRINCIPAL not in request
            or request.match_info.route.name not in request.app[keys.AUDITED_ROUTES]):
        return await handler(request)
    key = idempotency_key(request)
    if key is None:
        return await handler(request)
    keyring = request.app[keys.KEYRING]
    records = stored.records_in(request.app[keys.DB])
    record = stored.record_id(request[keys.PRINCIPAL].identity, key)
    decided = await _claim(request, records, record, keyring)
    if isinstance(decided, web.Response):
        return decided
    request[keys.IDEMPOTENCY_CLAIM] = decided
    try:
        response = await handler(request)
    except Exception as exc:
        answer = answer_for(exc)
        if answer is None or answer.status >= 500:
            await _release(request, records, decided)
            raise
        response = answer
    if not isinstance(response, web.Response) or response.status >= 500:
        await _release(request, records, decided)
        return response
    await stored.settle(records, record, decided.owner, response, keyring)
    return response
