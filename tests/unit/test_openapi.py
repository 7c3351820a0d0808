"""The OpenAPI document is the route table, said in OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from api.auth.principals import CONFIGURE_SERVER
from api.docs.openapi import build_document
from api.routes import ROUTES, Route
from api.verify.secret import Reason
from common.client_view import ClientSchema
from common.clients import ClientType, Status

DOCUMENT = build_document(ROUTES)


async def _undocumented(request: web.Request) -> web.StreamResponse:
    return web.Response()


def _operation(method: str, path: str, document: dict[str, Any] = DOCUMENT) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method.lower()]
    return operation


def test_it_is_openapi_3_1_with_a_bearer_scheme() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    assert DOCUMENT["components"]["securitySchemes"]["bearer"] == {"type": "http",
                                                                  "scheme": "bearer"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_route_of_the_table_is_documented(route: Route) -> None:
    operation = _operation(route.method, route.path)
    assert operation["operationId"] == route.name
    if route.permission is None:
        assert operation["security"] == []
    else:
        assert operation["security"] == [{"bearer": []}]
        assert {"401", "403", "503"} <= set(operation["responses"])
        assert route.permission in operation["description"]
    for answer in route.answers:
        assert str(answer.status) in operation["responses"]


def test_a_route_without_documentation_still_lists_its_problems() -> None:
    bare = Route("POST", "/v1/clients/{key}/archive", _undocumented, "archive_client",
                 CONFIGURE_SERVER)
    operation = _operation("POST", "/v1/clients/{key}/archive", build_document([bare]))
    assert operation["summary"] == "Archive client"
    assert [p["name"] for p in operation["parameters"]] == ["key", "Idempotency-Key"]
    assert set(operation["responses"]) == {"400", "401", "403", "404", "408", "409", "413",
                                           "422", "429", "503"}
    problem = operation["responses"]["404"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_a_body_route_documents_its_request_and_media_type_problems() -> None:
    operation = _operation("POST", "/v1/clients")
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CreateClientRequest"}
    request = DOCUMENT["components"]["schemas"]["CreateClientRequest"]
    assert request["additionalProperties"] is False  # unknown fields are refused
    assert {"400", "413", "415"} <= set(operation["responses"])
    created = operation["responses"]["201"]
    assert set(created["headers"]) >= {"ETag", "Location"}


def test_clients_are_described_by_the_schema_the_code_dumps_them_with() -> None:
    client = DOCUMENT["components"]["schemas"]["Client"]
    assert set(client["properties"]) == set(ClientSchema().fields)
    assert client["additionalProperties"] is False  # an extra field (a secret) would show


def test_the_query_of_a_list_is_its_parameters() -> None:
    names = {p["name"] for p in _operation("GET", "/v1/clients")["parameters"]}
    assert names == {"type", "status", "q", "sort", "limit", "cursor"}


def test_changes_may_be_pinned_with_if_match() -> None:
    operation = _operation("PATCH", "/v1/clients/{key}")
    assert "If-Match" in {p["name"] for p in operation["parameters"]}
    assert "412" in operation["responses"]


def test_every_string_of_a_request_is_bounded() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    unbounded = []

    def visit(where: str, schema: dict[str, Any]) -> None:
        if schema.get("type") == "string" and "maxLength" not in schema \
                and "enum" not in schema and "format" not in schema:
            unbounded.append(where)
        if schema.get("type") == "array" and "maxItems" not in schema:
            unbounded.append(where)
        for name, child in schema.get("properties", {}).items():
            visit(f"{where}.{name}", child)
        if isinstance(schema.get("items"), dict):
            visit(f"{where}[]", schema["items"])

    for path_item in DOCUMENT["paths"].values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path"):
                    visit(f"{operation['operationId']}:{parameter['name']}",
                          parameter["schema"])
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                name = media["schema"]["$ref"].rsplit("/", 1)[-1]
                visit(name, schemas[name])
    assert not unbounded


def _reads_a_body(operation: dict[str, Any]) -> bool:
    """A body of its own, or an Idempotency-Key, whose fingerprint reads the body."""
    headers = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "header"}
    return "requestBody" in operation or "Idempotency-Key" in headers


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_route_that_reads_a_body_can_answer_408(route: Route) -> None:
    operation = _operation(route.method, route.path)
    if _reads_a_body(operation):
        assert "CLIENTKEYS_BODY_TIMEOUT_S" in operation["responses"]["408"]["description"]
    else:
        assert "408" not in operation["responses"]
    assert _reads_a_body(_operation("POST", "/v1/clients/{key}/approve"))


def test_a_route_says_why_it_refuses_for_reasons_of_its_own() -> None:
    events = _operation("GET", "/v1/events")["responses"]
    assert "CLIENTKEYS_EVENT_STREAMS_PER_TOKEN" in events["429"]["description"]
    assert "failed sign-ins" in events["429"]["description"]  # the kind's reason stays
    assert set(events["429"]["headers"]) == {"Retry-After"}
    verify = _operation("POST", "/v1/oauth1/verify")["responses"]
    assert "nonce store is full" in verify["503"]["description"]
    assert "nonce" not in _operation("POST", "/v1/clients/{key}/verify")["responses"]["503"][
        "description"]


def _schemas_with(document: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every JSON Schema object (a dict with a `type`) anywhere in `document`."""
    if isinstance(document, dict):
        if "type" in document:
            found.append(document)
        for value in document.values():
            _schemas_with(value, found)
    elif isinstance(document, list):
        for value in document:
            _schemas_with(value, found)
    return found


def test_object_sizes_are_stated_as_properties_not_lengths() -> None:
    schemas = _schemas_with(DOCUMENT, [])
    objects = [s for s in schemas if s["type"] == "object"]
    assert objects and not [s for s in objects if {"minLength", "maxLength"} & set(s)]
    form = DOCUMENT["components"]["schemas"]["OAuth1VerifyRequest"]["properties"]["form"]
    assert form["maxProperties"] == 100


def test_answers_name_every_status_and_type_the_enums_have() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    statuses, types = [s.value for s in Status], [t.value for t in ClientType]
    assert list(schemas["StatusCounts"]["properties"]) == statuses
    assert list(schemas["TypeCounts"]["properties"]) == types
    verdict = schemas["Verdict"]["properties"]
    assert verdict["status"]["enum"] == [*statuses, None]
    assert verdict["type"]["enum"] == [*types, None]
    assert verdict["reason"]["enum"] == [r.value for r in Reason]
    assert schemas["OAuth1Verdict"]["properties"]["status"]["enum"] == [*statuses, None]
