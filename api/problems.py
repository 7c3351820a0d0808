"""One error shape for every failure: RFC 9457 problem details.

The middleware turns aiohttp's HTTP errors, validation errors and rule
violations into `application/problem+json`; anything unexpected is logged and
answered with a generic 500 that reveals nothing of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from marshmallow import ValidationError

from common.clients import RuleViolation
from common.json_responses import json_response
from common.store import is_outage

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
DATABASE_RETRY_AFTER_S = 5


class Problem(Exception):
    """Raised by a view to answer with a problem document."""

    def __init__(self, status: int, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, detail: str | None = None, *,
                     headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                            "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = json_response(body, status=status, headers=headers, content_type=PROBLEM_TYPE)
    if status == 408:
        # RFC 9110 section 15.5.9: the server has decided to close the connection
        # rather than keep waiting; the rest of that body is not read.
        response.force_close()
    return response


def _field_errors(messages: Any) -> dict[str, Any]:
    return messages if isinstance(messages, dict) else {"_schema": messages}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer_for(exc: Exception) -> web.Response | None:
    """The problem response for an exception that is an answer, not a failure."""
    if isinstance(exc, Problem):
        return problem_response(exc.status, exc.detail, headers=exc.headers, **exc.extra)
    if isinstance(exc, ValidationError):
        return problem_response(400, "The request is not valid.",
                                errors=_field_errors(exc.messages))
    if isinstance(exc, RuleViolation):
        return problem_response(400, "The client is not valid.", errors=exc.errors)
    return None


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (Problem, ValidationError, RuleViolation) as exc:
        response = answer_for(exc)
        assert response is not None
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items()
                   if k.lower() in ("allow", "retry-after", "www-authenticate")}
        detail: str | None = exc.reason
        if exc.status == 404:
            detail = None
        elif isinstance(exc, web.HTTPRequestEntityTooLarge):
            detail = f"The request body is larger than {request.client_max_size} bytes."
        return problem_response(exc.status, detail, headers=headers)
    except Exception as exc:
        if is_outage(exc):
            log.warning("MongoDB unavailable during %s %s: %s", request.method,
                        request.rel_url.path, type(exc).__name__)
            return problem_response(503, "The database is unavailable; try again shortly.",
                                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})
        log.exception("unexpected error on %s %s", request.method, request.rel_url.path)
        return problem_response(500, "An unexpected error occurred; it has been logged.")
