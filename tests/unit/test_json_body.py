"""Request bodies parsed by orjson: what json.loads read is read alike, the rest is a 400.

orjson is stricter than the `json.loads` the gateway used before; every body
it refuses still gets the usual problem, naming the same problem as before,
never a 500. A small app with the gateway's error middleware, no broker or
database.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api import keys
from api.problems import PROBLEM_TYPE, problem_middleware
from api.views.json_body import read_json_object
from common.json_responses import json_response
from common.media_types import JSON_TYPE
from common.settings import Settings

ClientFactory = Any  # pytest-aiohttp's aiohttp_client


async def _echo(request: web.Request) -> web.Response:
    return json_response(await read_json_object(request))


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[problem_middleware])
    app[keys.SETTINGS] = Settings()
    app.router.add_post("/", _echo)
    test_client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    return test_client


async def _problem(client: TestClient[web.Request, web.Application],
                   raw: bytes) -> dict[str, Any]:
    response = await client.post("/", data=raw, headers={"Content-Type": JSON_TYPE})
    assert response.status == 400, await response.text()
    assert response.content_type == PROBLEM_TYPE
    body: dict[str, Any] = await response.json()
    assert body["status"] == 400 and body["title"] == "Bad Request"
    return body


@pytest.mark.parametrize("raw", [
    b'{"name": "Emoji \\ud83d\\ude00", "count": 3, "list": [1.5, null, true]}',
    '{"name": "caf\u00e9 \U0001d518", "n": -0.0}'.encode(),
    b' {"a": 1, "a": 2} ',  # the last of a repeated key wins, as with json.loads
    b'{"big": 18446744073709551615}',
])
async def test_what_json_loads_read_is_read_alike(
        client: TestClient[web.Request, web.Application], raw: bytes) -> None:
    response = await client.post("/", data=raw, headers={"Content-Type": JSON_TYPE})
    assert response.status == 200, await response.text()
    assert await response.json() == json.loads(raw)


@pytest.mark.parametrize("raw", [
    b'{"grace_seconds": NaN}', b'{"grace_seconds": Infinity}', b'{"n": -Infinity}',
    b'{"n": 1e400}', b'{"a": 1', b'', b'\xef\xbb\xbf{"a": 1}', b'{"name": "\xe9"}',
    b'{"a": "\x01"}',
])
async def test_what_is_not_json_is_a_400(client: TestClient[web.Request, web.Application],
                                         raw: bytes) -> None:
    assert (await _problem(client, raw))["detail"] == "The request body is not valid JSON."


@pytest.mark.parametrize("raw", [
    b'{"name": "Lone \\ud800 surrogate"}', b'{"name": "\\udfff first"}',
    b'{"\\ud800": 1}', b'{"list": ["\\ud83d"]}',
])
async def test_a_lone_surrogate_is_a_400_that_says_so(
        client: TestClient[web.Request, web.Application], raw: bytes) -> None:
    assert "surrogate" in (await _problem(client, raw))["detail"]


@pytest.mark.parametrize("depth", [9, 1000, 1025, 5000])
async def test_deep_nesting_is_a_400_at_any_depth(
        client: TestClient[web.Request, web.Application], depth: int) -> None:
    raw = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    assert "nested" in (await _problem(client, raw))["detail"]


@pytest.mark.parametrize("raw", [b"[NaN]", b'"\\ud800"', b"[1]", b"null"])
async def test_a_body_that_is_no_object_is_a_400_before_what_it_holds(
        client: TestClient[web.Request, web.Application], raw: bytes) -> None:
    assert "must be a JSON object" in (await _problem(client, raw))["detail"]
