"""Sending a self-registration's create, and answering it in the OAuth shape.

Shared by RFC 7591 registration and OAuth 1.0a consumer-key requests, so the
rule is written once. The use of the initial access token is not taken here: the
create carries the token's id in its origin, and the worker that makes the
client takes the use, in a guarded write right before the client's
(worker.handlers), so the workers are the only writers of tokens. A create the
worker refuses therefore costs no use, nor one the broker never took; a create
whose token has no use left by then (expired, revoked or used up meanwhile) is
refused by the worker with `token_unusable`, answered 401 as RFC 7591 asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from api.problems import Problem
from api.registration.oauth_answers import OAuthError, invalid_metadata, oauth_json, unauthorized
from api.views.dispatch import dispatch
from api.views.operations import operation_view
from common.commands import CreateClient
from common.operations_store import OperationDocument
from common.outcomes import ErrorCode, OperationStatus, Outcome

# The answer to a create the worker applied, from the client's public view and a
# generated secret (if any).
Made = Callable[[dict[str, Any], str | None], web.Response]


def _refusal(outcome: Outcome) -> web.Response:
    error = outcome.error
    if error is not None and error.code is ErrorCode.TOKEN_UNUSABLE:
        return unauthorized(token_given=True).response()
    return invalid_metadata(error.fields if error and error.fields else
                            {"client": [error.message if error else "Refused."]}).response()


async def send_create(request: web.Request, command: CreateClient, *, secret: str | None,
                      made: Made, shown_while_queued: dict[str, Any]) -> web.Response:
    """Dispatch, answer; `shown_while_queued` goes into a 202 (shown once)."""
    def answer(kind: str, outcome: Outcome, generated: str | None) -> web.Response:
        if outcome.status is not OperationStatus.SUCCEEDED or outcome.client is None:
            return _refusal(outcome)
        return made(outcome.client, generated)

    def accepted(operation: OperationDocument, generated: str | None) -> web.Response:
        # Queued but not applied within the wait: what is shown once is shown now, and
        # the operation gives the client's key once the worker made it.
        body: dict[str, Any] = {"operation": operation_view(operation), **shown_while_queued}
        if generated is not None:
            body["client_secret"] = generated
        response = oauth_json(body, 202)
        response.headers["Location"] = f"/v1/operations/{operation['_id']}"
        return response

    try:
        return await dispatch(request, command, generated_secret=secret, answer=answer,
                              accepted=accepted)
    except Problem as exc:
        raise OAuthError(exc.status, "temporarily_unavailable", exc.detail or "",
                         headers=exc.headers) from None
