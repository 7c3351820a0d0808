"""Retries with an Idempotency-Key across a long MongoDB outage: each change once.

Callers retry as a client library does: on 503 and 409 (after Retry-After, capped
so the figures come in quickly) and on connection errors and timeouts, always
with the same key, until they get a 2xx. The database is cut mid-load for longer
than the driver's 10 s operation timeout, so the gateway's own writes to the
Idempotency-Key records fail while commands it already queued wait in the queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from api.app import create_app
from api.auth.principals import CONFIGURE_SERVER
from common.settings import Settings
from common.store import connect, database
from tests.e2e.conftest import AiohttpClient, oauth1_client
from tests.faults.conftest import Figures, host_and_port, through, wait_until
from tests.faults.proxy import tcp_proxy
from tests.harness import EventTap, add_token, bearer, event_tap, running_workers

CLIENTS = 200
IN_FLIGHT = 40
PACE_S = 0.03  # between callers' first attempts: the load spans the cut
CALLER_PATIENCE_S = 100.0  # well past the outage; the old lease held retries 120 s
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15)


async def until_answered(http: TestClient[Any, Any], slots: asyncio.Semaphore,
                         figures: Figures, method: str, path: str, key: str,
                         headers: dict[str, str], body: dict[str, Any] | None) -> int:
    """Send until a 2xx or another final answer, as a retrying client library does."""
    deadline = time.monotonic() + CALLER_PATIENCE_S
    while True:
        try:
            async with slots:
                response = await http.request(method, path, json=body, timeout=REQUEST_TIMEOUT,
                                              headers={**headers, "Idempotency-Key": key})
                status = response.status
                retry_after = float(response.headers.get("Retry-After", "1"))
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status, retry_after = 0, 0.5
        figures.add(**{f"http_{status or 'error'}": 1})
        if status not in (0, 409, 503):
            return status
        assert time.monotonic() < deadline, f"{method} {path} still {status}: gave up"
        await asyncio.sleep(min(retry_after, 1.0))


async def all_of(*callers: Coroutine[Any, Any, None]) -> None:
    """Run every caller; the first that fails cancels the rest, so none outlives the test."""
    async with asyncio.TaskGroup() as group:
        for caller in callers:
            group.create_task(caller)


async def created_key(http: TestClient[Any, Any], admin: dict[str, str], name: str) -> str:
    """Create a client (before any fault) and return its key, once it is applied."""
    response = await http.post("/v1/clients", json=oauth1_client(name), headers=admin)
    body = await response.json()
    if response.status == 201:
        return str(body["key"])
    assert response.status == 202, body  # queued beyond the wait: its operation tells
    while True:
        await asyncio.sleep(0.2)
        operation = await (await http.get(response.headers["Location"], headers=admin)).json()
        if operation["status"] != "pending":
            assert operation["status"] == "succeeded", operation
            return str(operation["client_key"])


def distinct_event_ids(tap: EventTap, event: str) -> Counter[str]:
    """How many distinct event ids of `event` each client had (duplicates share one)."""
    ids: dict[str, set[str]] = {}
    for body in tap.bodies():
        if body["type"] == f"clientkeys.client.{event}":
            ids.setdefault(body["subject"], set()).add(body["id"])
    return Counter({key: len(found) for key, found in ids.items()})


@pytest.mark.timeout(300)
@pytest.mark.parametrize("outage_s", [20.0, 30.0])
async def test_retried_creates_and_approves_apply_once_across_a_long_outage(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        outage_s: float) -> None:
    figures = Figures(f"Idempotency-Key retries, MongoDB down {outage_s:.0f} s")
    host, port = host_and_port(settings.mongodb_uri, 27017)
    async with tcp_proxy(host, port) as link, event_tap(settings, "client.#") as tap:
        proxied = through(settings.mongodb_uri, link.port, "directConnection=true")
        service_settings = settings.with_overrides(mongodb_uri=proxied, sync_wait_s=2.0)
        admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
        http = await aiohttp_client(create_app(service_settings))
        async with running_workers(service_settings, 2):
            targets: list[str] = []
            for start in range(0, CLIENTS, 20):  # the pending clients to approve
                targets += await asyncio.gather(*(
                    created_key(http, admin, f"target {i}") for i in range(start, start + 20)))
            slots = asyncio.Semaphore(IN_FLIGHT)
            statuses: Counter[tuple[str, int]] = Counter()

            async def create(i: int) -> None:
                await asyncio.sleep(2 * i * PACE_S)
                statuses["create", await until_answered(
                    http, slots, figures, "POST", "/v1/clients", f"create-{i}", admin,
                    oauth1_client(f"retried {i}"))] += 1

            async def approve(i: int, key: str) -> None:
                await asyncio.sleep((2 * i + 1) * PACE_S)
                statuses["approve", await until_answered(
                    http, slots, figures, "POST", f"/v1/clients/{key}/approve",
                    f"approve-{key}", admin, None)] += 1

            began = time.monotonic()
            load = asyncio.ensure_future(all_of(
                *(create(i) for i in range(CLIENTS)),
                *(approve(i, key) for i, key in enumerate(targets))))
            await asyncio.sleep(3)
            link.cut()
            await asyncio.sleep(outage_s)
            link.restore()
            await load
            figures.add(load_s=round(time.monotonic() - began))

            direct = connect(settings.mongodb_uri, app_name="clientkeys-test")
            db = database(direct)
            try:
                async def settled() -> bool:
                    return await db["operations"].count_documents({"status": "pending"}) == 0

                await wait_until(settled, 90, "the workers to apply what waited in the queue")
                clients = await db["clients"].find({}, {"key": 1, "name": 1,
                                                        "status": 1}).to_list()
                approvals = Counter(o["client_key"] for o in await db["operations"].find(
                    {"kind": "approve_client", "status": "succeeded"}).to_list())
            finally:
                await direct.close()

            async def every_event_arrived() -> bool:
                created, approved = distinct_event_ids(tap, "created"), \
                    distinct_event_ids(tap, "approved")
                return len(created) >= 2 * CLIENTS and len(approved) >= CLIENTS

            await wait_until(every_event_arrived, 30, "an event for every change")
            await asyncio.sleep(1)  # a second event of one change would come in by now

    names = Counter(c["name"] for c in clients)
    created, approved = distinct_event_ids(tap, "created"), distinct_event_ids(tap, "approved")
    figures.add(clients=len(clients), doubled=sum(n - 1 for n in names.values()),
                **{f"{kind}_{status}": n for (kind, status), n in statuses.items()})
    figures.show()
    assert set(statuses) <= {("create", 201), ("create", 202), ("approve", 200),
                             ("approve", 202)}, statuses
    assert figures.counts["http_500"] == 0
    assert figures.counts["http_503"] + figures.counts["http_error"] > 0  # the outage was felt
    assert names == Counter({f"retried {i}": 1 for i in range(CLIENTS)}
                            | {f"target {i}": 1 for i in range(CLIENTS)})
    assert set(created.values()) == {1} and len(created) == 2 * CLIENTS
    assert {c["status"] for c in clients if c["key"] in targets} == {"approved"}
    assert approvals == Counter({key: 1 for key in targets})
    assert approved == Counter({key: 1 for key in targets})
