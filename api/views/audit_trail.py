"""The gateway's part of the audit trail (see `common.audit`).

A middleware around every management route records the actions the gateway
settles itself: refused for lack of permission, rejected before a command was
queued (bad body, unknown client, failed precondition), or failed because the
broker did not take the command. Once a command is queued its worker records
the entry, with the real outcome, so nothing is recorded twice. A replayed
Idempotency-Key answer is not a new action and is not recorded.

Only authenticated requests are recorded: a request without a valid token (a
401, a 429 of the sign-in limiter, or a request that failed before its token
was looked at) has no actor and is not an action of anyone, and writing it
would let anyone fill the trail, and put any client key they like into it. It
is counted by the brute-force limiter instead. If MongoDB cannot take the entry,
the entry is logged (it holds no secret) and the answer goes out unchanged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from pymongo.errors import PyMongoError

from api import keys
from api.observe import request_id
from api.remote import caller_address
from api.views.idempotency import REPLAYED_HEADER
from common.audit import AuditEntry, AuditOutcome
from common.audit_store import append_entry, audit_document
from common.store import now

log = logging.getLogger(__name__)
KEY_CHARS_KEPT = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _outcome(status: int) -> AuditOutcome:
    if status == 403:
        return AuditOutcome.REFUSED
    if status < 400:
        return AuditOutcome.APPLIED
    return AuditOutcome.REJECTED if status < 500 else AuditOutcome.FAILED


def _entry(request: web.Request, response: web.StreamResponse, action: str) -> AuditEntry:
    principal = request[keys.PRINCIPAL]
    key = request.match_info.get("key")
    return AuditEntry(
        id=str(uuid.uuid4()), at=now(), actor=principal.subject,
        action=action, client_key=key[:KEY_CHARS_KEPT] if key else None,
        outcome=_outcome(response.status), request_id=request_id(request),
        remote_addr=caller_address(request), fields=request.get(keys.BODY_FIELDS, []),
        status=response.status, reason=response.reason)


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    action = request.match_info.route.name
    if (action not in request.app[keys.AUDITED_ROUTES] or keys.PRINCIPAL not in request
            or request.get(keys.COMMAND_QUEUED) or REPLAYED_HEADER in response.headers):
        return response
    entry = _entry(request, response, action)
    try:
        await append_entry(request.app[keys.DB], entry)
    except PyMongoError as exc:
        log.warning("audit entry not stored (%s): %s", type(exc).__name__,
                    {k: v for k, v in audit_document(entry).items() if k != "at"})
    return response
