"""Shared test fixtures: a real MongoDB-wire server and the machine's RabbitMQ.

With `CLIENTKEYS_TEST_MONGODB_URI` unset, one SecantusDB server is started for
the run (a separate process, on a free port, in a temporary folder). Every test
gets its own database and its own namespace (queues and exchanges), removed
afterwards, so tests and runs never see each other's messages.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from clientkeys.devdb import DevDatabase
from common.keyring import new_key_entry
from common.settings import Settings
from tests.stuck_tasks import note_loop, watched

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    done = watched(f"setup of {item.nodeid}")
    try:
        return (yield)
    finally:
        done()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    done = watched(item.nodeid)
    try:
        return (yield)
    finally:
        done()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    done = watched(f"teardown of {item.nodeid}")
    try:
        return (yield)
    finally:
        done()


@pytest.fixture(autouse=True)
async def _loop_noted() -> None:
    """Which loop a hung test waits in (tests.stuck_tasks)."""
    note_loop(asyncio.get_running_loop())


@pytest.fixture(scope="session")
def mongodb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mongodb://host:port` of the server the run uses (no database name; maybe options
    after `/?`)."""
    given = os.environ.get("CLIENTKEYS_TEST_MONGODB_URI")
    if given:
        yield given.rstrip("/")
        return
    folder = tmp_path_factory.mktemp("secantus")
    server = DevDatabase(folder / "data", folder / "secantusd.log")
    try:
        yield server.uri("")  # with its options (clientkeys.devdb)
    finally:
        server.stop()


@pytest.fixture
def namespace() -> str:
    return f"ckt-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mongodb_uri(mongodb_server: str, namespace: str) -> Iterator[str]:
    database = namespace.replace("-", "_")
    server, _, options = mongodb_server.partition("?")
    yield f"{server.rstrip('/')}/{database}" + (f"?{options}" if options else "")
    client: MongoClient[dict[str, object]]
    with MongoClient(mongodb_server, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(database)


@pytest.fixture
def amqp_url() -> str:
    return os.environ.get("CLIENTKEYS_AMQP_URL", DEFAULT_AMQP_URL)


@pytest.fixture
def settings(tmp_path: Path, namespace: str, mongodb_uri: str, amqp_url: str) -> Settings:
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text("[]")
    return Settings(amqp_url=amqp_url, mongodb_uri=mongodb_uri, namespace=namespace,
                    tokens_file=tokens_file, encryption_keys=new_key_entry("test1"),
                    sync_wait_s=5.0, publish_timeout_s=5.0,
                    # Tests send bad tokens on purpose; the limiter has tests of its own.
                    auth_failures_per_minute=10_000)


@pytest.fixture
async def topology_cleanup(settings: Settings) -> AsyncIterator[None]:
    """Delete the test's queues and exchanges from RabbitMQ afterwards."""
    yield
    from common.amqp_bus import AmqpBus
    from common.topology import Topology

    bus = await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace))
    try:
        await bus.delete_topology()
    finally:
        await bus.close()
