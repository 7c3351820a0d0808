"""The OpenAPI 3.1 document of the gateway, generated from the route table.

Every route of `api.routes.ROUTES` appears, documented by its own fields: the
marshmallow schemas of its request and answers (the same classes the views
use) and the problems it can answer. The problems a route can give by its kind
are added here, so a route added without documentation is still listed with
them: a protected route can answer 401, 403, 429 and 503; a route with a body 400, 408,
413 and 415; one with path parameters 404; a management write takes an
Idempotency-Key and can answer 409 and 422; one taking If-Match, 412.

The document is built once, when the app is made, and served as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import fields

from api import keys
from api.docs.response_schemas import ProblemSchema
from api.docs.route_docs import ETAG, ID_MAX, IF_MATCH, LOCATION, RETRY_AFTER, Answer
from api.problems import PROBLEM_TYPE
from api.views.idempotency import HEADER as IDEMPOTENCY_KEY
from api.views.idempotency import REPLAYED_HEADER
from common.media_types import JSON_TYPE

if TYPE_CHECKING:
    from api.routes import Route

OPENAPI_VERSION = "3.1.0"
BEARER = "bearer"
DOCUMENT_ANSWER = Answer(200, "The OpenAPI document of this API.", media_type=JSON_TYPE)

_PATH_PARAMETER = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
# What the routes' path parameters hold; anything else is documented as a string.
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "key": {"type": "string", "minLength": 1, "maxLength": ID_MAX,
            "description": "The client key."},
    "id": {"type": "string", "minLength": 1, "maxLength": ID_MAX,
           "description": "The operation id (the command id), or an initial access "
                          "token's id."},
    "client_id": {"type": "string", "minLength": 1, "maxLength": ID_MAX,
                  "description": "The client key, as RFC 7591 names it."},
    "name": {"type": "string", "minLength": 1, "maxLength": ID_MAX,
             "description": "The file's name."},
}
_HEADERS: dict[str, dict[str, Any]] = {
    ETAG: {"description": "The client's version, for If-Match.", "required": True,
           "schema": {"type": "string", "pattern": r'^"[0-9]+"$'}},
    LOCATION: {"description": "Where the resource (or the operation) is.", "required": True,
               "schema": {"type": "string", "format": "uri-reference"}},
    RETRY_AFTER: {"description": "Seconds to wait before trying again.", "required": True,
                  "schema": {"type": "integer", "minimum": 0}},
    "WWW-Authenticate": {"description": "The bearer challenge (RFC 6750).", "required": True,
                         "schema": {"type": "string", "pattern": "^Bearer"}},
    REPLAYED_HEADER: {"description": "This answer replays the first one given to the same "
                      f"{IDEMPOTENCY_KEY}.", "schema": {"type": "string", "enum": ["true"]}},
}
_REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    IF_MATCH: {"name": IF_MATCH, "in": "header", "required": False,
               "description": "Apply the change only if the client is still at this ETag "
                              "(412 otherwise).",
               "schema": {"type": "string"}},
    IDEMPOTENCY_KEY: {"name": IDEMPOTENCY_KEY, "in": "header", "required": False,
                      "description": "The same key with the same request gets the first "
                                     "request's answer and never applies the change twice "
                                     "(409 while the first is still running); with a "
                                     "different request it is 422; kept 24 hours, per "
                                     "caller.",
                      "schema": {"type": "string", "pattern": "^[!#-~]{1,255}$"}},
}
# Why each problem status is answered, when the route does not say more.
_PROBLEMS: dict[int, str] = {
    400: "The request is not valid; `errors` names each field and what is wrong with it.",
    401: "No valid bearer token.",
    403: "The token lacks the permission this route needs (`missing_permission`).",
    404: "There is no such resource.",
    408: "The request body did not arrive within CLIENTKEYS_BODY_TIMEOUT_S; nothing was done "
         "and the connection is closed.",
    409: "A conflicting request is in progress, or the client kept changing; try again.",
    412: "The client changed since the If-Match ETag was read; nothing was changed.",
    413: "The request body is larger than the service accepts.",
    415: "The request body must be application/json.",
    422: f"This {IDEMPOTENCY_KEY} was used with a different request.",
    429: "Too many failed sign-ins from this address; try again after Retry-After.",
    503: "A dependency is unavailable; nothing was changed. Try again after Retry-After.",
}
_OVERSIZED_REQUEST_LINE = (" A request line longer than 8190 bytes is refused by the HTTP "
                           "layer, in plain text.")
_PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": "WWW-Authenticate"},
    409: {RETRY_AFTER: {**_HEADERS[RETRY_AFTER], "required": False}},
    429: {RETRY_AFTER: RETRY_AFTER},
    503: {RETRY_AFTER: RETRY_AFTER},
}


def _version() -> str:
    try:
        return version("clientkeys")
    except PackageNotFoundError:
        return "0.0.0"


def _object_size(converter: OpenAPIConverter, field: fields.Field[Any], *,
                 ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A Length on a Dict bounds how many entries it has, which JSON Schema says with
    min/maxProperties; apispec writes min/maxLength, which say nothing of an object."""
    if not isinstance(field, fields.Dict):
        return {}
    return {size: ret.pop(length) for length, size in
            (("minLength", "minProperties"), ("maxLength", "maxProperties")) if length in ret}


