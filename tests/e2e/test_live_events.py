"""GET /v1/events, GET /v1/me, GET /v1/client-types and the page's files, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from api import keys
from api.views.page import SCRIPTS, SECURITY_HEADERS
from common.clients import WARN_IMPLICIT, WARN_PASSWORD
from tests.e2e.conftest import Service, oidc_client
from tests.e2e.test_http_errors import assert_problem

WAIT_S = 10


async def _frames(response: aiohttp.ClientResponse) -> Any:
    """Each Server-Sent Event of a response as (event, id, data)."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "data" in fields:
                yield fields.get("event", "message"), fields.get("id"), fields["data"]
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def test_the_stream_carries_each_client_event_without_secrets(service: Service) -> None:
    url = service.http.make_url("/v1/events")
    async with aiohttp.ClientSession() as session, \
            session.get(url, headers=service.reader) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        frames = _frames(response)
        event, _, _ = await asyncio.wait_for(anext(frames), WAIT_S)
        assert event == "ready"
        body = oidc_client("Streamed portal")
        created = await service.create(body)
        event, event_id, data = await asyncio.wait_for(anext(frames), WAIT_S)
    cloud_event = json.loads(data)
    assert event == "clientkeys.client.created"
    assert event_id == cloud_event["id"]
    assert cloud_event["subject"] == created["key"]
    assert cloud_event["data"]["client"]["name"] == "Streamed portal"
    assert body["secret"] not in data


async def test_the_stream_wants_a_reading_token(service: Service) -> None:
    anonymous = await service.http.get("/v1/events", headers={})
    await assert_problem(anonymous, 401)


async def test_shutting_the_gateway_down_ends_open_streams(service: Service) -> None:
    url = service.http.make_url("/v1/events")
    live = service.http.app[keys.LIVE_EVENTS]
    async with aiohttp.ClientSession() as session, \
            session.get(url, headers=service.reader) as response:
        frames = _frames(response)
        await asyncio.wait_for(anext(frames), WAIT_S)
        assert live.open_streams == 1
        # Without the shutdown hook this would wait for aiohttp's shutdown timeout.
        await asyncio.wait_for(service.http.close(), WAIT_S)
        rest = [frame async for frame in frames]
    assert rest == []
    assert live.open_streams == 0


async def test_who_am_i_tells_the_subject_and_every_permission(service: Service) -> None:
    admin = await (await service.request("GET", "/v1/me")).json()
    assert admin == {"subject": "alice", "permissions": ["configure_server", "clients:read"]}
    reader = await (await service.request("GET", "/v1/me", headers=service.reader)).json()
    assert reader == {"subject": "dashboard", "permissions": ["clients:read"]}


async def test_the_client_types_carry_their_choices_and_warnings(service: Service) -> None:
    answer = await (await service.request("GET", "/v1/client-types",
                                          headers=service.reader)).json()
    types = {t["type"]: t for t in answer["types"]}
    assert list(types) == ["oauth1", "oauth2", "oidc"]
    assert types["oauth1"]["key_label"] == "Consumer key"
    assert types["oauth1"]["grant_types"] == [] and not types["oauth1"]["redirect_uris"]
    grants = {c["value"]: c["warnings"] for c in types["oidc"]["grant_types"]}
    assert grants["password"] == [WARN_PASSWORD] and grants["authorization_code"] == []
    responses = {c["value"]: c["warnings"] for c in types["oauth2"]["response_types"]}
    assert responses == {"code": [], "token": [WARN_IMPLICIT]}
    assert answer["limits"]["secret_min"] == 12


async def test_the_page_and_its_files_are_served_with_a_strict_policy(service: Service) -> None:
    page = await service.http.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    html = await page.text()
    assert 'src="/ui/app.js"' in html and "<script>" not in html  # no inline code
    for name in SCRIPTS:
        script = await service.http.get(f"/ui/{name}.js")
        assert script.status == 200, name
        assert script.content_type == "text/javascript", name
    style = await service.http.get("/ui/clientkeys.css")
    assert style.status == 200 and style.content_type == "text/css"
    for missing in ("/ui/index.js", "/ui/app.css", "/ui/..%2Fpage.js", "/ui/page.py"):
        await assert_problem(await service.http.get(missing), 404)
