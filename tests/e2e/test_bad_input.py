"""Bad input gets a clear RFC 9457 problem, and nothing is stored or queued.

Sizes (413), media types (415), unknown fields, bounds on every string and
list, nesting depth and text that cannot be stored (lone surrogates) — in the
body, the query string and the path. `test_http_errors` covers the basics
(non-JSON, a list body, an unknown field on create, absurd nesting); these go
further. The routes that take a body are found in the route table, so a new
one is covered without editing this file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api import keys
from api.routes import ROUTES
from api.views.json_body import MAX_DEPTH
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.e2e.test_http_errors import assert_nothing_stored, assert_problem

# The management API's; the OAuth endpoints answer bad bodies in RFC 7591's shape
# (tests/e2e/test_self_registration.py).
BODY_ROUTES = [route for route in ROUTES if route.body is not None and route.permission]
JSON = "application/json"


async def _path_of(service: Service, path: str) -> str:
    """The route's path with a real client key in it (when it has one)."""
    if "{key}" not in path:
        return path
    created = await service.create(oauth1_client())
    return path.replace("{key}", created["key"])


async def _operations_count(service: Service) -> int:
    return int(await service.http.app[keys.DB]["operations"].count_documents({}))


def test_some_routes_take_a_body() -> None:
    assert {(r.method, r.path) for r in BODY_ROUTES} >= {("POST", "/v1/clients"),
                                                          ("PATCH", "/v1/clients/{key}")}


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", None])
async def test_every_body_must_be_json_in_utf8(service: Service, route: Any,
                                              content_type: str | None) -> None:
    path = await _path_of(service, route.path)
    before = await _operations_count(service)
    headers = dict(service.everything)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await service.http.request(route.method, path, data=b'{"name": "x"}',
                                          headers=headers)
    body = await assert_problem(response, 415)
    assert "application/json" in body["detail"]
    assert await _operations_count(service) == before


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.name)
async def test_a_body_over_the_limit_is_413(service: Service, route: Any) -> None:
    path = await _path_of(service, route.path)
    limit = service.settings.max_body_bytes
    oversized = b'{"name": "' + b"x" * limit + b'"}'
    response = await service.request(route.method, path, data=oversized,
                                     headers={**service.everything, "Content-Type": JSON})
    problem = await assert_problem(response, 413)
    assert str(limit) in problem["detail"]