def build_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI document of `routes`, as a JSON-ready dict."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title="clientkeys", version=_version(), openapi_version=OPENAPI_VERSION,
                   plugins=[plugin],
                   info={"description": "Manages the OAuth clients of a platform."})
    cast(Any, plugin.converter).add_attribute_function(_object_size)
    spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=ProblemSchema)
    for name, header in _HEADERS.items():
        spec.components.header(name, header)
    for route in routes:
        path, parameters = _path_and_parameters(route.path)
        spec.path(path=path, operations={route.method.lower(): _operation(route, parameters)})
    return spec.to_dict()


def document_body(routes: Iterable[Route]) -> bytes:
    return json.dumps(build_document(routes)).encode()


async def serve_document(request: web.Request) -> web.StreamResponse:
    return web.Response(body=request.app[keys.OPENAPI_DOCUMENT], content_type=JSON_TYPE)


def _path_and_parameters(route_path: str) -> tuple[str, list[dict[str, Any]]]:
    """The OpenAPI path (`{name}` only) and its path parameters."""
    parameters = []
    for match in _PATH_PARAMETER.finditer(route_path):
        name, regex = match.groups()
        schema = dict(_PATH_PARAMETERS.get(name, {"type": "string", "minLength": 1}))
        if regex:
            schema["pattern"] = f"^(?:{regex})$"
        description = schema.pop("description", None)
        parameter = {"name": name, "in": "path", "required": True, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return _PATH_PARAMETER.sub(r"{\1}", route_path), parameters


def _operation(route: Route, path_parameters: list[dict[str, Any]]) -> dict[str, Any]:
    protected = route.permission is not None
    parameters: list[Any] = list(path_parameters)
    if route.query is not None:
        parameters.append({"in": "query", "schema": route.query})
    request_headers = list(route.request_headers)
    if route.is_management:
        request_headers.append(IDEMPOTENCY_KEY)  # api.views.idempotency: every management write
    parameters.extend(_REQUEST_HEADERS.get(name, {"name": name, "in": "header",
                                                  "schema": {"type": "string"}})
                      for name in request_headers)
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary or route.name.replace("_", " ").capitalize(),
        "security": [{BEARER: []}] if protected else [],
        "responses": _responses(route, request_headers, bool(path_parameters)),
    }
    if protected:
        operation["description"] = f"Needs the `{route.permission}` permission."
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {JSON_TYPE: {"schema": route.body}}}
    return operation


def _problem_statuses(route: Route, request_headers: list[str], has_path: bool) -> set[int]:
    statuses = set(route.problems) | {refusal.status for refusal in route.refusals}
    if route.permission is not None:
        statuses |= {401, 403, 429, 503}  # 429: api.auth.limiter, after failed sign-ins
    if route.body is not None:
        statuses |= {400, 408, 413, 415}  # 408: api.views.json_body.read_body
    if route.query is not None:
        statuses.add(400)
    if has_path:
        statuses.add(404)
    if IDEMPOTENCY_KEY in request_headers:
        statuses |= {400, 408, 409, 413, 422}  # it reads the body to fingerprint it
    if IF_MATCH in request_headers:
        statuses.add(412)
    return statuses


def _responses(route: Route, request_headers: list[str], has_path: bool
               ) -> dict[str, dict[str, Any]]:
    responses: dict[str, dict[str, Any]] = {}
    replayable = IDEMPOTENCY_KEY in request_headers
    for answer in route.answers:
        response: dict[str, Any] = {"description": answer.description}
        headers: dict[str, Any] = {name: name for name in answer.headers}
        if replayable:
            headers[REPLAYED_HEADER] = REPLAYED_HEADER
        if headers:
            response["headers"] = headers
        if answer.schema is not None:
            response["content"] = {JSON_TYPE: {"schema": answer.schema}}
        elif answer.media_type is not None:
            response["content"] = {answer.media_type: {"schema": {}}}
        responses[str(answer.status)] = response
    for status in sorted(_problem_statuses(route, request_headers, has_path)):
        if str(status) in responses:
            continue
        problem: dict[str, Any] = {
            "description": " ".join([_PROBLEMS.get(status, HTTPStatus(status).phrase),
                                     *(r.reason for r in route.refusals if r.status == status)]),
            "content": {PROBLEM_TYPE: {"schema": ProblemSchema}},
        }
        if status == 400 and route.query is not None:
            # aiohttp refuses a request line over 8190 bytes itself, before any of
            # this service runs, and answers in plain text. Valid queries fit
            # (api.docs.request_schemas bounds them); grossly oversized ones may not.
            problem["description"] += _OVERSIZED_REQUEST_LINE
            problem["content"]["text/plain"] = {"schema": {"type": "string"}}
        if status in _PROBLEM_HEADERS:
            problem["headers"] = dict(_PROBLEM_HEADERS[status])
        if replayable and status < 500:
            problem.setdefault("headers", {})[REPLAYED_HEADER] = REPLAYED_HEADER
        responses[str(status)] = problem
    return responses
