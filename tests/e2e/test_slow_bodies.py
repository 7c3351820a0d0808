"""A request body that trickles in is cut at CLIENTKEYS_BODY_TIMEOUT_S with a 408 problem.

A raw socket plays the slow sender against the running gateway: it sends the
headers at once and then the body a byte at a time, never finishing in time.
Each place that reads a body is tried: a view's JSON body, and the
Idempotency-Key fingerprint, which reads the body before any view (also where
the view itself would never read it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from common.settings import Settings
from tests.e2e.conftest import Service, oauth1_client
from tests.e2e.test_http_errors import assert_nothing_stored

BODY_TIMEOUT_S = 1.0
WAIT_S = 15.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(body_timeout_s=BODY_TIMEOUT_S)


async def _send(service: Service, path: str, body: bytes, pieces: list[bytes], pause_s: float,
                extra_headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    """Headers at once, then `pieces` of `body` with `pause_s` between them; the answer."""
    reader, writer = await asyncio.open_connection(service.http.host, service.http.port)
    headers = {"Host": "gateway", "Content-Type": "application/json",
               "Content-Length": str(len(body)), **service.admin, **extra_headers}
    writer.write(f"POST {path} HTTP/1.1\r\n".encode()
                 + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")

    async def trickle() -> None:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(pause_s)

    sending = asyncio.create_task(trickle())
    try:
        status_line = await asyncio.wait_for(reader.readline(), WAIT_S)
        answer_headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), WAIT_S)) != b"\r\n":
            name, _, value = line.decode().partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        length = int(answer_headers["content-length"])
        payload = json.loads(await asyncio.wait_for(reader.readexactly(length), WAIT_S))
        return int(status_line.split()[1]), answer_headers, payload
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize(("path", "headers"), [
    pytest.param("/v1/clients", {}, id="json-body"),
    pytest.param("/v1/clients", {"Idempotency-Key": "slow-1"}, id="idempotency-fingerprint"),
    pytest.param("/v1/clients/{key}/approve", {"Idempotency-Key": "slow-2"},
                 id="fingerprint-of-a-body-no-view-reads"),
])
async def test_a_trickled_body_is_cut_with_408(service: Service, path: str,
                                               headers: dict[str, str]) -> None:
    if "{key}" in path:
        path = path.format(key=(await service.create(oauth1_client()))["key"])
    body = json.dumps(oauth1_client("Slow")).encode()
    status, answer_headers, problem = await _send(
        service, path, body, [bytes([b]) for b in body], 0.2, headers)
    assert status == 408, problem
    assert answer_headers["content-type"].startswith("application/problem+json")
    assert answer_headers.get("connection", "").lower() == "close"
    assert problem["status"] == 408 and problem["title"] == "Request Timeout"
    assert f"{BODY_TIMEOUT_S:g} seconds" in problem["detail"]
    if "approve" not in path:
        await assert_nothing_stored(service)
    else:
        [client] = (await (await service.request("GET", "/v1/clients")).json())["items"]
        assert client["status"] == "pending"


async def test_a_body_sent_in_pieces_within_the_bound_is_read(service: Service) -> None:
    body = json.dumps(oauth1_client("In two pieces")).encode()
    half = len(body) // 2
    status, _, created = await _send(service, "/v1/clients", body, [body[:half], body[half:]],
                                     BODY_TIMEOUT_S / 4, {})
    assert status == 201, created
    assert created["name"] == "In two pieces"