async def test_a_chunked_body_over_the_limit_is_413_too(service: Service) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type": "oauth1", "name": "'
        for _ in range(service.settings.max_body_bytes // 1024 + 1):
            yield b"x" * 1024
        yield b'", "generate_secret": true}'

    response = await service.request("POST", "/v1/clients", data=chunks(),
                                     headers={**service.admin, "Content-Type": JSON})
    await assert_problem(response, 413)
    await assert_nothing_stored(service)


async def test_a_body_over_the_limit_is_413_where_the_body_is_only_fingerprinted(
        service: Service) -> None:
    path = await _path_of(service, "/v1/clients/{key}/approve")
    response = await service.request(
        "POST", path, data=b"x" * (service.settings.max_body_bytes + 1),
        headers={**service.admin, "Idempotency-Key": "approve-1"})
    await assert_problem(response, 413)


async def test_unknown_fields_of_an_edit_are_named(service: Service) -> None:
    path = await _path_of(service, "/v1/clients/{key}")
    response = await service.request("PATCH", path, json={"name": "New", "colour": "blue",
                                                          "secret_hint": "x"})
    problem = await assert_problem(response, 400)
    assert set(problem["errors"]) == {"colour", "secret_hint"}


async def test_unknown_query_parameters_are_named(service: Service) -> None:
    response = await service.request("GET", "/v1/clients?colour=blue&limit=5")
    problem = await assert_problem(response, 400)
    assert set(problem["errors"]) == {"colour"}


@pytest.mark.parametrize(("field", "value"), [
    ("name", "n" * 5000),
    ("secret", "s" * 5000),
    ("redirect_uris", ["https://example.com/" + "p" * 5000]),
    ("redirect_uris", [f"https://example.com/{i}" for i in range(101)]),
    ("grant_types", ["authorization_code"] * 101),
])
async def test_every_string_and_list_in_a_body_is_bounded(service: Service, field: str,
                                                          value: Any) -> None:
    body = oidc_client(**{field: value})
    if field == "secret":
        body["secret_confirmation"] = value
    problem = await assert_problem(await service.request("POST", "/v1/clients", json=body), 400)
    assert field in problem["errors"]
    await assert_nothing_stored(service)


async def test_a_huge_array_is_refused_by_name(service: Service) -> None:
    count = (service.settings.max_body_bytes - 1000) // len('"", ')  # just under the limit
    body = oidc_client(redirect_uris=[""] * count)
    problem = await assert_problem(await service.request("POST", "/v1/clients", json=body), 400)
    assert "redirect_uris" in problem["errors"]
    await assert_nothing_stored(service)


@pytest.mark.parametrize("query", ["q=" + "q" * 201, "cursor=" + "c" * 4097, "cursor=",
                                   "cursor=not%20base64url", "limit=99999999999999999999",
                                   "limit=" + "9" * 5000, "sort=" + "s" * 5000])
async def test_every_query_string_value_is_bounded(service: Service, query: str) -> None:
    name = query.partition("=")[0]
    response = await service.request("GET", f"/v1/clients?{query}")
    problem = await assert_problem(response, 400)
    assert name in problem["errors"]


async def test_a_long_client_key_in_the_path_is_a_404(service: Service) -> None:
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/approve")):
        response = await service.request(method, "/v1/clients/" + "k" * 5000 + suffix)
        problem = await assert_problem(response, 404)
        assert len(problem["detail"]) < 200  # the key is not echoed whole
    await assert_problem(await service.request("GET", "/v1/operations/" + "o" * 5000), 404)
    assert await _operations_count(service) == 0


async def test_a_path_beyond_the_http_layer_limit_is_a_400_not_a_crash(
        service: Service) -> None:
    # aiohttp refuses request lines over 8190 bytes before the service runs (in plain
    # text: it offers no hook for the body); the document says so.
    response = await service.request("GET", "/v1/clients/" + "k" * 10_000)
    assert response.status == 400
    assert (await service.request("GET", "/healthz")).status == 200


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 900])
async def test_deeply_nested_json_is_a_400(service: Service, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    response = await service.request(
        "POST", "/v1/clients", data=f'{{"type": "oauth1", "name": {nested}}}',
        headers={**service.admin, "Content-Type": JSON})
    problem = await assert_problem(response, 400)
    assert "nested" in problem["detail"]
    await assert_nothing_stored(service)


@pytest.mark.parametrize("raw", [
    '{"type": "oauth1", "name": "Lone \\ud800 surrogate", "generate_secret": true}',
    '{"type": "oauth1", "name": "Legacy", "secret": "\\udfff-twelve-chars",'
    ' "secret_confirmation": "\\udfff-twelve-chars"}',
    '{"type": "oauth1", "name": "Legacy", "generate_secret": true, "\\ud800": 1}',
])
async def test_text_that_cannot_be_stored_is_a_400_not_a_poison_command(
        service: Service, raw: str) -> None:
    response = await service.request("POST", "/v1/clients", data=raw,
                                     headers={**service.admin, "Content-Type": JSON})
    problem = await assert_problem(response, 400)
    assert "surrogate" in problem["detail"]
    assert "twelve-chars" not in await response.text()
    await assert_nothing_stored(service)
    assert await _operations_count(service) == 0  # nothing was queued


async def test_a_valid_surrogate_pair_is_an_ordinary_character(service: Service) -> None:
    response = await service.request(
        "POST", "/v1/clients", data='{"type": "oauth1", "name": "Emoji \\ud83d\\ude00",'
        ' "generate_secret": true}', headers={**service.admin, "Content-Type": JSON})
    assert response.status == 201, await response.text()
    assert (await response.json())["name"] == "Emoji \U0001f600"


async def test_bytes_that_are_not_utf8_are_a_400(service: Service) -> None:
    response = await service.request("POST", "/v1/clients",
                                     data=b'{"type": "oauth1", "name": "\xe9"}',
                                     headers={**service.admin, "Content-Type": JSON})
    await assert_problem(response, 400)
    await assert_nothing_stored(service)


async def test_the_cursor_after_the_longest_name_still_pages(service: Service) -> None:
    longest = "\U0001d518" * 200  # 200 characters of 4 UTF-8 bytes each
    await service.create(oauth1_client(longest))
    await service.create(oauth1_client("\U0001d518" * 199 + "z"))
    first = await (await service.request("GET", "/v1/clients?sort=name&limit=1")).json()
    assert first["next_cursor"]
    response = await service.request(
        "GET", f"/v1/clients?sort=name&limit=1&cursor={first['next_cursor']}")
    assert response.status == 200, await response.text()
    second = await response.json()
    assert [c["name"] for c in first["items"] + second["items"]] == sorted(
        [longest, "\U0001d518" * 199 + "z"])
