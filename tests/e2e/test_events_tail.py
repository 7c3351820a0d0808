"""`clientkeys events tail` as a real process beside the running service."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity
from aiormq.exceptions import ChannelLockedResource

from clientkeys.devdb import free_port
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.harness import event_tap
from tests.processes import CLI, REPO, clean_env

READY = "clientkeys: tailing "
WAIT_S = 30


def tail_env(service: Service, **extra: str) -> dict[str, str]:
    return clean_env(CLIENTKEYS_AMQP_URL=service.settings.amqp_url,
                     CLIENTKEYS_NAMESPACE=service.settings.namespace,
                     PYTHONPATH=str(REPO), **extra)


@asynccontextmanager
async def running_tail(service: Service, *args: str) -> AsyncIterator[tuple[Process, str]]:
    """The tail process, once it is bound, and the name of its queue."""
    process = await asyncio.create_subprocess_exec(
        *CLI, "events", "tail", *args, env=tail_env(service),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        ready = (await asyncio.wait_for(process.stderr.readline(), WAIT_S)).decode()
        assert ready.startswith(READY), ready
        yield process, ready.split(" on queue ", 1)[1].split(";", 1)[0]
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), WAIT_S)


async def next_lines(process: Process, count: int) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while len(lines) < count:
        line = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
        assert line, f"the tail ended after {lines}"
        lines.append(line.decode().rstrip("\n"))
    return lines


async def stop(process: Process, signal_number: int) -> tuple[int, str, str]:
    process.send_signal(signal_number)
    out, err = await asyncio.wait_for(process.communicate(), WAIT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def queue_exists(service: Service, name: str) -> bool:
    """Whether the queue is there (another connection's exclusive queue is, but locked)."""
    connection = await aio_pika.connect(service.settings.amqp_url)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            return False
        except ChannelLockedResource:
            return True
        return True
    finally:
        await connection.close()


def expected_line(event: dict[str, Any]) -> list[str]:
    return [event["time"], event["type"].rsplit(".", 1)[1], event["subject"],
            event["data"]["actor"]]


async def test_tail_prints_a_line_per_bound_event_and_leaves_no_queue(
        service: Service) -> None:
    async with event_tap(service.settings) as tap, running_tail(
            service, "--bind", "client.*.approved", "--bind", "client.oauth1.#") as (tail, queue):
        oidc = (await service.create(oidc_client()))["key"]
        for action in ("approve", "disapprove", "approve"):
            response = await service.request("POST", f"/v1/clients/{oidc}/{action}")
            assert response.status == 200, await response.text()
        oauth1 = (await service.create(oauth1_client()))["key"]
        lines = [line.split() for line in await next_lines(tail, 3)]
        code, rest, _ = await stop(tail, signal.SIGTERM)
        events = await tap.wait_for(5)
    assert code == 0
    assert rest == ""  # nothing else was bound: no created or disapproved line for oidc
    wanted = [e for e in events if e["type"].endswith(".approved") or e["subject"] == oauth1]
    assert sorted(lines) == sorted(expected_line(e) for e in wanted)
    assert [line[1] for line in lines if line[2] == oidc] == ["approved", "approved"]
    assert {line[3] for line in lines} == {"alice"}
    assert not await queue_exists(service, queue)


async def test_tail_json_prints_each_event_whole_and_stops_on_ctrl_c(
        service: Service) -> None:
    async with event_tap(service.settings) as tap, running_tail(service, "--json") as (
            tail, queue):
        assert await queue_exists(service, queue)
        await service.create(oidc_client())
        [line] = await next_lines(tail, 1)
        code, rest, err = await stop(tail, signal.SIGINT)
        [event] = await tap.wait_for(1)
    assert (code, rest) == (0, ""), err
    assert json.loads(line) == event
    assert not await queue_exists(service, queue)


@pytest.mark.parametrize("url", [
    "amqp://guest:hunter2pw@127.0.0.1:{port}/",
    "amqp://guest:hunter2pw@127.0.0.1:not-a-port/",
])
def test_a_bad_broker_url_is_one_line_without_the_password(url: str) -> None:
    env = clean_env(CLIENTKEYS_AMQP_URL=url.format(port=free_port()), PYTHONPATH=str(REPO))
    result = subprocess.run([*CLI, "events", "tail"], env=env, text=True, capture_output=True,
                            timeout=WAIT_S)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach RabbitMQ" in lines[0]
    assert "hunter2pw" not in result.stderr


def test_an_unknown_namespace_is_one_line(amqp_url: str) -> None:
    env = clean_env(CLIENTKEYS_AMQP_URL=amqp_url, CLIENTKEYS_NAMESPACE="no-such-namespace",
                    PYTHONPATH=str(REPO))
    result = subprocess.run([*CLI, "events", "tail"], env=env, text=True, capture_output=True,
                            timeout=WAIT_S)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"clientkeys: RabbitMQ at {amqp_url.replace(':guest@', ':***@')} has no exchange "
        "'no-such-namespace.events': is CLIENTKEYS_NAMESPACE right, and has a gateway or "
        "worker of it started once?"]
