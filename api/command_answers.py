"""The HTTP answer a command gets from its operation: once, in one place.

`api.dispatch` answers a request with it when the outcome arrives, and an
Idempotency-Key retry (`api.idempotency`) answers from the stored operation with
the same functions, so a retry gets the status, headers and body the first
answer had: 201/200/204 or the problem of a failed outcome, or 202 with the
operation's address while it is not finished.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.operations import operation_view
from api.preconditions import etag_headers
from api.problems import problem_response
from common.commands import CreateClient, RemoveClient, UpdateClient
from common.json_responses import json_response
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.store import Document

_ERROR_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID: 400,
    ErrorCode.CONFLICT: 409,
    ErrorCode.STALE: 412,
    # Never applied (withdrawn): the caller may try again.
    ErrorCode.UNDELIVERABLE: 503,
}
# The kinds whose answer carries the rules' warnings about the fields set.
_WARNED = frozenset({CreateClient.kind, UpdateClient.kind})


def outcome_answer(kind: str, outcome: Outcome, generated_secret: str | None) -> web.Response:
    """The answer to a finished command of `kind`; a failure is its problem document."""
    if outcome.status is OperationStatus.FAILED:
        error = outcome.error or OperationError(ErrorCode.INTERNAL, "The command failed.")
        extra: dict[str, Any] = {"operation_id": outcome.operation_id}
        if error.fields:
            extra["errors"] = error.fields
        return problem_response(_ERROR_STATUS.get(error.code, 500), error.message, **extra)
    if kind == RemoveClient.kind:
        return web.Response(status=204)
    body: dict[str, Any] = dict(outcome.client or {})
    if kind in _WARNED:
        body["warnings"] = outcome.warnings
    if generated_secret is not None:
        body["secret"] = generated_secret
    headers = etag_headers(body)
    if kind == CreateClient.kind:
        headers["Location"] = f"/v1/clients/{outcome.client_key}"
        return json_response(body, status=201, headers=headers)
    return json_response(body, headers=headers)


def accepted_answer(operation: Document, generated_secret: str | None) -> web.Response:
    """202: queued, not finished yet; the operation's address tells the outcome."""
    body: dict[str, Any] = {"operation": operation_view(operation)}
    if generated_secret is not None:
        body["secret"] = generated_secret
    return json_response(body, status=202,
                         headers={"Location": f"/v1/operations/{operation['_id']}"})
