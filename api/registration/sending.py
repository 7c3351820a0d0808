"""Sending a self-registration's create: one use of the token taken, the command
dispatched, the use given back when nothing was made.

Shared by RFC 7591 registration and OAuth 1.0a consumer-key requests, so the
rule is written once: the use is taken right before the command is queued (the
request is valid by then), and given back when the worker refuses the command,
the broker does not take it, or anything fails before it was queued. Once queued
and not refused, the use is spent: the client is, or will be, made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from api import keys
from api.problems import Problem
from api.registration import access
from api.registration.oauth_answers import OAuthError, invalid_metadata, oauth_json
from api.views.dispatch import dispatch
from api.views.operations import operation_view
from common.commands import CreateClient
from common.operations_store import OperationDocument
from common.outcomes import OperationStatus, Outcome

# The answer to a create the worker applied, from the client's public view and a
# generated secret (if any).
Made = Callable[[dict[str, Any], str | None], web.Response]


def _refusal(outcome: Outcome) -> web.Response:
    error = outcome.error
    return invalid_metadata(error.fields if error and error.fields else
                            {"client": [error.message if error else "Refused."]}).response()


async def send_create(request: web.Request, grant: access.Grant, command: CreateClient, *,
                      secret: str | None, made: Made,
                      shown_while_queued: dict[str, Any]) -> web.Response:
    """Take a use, dispatch, answer; `shown_while_queued` goes into a 202 (shown once)."""
    await access.take(request, grant)
    refused = False

    def answer(kind: str, outcome: Outcome, generated: str | None) -> web.Response:
        nonlocal refused
        if outcome.status is not OperationStatus.SUCCEEDED or outcome.client is None:
            refused = True
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
        response = await dispatch(request, command, generated_secret=secret, answer=answer,
                                  accepted=accepted)
    except Problem as exc:
        if not request.get(keys.COMMAND_QUEUED):
            await access.give_back(request, grant)
        raise OAuthError(exc.status, "temporarily_unavailable", exc.detail or "",
                         headers=exc.headers) from None
    except BaseException:
        if not request.get(keys.COMMAND_QUEUED):
            await access.give_back(request, grant)
        raise
    if refused:
        await access.give_back(request, grant)
    return response
