"""Response bodies written by orjson say what json.dumps said, with the same headers."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from common.json_responses import json_bytes, json_response


@pytest.mark.parametrize("data", [
    {"items": [{"key": "k-1", "name": "caf\u00e9 \U0001d518", "version": 3}],
     "next_cursor": None, "total": 1},
    {"status": 400, "errors": {"redirect_uris": {0: ["Not a valid URL."]}}},
    {"ratio": 0.1, "big": 2**63, "flags": [True, False], "nested": {"a": (1, 2)}},
    {1.5: "float key", True: "bool key", None: "null key"},
])
def test_the_body_is_the_json_of_json_dumps(data: Any) -> None:
    assert json.loads(json_bytes(data)) == json.loads(json.dumps(data))


@pytest.mark.parametrize("data", [{"subject": "lone \udc80 surrogate"}, {"n": 2**70}])
def test_what_orjson_refuses_is_written_as_json_dumps_writes_it(data: Any) -> None:
    assert json_bytes(data) == json.dumps(data).encode()


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize("value", [datetime(2024, 1, 2, tzinfo=UTC), _Point(1)])
def test_no_silent_format_for_what_json_dumps_refuses(value: object) -> None:
    with pytest.raises(TypeError):
        json_bytes({"value": value})


def test_headers_are_those_of_a_text_response() -> None:
    response = json_response({"a": 1}, status=503, headers={"Retry-After": "1"})
    assert response.status == 503
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Retry-After"] == "1"
    problem = json_response({"status": 404}, content_type="application/problem+json")
    assert problem.headers["Content-Type"] == "application/problem+json; charset=utf-8"
