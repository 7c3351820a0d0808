"""Send a command to the workers and answer the HTTP caller with its outcome.

Nothing is acknowledged before the broker confirmed the command; then the
gateway waits up to `CLIENTKEYS_SYNC_WAIT_S` for the outcome and answers
201/200/204, or 202 with the operation's address.

The operation is recorded by whoever needs it first, so that a command costs the
database no write of the gateway's on its usual path: the worker records it as it
starts it; the gateway records it pending before publishing when the request has
an Idempotency-Key (a retry asks that operation, `api.views.idempotency`), before
answering 202 (the caller polls `/v1/operations/{id}` from then on, maybe before a
worker started it), and withdrawn when the broker did not confirm the command (so
a worker that gets it after all never applies it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from api import keys
from api.problems import Problem
from api.views.command_answers import accepted_answer, outcome_answer, read_own_write
from api.views.idempotency import keep_generated_secret
from api.views.operations import record_pending
from common.bus import BrokerUnavailable
from common.command_mac import sign_command
from common.commands import Command, encode_command
from common.operations_store import (
    OperationDocument,
    get_operation,
    outcome_of,
    pending_operation,
    record_queued,
    withdraw,
)
from common.outcome_replies import OutcomeReply
from common.outcomes import Outcome
from common.store import Document

log = logging.getLogger(__name__)

# How a route answers a finished command, and one still queued: the management API's
# by default (api.views.command_answers, the client with when its secrets last verified);
# the OAuth endpoints have their own shape.
OutcomeAnswer = Callable[[str, Outcome, str | None], web.Response]
AcceptedAnswer = Callable[[OperationDocument, str | None], web.Response]


async def dispatch(request: web.Request, command: Command, *,
                   generated_secret: str | None = None,
                   answer: OutcomeAnswer | None = None,
                   accepted: AcceptedAnswer = accepted_answer) -> web.Response:
    app = request.app
    db, bus, waiter = app[keys.DB], app[keys.BUS], app[keys.WAITER]
    settings = app[keys.SETTINGS]
    if generated_secret is not None:
        # Kept sealed with the Idempotency-Key, if any, before anything is queued:
        # a retry answered from the operation shows it as the first answer did.
        await keep_generated_secret(request, generated_secret)
    pending = pending_operation(command)
    recorded = keys.IDEMPOTENCY_CLAIM in request
    if recorded:
        await record_pending(db, command)
    encoded, reply_to = encode_command(command), app[keys.REPLY_ADDRESS]
    # Signed, so that a worker applies only what a gateway sent (common.command_mac).
    mac = sign_command(app[keys.KEYRING], encoded, message_id=command.id, reply_to=reply_to)
    with waiter.expect(command.id) as reply:
        try:
            await bus.publish_command(encoded, message_id=command.id, reply_to=reply_to,
                                      headers=mac)
        except BrokerUnavailable:
            retry_after = {"Retry-After": str(settings.retry_after_s)}
            try:
                withdrawn = await withdraw(db, command.id, pending=pending)
            except PyMongoError:
                request[keys.COMMAND_QUEUED] = True  # maybe: its operation will tell
                raise Problem(503, "The broker did not confirm the command and the database "
                              "is unavailable, so whether it will be applied is unknown; "
                              "see its operation.", headers=retry_after,
                              operation_id=command.id) from None
            if withdrawn:
                raise Problem(503, "The command could not be queued; nothing was changed. "
                              "Try again shortly.", headers=retry_after) from None
            # A worker already started it: the broker did take the command.
        request[keys.COMMAND_QUEUED] = True
        app[keys.METRICS].commands_published.labels(command.kind).inc()
        replied = await _wait(reply, settings.sync_wait_s)
    outcome, stored = (replied.outcome, replied.stored) if replied else (None, None)
    if outcome is None and settings.sync_wait_s > 0:
        # Waited in vain: the reply may be lost while the outcome is recorded. With
        # no wait at all nothing can have finished yet, so the 202 path skips the read.
        outcome = await _stored_outcome(db, command.id)
    if outcome is None:
        if not recorded:
            await _record_queued(db, pending)
        return accepted(pending, generated_secret)
    await read_own_write(request, outcome, stored)
    if answer is None:
        return outcome_answer(command.kind, outcome, generated_secret, app[keys.SECRET_USAGE])
    return answer(command.kind, outcome, generated_secret)


async def _record_queued(db: AsyncDatabase[Document], pending: OperationDocument) -> None:
    """The record a 202's caller polls, unless a worker wrote it first.

    The command is queued already: if the database is away, the worker records the
    operation as it starts it, and the caller's poll finds it then.
    """
    try:
        await record_queued(db, pending)
    except PyMongoError as exc:
        log.warning("operation %s not recorded before its 202 (%s); its worker records it",
                    pending["_id"], type(exc).__name__)


async def _stored_outcome(db: AsyncDatabase[Document], operation_id: str) -> Outcome | None:
    """The outcome, if the worker recorded it but its reply did not reach us.

    The command is already accepted, so a database hiccup here means 202, not an error.
    """
    try:
        stored = await get_operation(db, operation_id)
    except PyMongoError:
        return None
    return None if stored is None else outcome_of(stored)


async def _wait(reply: asyncio.Future[OutcomeReply], seconds: float) -> OutcomeReply | None:
    if seconds <= 0:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(reply), seconds)
    except TimeoutError:
        return None

