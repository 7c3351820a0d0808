"""What a route tells its readers: the documentation fields of the route table.

Each `api.routes.Route` may carry a summary, its request schemas and its
answers; `api.docs.openapi` turns them into the OpenAPI document. Everything has a
default, so a route added without documentation still appears, with the
problems every route of its kind can answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

# Header names the document describes once and routes refer to by name.
ETAG = "ETag"
IF_MATCH = "If-Match"
LOCATION = "Location"
RETRY_AFTER = "Retry-After"
# Longest client key or operation id in a path (they are 32 and 36 characters);
# the document states it and the views answer 404 beyond it without a lookup.
ID_MAX = 64


@dataclass(frozen=True)
class Refusal:
    """A problem a route answers for a reason of its own, besides those of its kind."""

    status: int
    reason: str  # added to what the status means on every route


@dataclass(frozen=True)
class Answer:
    """One documented non-error answer of a route."""

    status: int
    description: str
    schema: type[Schema] | None = None  # the JSON body
    headers: tuple[str, ...] = ()  # response headers it always carries
    media_type: str | None = None  # a body without a schema; neither: no body
