"""The HTTP answer a command gets from its operation: once, in one place.

`api.views.dispatch` answers a request with it when the outcome arrives, and an
Idempotency-Key retry (`api.views.idempotency`) answers from the stored operation with
the same functions, so a retry gets the status, headers and body the first
answer had: 201/200/204 or the problem of a failed outcome, or 202 with the
operation's address while it is not finished. Before either answers with an
outcome, `read_own_write` puts the client it left into this gateway's read model.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import keys
from api.problems import problem_response
from api.verify.secret_usage import SecretUsage
from api.views.operations import operation_view
from api.views.preconditions import etag_headers
from common.command_base import Answer, Shown
from common.commands import COMMAND_TYPES
from common.json_responses import json_response
from common.operations_store import OperationDocument
from common.outcome_replies import StoredSecrets
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome

_ERROR_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID: 400,
    ErrorCode.CONFLICT: 409,
    ErrorCode.STALE: 412,
    # Never applied (withdrawn): the caller may try again.
    ErrorCode.UNDELIVERABLE: 503,
}
# The name a value the gateway generated is shown under, once: a client's secret, or
# the initial access token itself.
_GENERATED_AS = {Shown.CLIENT: "secret", Shown.REGISTRATION_TOKEN: "token"}


async def read_own_write(request: web.Request, outcome: Outcome,
                         stored: StoredSecrets | None = None) -> None:
    """The client a succeeded command left, into this gateway's read model: the
    caller's next read here shows it (api.verify.read_model.apply_outcome). `stored`:
    its `_id` and sealed secrets, when the worker's reply carried them."""
    if outcome.status is OperationStatus.SUCCEEDED and outcome.client is not None:
        await request.app[keys.READ_MODEL].apply_outcome(
            outcome.client, removed=COMMAND_TYPES[outcome.kind].removes_client, stored=stored)


def outcome_answer(kind: str, outcome: Outcome, generated_secret: str | None,
                   usage: SecretUsage) -> web.Response:
    """The answer to a finished command of `kind`; a failure is its problem document. A
    client in it shows, as every client answer does, when its secrets last verified."""
    if outcome.status is OperationStatus.FAILED:
        error = outcome.error or OperationError(ErrorCode.INTERNAL, "The command failed.")
        extra: dict[str, Any] = {"operation_id": outcome.operation_id}
        if error.fields:
            extra["errors"] = error.fields
        return problem_response(_ERROR_STATUS.get(error.code, 500), error.message, **extra)
    answer = COMMAND_TYPES[kind].answer  # what the command's own type says to answer
    if answer.status == 204:
        return web.Response(status=204)
    if answer.shows is Shown.REGISTRATION_TOKEN:
        return _token_answer(answer, outcome.token or {}, generated_secret)
    body: dict[str, Any] = usage.shown_in(outcome.client) if outcome.client else {}
    if answer.warnings:
        body["warnings"] = outcome.warnings
    if generated_secret is not None:
        body[_GENERATED_AS[answer.shows]] = generated_secret
    headers = etag_headers(body)
    if answer.status == 201:
        headers["Location"] = f"/v1/clients/{outcome.client_key}"
    return json_response(body, status=answer.status, headers=headers)


def _token_answer(answer: Answer, token: dict[str, Any], generated: str | None
                  ) -> web.Response:
    """An initial access token's record, with the token itself when it was just made."""
    body = dict(token)
    headers = {"Cache-Control": "no-store"}
    if generated is not None:
        body[_GENERATED_AS[answer.shows]] = generated
    if answer.status == 201:
        headers["Location"] = f"/v1/registration-tokens/{token.get('id')}"
    return json_response(body, status=answer.status, headers=headers)


def accepted_answer(operation: OperationDocument, generated_secret: str | None) -> web.Response:
    """202: queued, not finished yet; the operation's address tells the outcome."""
    body: dict[str, Any] = {"operation": operation_view(operation)}
    headers = {"Location": f"/v1/operations/{operation['_id']}"}
    shows = COMMAND_TYPES[operation["kind"]].answer.shows
    if generated_secret is not None:  # shown once: now, under its answer's name
        body[_GENERATED_AS[shows]] = generated_secret
    if shows is Shown.REGISTRATION_TOKEN:
        headers["Cache-Control"] = "no-store"
    return json_response(body, status=202, headers=headers)
