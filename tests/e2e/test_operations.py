"""What an on-call engineer reads: /metrics of the gateway and of a real worker process,
/v1/stats, and the request id that ties an HTTP request to the worker's log lines and
the event it caused."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api import keys
from api.app import create_app
from api.auth.principals import CLIENTS_READ, CONFIGURE_SERVER
from common.client_documents import LIVE
from common.clients import ClientType, Status
from common.settings import Settings
from common.store import CLIENTS, connect, database
from tests.e2e.conftest import AiohttpClient, Service, oauth1_client, oidc_client
from tests.faults.conftest import wait_until
from tests.harness import add_token, bearer, event_tap, running_workers
from tests.processes import CLI, REPO, clean_env, json_lines, wait_for_log

SECRET = "s3cret-value-for-tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    wanted = frozenset(labels.items())
    found = [v for (n, have), v in samples.items() if n == name and wanted <= have]
    assert found, f"no series {name}{labels}"
    return sum(found)


async def scrape(get: Callable[[str], Awaitable[Any]]) -> Samples:
    answer = await get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return parse(await answer.text())


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    async def scrape(self) -> Samples:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{self.port}") as http:
            return await scrape(http.get)


@pytest.fixture
async def worker_process(settings: Settings, tmp_path: Path,
                         topology_cleanup: None) -> AsyncIterator[WorkerProcess]:
    log = tmp_path / "worker.log"
    env = clean_env(CLIENTKEYS_AMQP_URL=settings.amqp_url,
                    CLIENTKEYS_MONGODB_URI=settings.mongodb_uri,
                    CLIENTKEYS_NAMESPACE=settings.namespace,
                    CLIENTKEYS_ENCRYPTION_KEYS=settings.encryption_keys,
                    CLIENTKEYS_WORKER_HTTP_PORT="0", PYTHONPATH=str(REPO))
    with log.open("wb") as out:
        process = await asyncio.to_thread(subprocess.Popen, [*CLI, "worker"], env=env,
                                          stdout=out, stderr=subprocess.STDOUT)
    try:
        started = await asyncio.to_thread(wait_for_log, log, "worker health and metrics",
                                          process)
        yield WorkerProcess(process, log, int(started["health_port"]))
    finally:
        process.terminate()
        assert process.wait(30) == 0


@pytest.mark.timeout(120)
async def test_metrics_after_a_small_workload(settings: Settings, aiohttp_client: AiohttpClient,
                                              worker_process: WorkerProcess) -> None:
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    http = await aiohttp_client(create_app(settings.with_overrides(metrics_poll_s=0.2)))
    await asyncio.wait_for(http.app[keys.READ_MODEL].loaded.wait(), 10)

    created = []
    for name in ("One", "Two"):
        answer = await http.post("/v1/clients", json=oidc_client(name), headers=admin)
        assert answer.status == 201
        created.append(await answer.json())
    answer = await http.post(f"/v1/clients/{created[0]['key']}/approve", headers=admin)
    assert answer.status == 200
    assert (await http.get("/v1/clients/ck_nope", headers=admin)).status == 404
    assert (await http.post("/v1/clients", json={"type": "oidc"}, headers=admin)).status == 400

    gateway = await scrape(http.get)
    requests = "clientkeys_http_requests_total"
    assert value(gateway, requests, route="create_client", method="POST", status="201") == 2
    assert value(gateway, requests, route="create_client", status="400") == 1
    assert value(gateway, requests, route="approve_client", status="200") == 1
    assert value(gateway, requests, route="get_client", status="404") == 1
    latency = "clientkeys_http_request_duration_seconds"
    assert value(gateway, f"{latency}_count", route="create_client", status="201") == 2
    assert 0 < value(gateway, f"{latency}_sum", route="create_client", status="201") < 20
    published = "clientkeys_commands_published_total"
    assert value(gateway, published, kind="create_client") == 2
    assert value(gateway, published, kind="approve_client") == 1
    assert value(gateway, "process_resident_memory_bytes") > 10_000_000

    async def gauges_settled() -> bool:
        figures = await scrape(http.get)
        if not any(name == "clientkeys_clients" for name, _labels in figures):
            return False  # not refreshed yet: the poller starts once the read model is loaded
        return (value(figures, "clientkeys_clients", type="oidc", status="approved") == 1
                and value(figures, "clientkeys_clients", type="oidc", status="pending") == 1)

    await wait_until(gauges_settled, 10, "the client gauges to count the workload")
    gateway = await scrape(http.get)
    assert value(gateway, "clientkeys_clients", type="oauth1", status="pending") == 0
    assert value(gateway, "clientkeys_pending_approvals") == 1
    assert 0 < value(gateway, "clientkeys_oldest_pending_approval_age_seconds") < 60
    assert value(gateway, "clientkeys_command_consumers") == 1  # the worker process
    assert value(gateway, "clientkeys_commands_waiting") == 0
    assert value(gateway, "clientkeys_dead_lettered_commands") == 0

    worker = await worker_process.scrape()
    applied = "clientkeys_commands_applied_total"
    assert value(worker, applied, kind="create_client", outcome="succeeded") == 2
    assert value(worker, applied, kind="approve_client", outcome="succeeded") == 1
    duration = "clientkeys_command_duration_seconds"
    assert value(worker, f"{duration}_count", kind="create_client") == 2
    assert 0 < value(worker, f"{duration}_sum") < 20
    assert value(worker, "clientkeys_events_published_total", type="created") == 2
    assert value(worker, "clientkeys_events_published_total", type="approved") == 1
    assert value(worker, "clientkeys_event_publish_seconds_count") == 3
    assert value(worker, "clientkeys_worker_consuming") == 1
    assert value(worker, "clientkeys_outbox_backlog") == 0
    assert ("clientkeys_commands_failed_total", frozenset({("kind", "create_client")})) \
        not in worker  # nothing was dead-lettered
    print(f"\n[metrics] gateway series: {len(gateway)}, worker series: {len(worker)}")


@pytest.mark.timeout(120)
async def test_a_request_id_travels_to_the_worker_and_the_event(
        settings: Settings, aiohttp_client: AiohttpClient,
        worker_process: WorkerProcess) -> None:
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    http = await aiohttp_client(create_app(settings))
    async with event_tap(settings) as tap:
        answer = await http.post("/v1/clients", json=oidc_client("Traced"),
                                 headers={**admin, "X-Request-ID": "trace-me-42"})
        assert answer.status == 201
        assert answer.headers["X-Request-ID"] == "trace-me-42"
        [event] = await tap.wait_for(1)
    assert event["requestid"] == "trace-me-42"
    operation = event["data"]["command_id"]
    history = await (await http.get(f"/v1/clients/{event['subject']}/history",
                                    headers=admin)).json()
    assert [e["request_id"] for e in history["items"]] == ["trace-me-42"]

    lines = json_lines(worker_process.log)  # every line parses as JSON
    traced = [line for line in lines if line.get("request_id") == "trace-me-42"]
    assert [line["event"] for line in traced] == ["command succeeded"]
    assert traced[0]["command_id"] == operation and traced[0]["kind"] == "create_client"
    assert traced[0]["level"] == "info" and "time" in traced[0]
    assert SECRET not in worker_process.log.read_text()


async def test_x_request_id_is_returned_kept_or_made(service: Service) -> None:
    kept = await service.request("GET", "/v1/clients", headers={
        **service.reader, "X-Request-ID": "abc.123:XYZ-_"})
    assert kept.headers["X-Request-ID"] == "abc.123:XYZ-_"
    for unusable in ("", "has space", "x" * 129, "semi;colon"):
        answer = await service.request("GET", "/v1/clients",
                                       headers={**service.reader, "X-Request-ID": unusable})
        assert answer.headers["X-Request-ID"] not in ("", unusable)
    made = {(await service.http.get(path)).headers["X-Request-ID"]
            for path in ("/healthz", "/v1/clients", "/nowhere", "/v1/clients/ck_x")}
    assert len(made) == 4  # a new one each time, also on 401 and 404


async def test_request_lines_at_info_for_changes_and_failures_only(
        service: Service, caplog: pytest.LogCaptureFixture) -> None:
    """Successful reads are the hot path: their line is at DEBUG, counted in the metrics."""
    with caplog.at_level(logging.DEBUG, logger="clientkeys.http"):
        created = await service.create(oidc_client())
        assert (await service.request("GET", f"/v1/clients/{created['key']}")).status == 200
        assert (await service.request("GET", "/v1/clients/ck_nowhere")).status == 404
    levels = {(r.__dict__["route"], r.__dict__["status"]): r.levelno
              for r in caplog.records if r.name == "clientkeys.http"}
    assert levels == {("create_client", 201): logging.INFO,
                      ("get_client", 200): logging.DEBUG,
                      ("get_client", 404): logging.INFO}


async def _database_figures(settings: Settings) -> tuple[dict[str, dict[str, int]],
                                                          datetime | None]:
    client = connect(settings.mongodb_uri, app_name="clientkeys-test")
    try:
        clients = database(client)[CLIENTS]
        counts = {t.value: {s.value: await clients.count_documents(
            {"type": t.value, "status": s.value, **LIVE}) for s in Status} for t in ClientType}
        oldest = await clients.find_one({"status": "pending", **LIVE},
                                        sort=[("created_at", 1)])
        return counts, oldest["created_at"] if oldest else None
    finally:
        await client.close()


async def test_stats_match_the_database(service: Service) -> None:
    keys_by_name = {}
    for body in (oauth1_client("C1"), oauth1_client("C2"), oidc_client("O1"),
                 oidc_client("O2"), oidc_client("O3"),
                 {**oidc_client("A1"), "type": "oauth2", "response_types": ["code"]}):
        keys_by_name[body["name"]] = (await service.create(body))["key"]
    for name in ("C1", "O1", "O2"):
        assert (await service.request("POST", f"/v1/clients/{keys_by_name[name]}/approve")
                ).status == 200
    assert (await service.request("POST", f"/v1/clients/{keys_by_name['O2']}/disapprove")
            ).status == 200
    assert (await service.request("DELETE", f"/v1/clients/{keys_by_name['O3']}")).status == 204

    answer = await service.request("GET", "/v1/stats", headers=service.reader)
    stats = await answer.json()
    assert answer.status == 200, stats
    counts, oldest = await _database_figures(service.settings)
    assert stats["clients"] == counts
    assert stats["clients"]["oidc"] == {"pending": 0, "approved": 1, "disapproved": 1}
    assert stats["total"] == 5  # the removed one is not counted
    pending = stats["pending_approvals"]
    assert pending["count"] == sum(c["pending"] for c in counts.values()) == 2
    assert oldest is not None
    assert datetime.fromisoformat(pending["oldest_since"]) == oldest
    assert 0 <= pending["oldest_age_seconds"] < 60
    assert stats["commands"] == {"waiting": 0, "consumers": len(service.workers),
                                 "dead_lettered": 0}
    assert (await service.http.get("/v1/stats")).status == 401


@pytest.mark.timeout(120)
async def test_stats_count_the_commands_waiting_for_a_worker(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None) -> None:
    reader = bearer(add_token(settings, "dashboard", CLIENTS_READ))
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    http: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings.with_overrides(sync_wait_s=0)))
    for name in ("Q1", "Q2", "Q3"):
        answer = await http.post("/v1/clients", json=oidc_client(name), headers=admin)
        assert answer.status == 202  # no worker yet: queued

    async def commands() -> dict[str, int]:
        figures: dict[str, int] = (await (await http.get("/v1/stats", headers=reader)
                                          ).json())["commands"]
        return figures

    async def waiting(count: int) -> bool:
        return (await commands())["waiting"] == count

    await wait_until(lambda: waiting(3), 10, "the broker to count 3 commands waiting")
    assert (await commands())["consumers"] == 0
    async with running_workers(settings, 1):
        await wait_until(lambda: waiting(0), 20, "the worker to take the commands")
        assert (await commands())["consumers"] == 1

        async def all_applied() -> bool:
            listed = await (await http.get("/v1/clients", headers=reader)).json()
            return sorted(c["name"] for c in listed["items"]) == ["Q1", "Q2", "Q3"]

        await wait_until(all_applied, 20, "the queued clients to be stored")
