"""The one place the gateway and the worker are wired: production, dev mode and tests alike.

`create_gateway` and `create_worker` are async contexts that build the real
adapters (broker connection, MongoDB client) unless they are handed some, and
close only what they built. `clientkeys gateway` and `clientkeys worker`
(`run_gateway`, `run_worker`), `clientkeys dev` and `tests/harness.py` all go
through them, so a process is put together the same way wherever it runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from api.app import create_app
from api.http_server import SHUTDOWN_TIMEOUT_S, GatewayRunner, run_gateway_server
from api.verify.heap import FrozenHeap
from common.amqp_bus import connect_bus
from common.bus import MessageBus
from common.event_loop import new_event_loop, run
from common.settings import Settings, Unreachable
from common.store import Document, connect, database, ensure_indexes
from worker.health import health_app, serve_health
from worker.pending_sweep import PendingSweep
from worker.repository import ClientStore, MongoClientStore
from worker.service import Worker
from worker.tombstone_purge import TombstonePurge
from worker.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)


@asynccontextmanager
async def create_gateway(settings: Settings, *, bus: MessageBus | None = None,
                         registry: CollectorRegistry | None = None,
                         handle_signals: bool = False, heap: FrozenHeap | None = None
                         ) -> AsyncIterator[GatewayRunner]:
    """The gateway's runner, set up (its cleanup contexts have connected); the caller
    adds its sites. A `bus` handed in is shared (dev mode) and left open; `heap` only
    where the gateway has its process to itself (see `api.verify.heap`)."""
    # access_log=None: the observe middleware logs each request, without its query.
    runner = GatewayRunner(create_app(settings, bus=bus, registry=registry, heap=heap),
                           handle_signals=handle_signals, access_log=None,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        yield runner
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class WorkerParts:
    """A worker and what it was built with; `db` is None when a store was handed in."""

    worker: Worker
    bus: MessageBus
    db: AsyncDatabase[Document] | None


@asynccontextmanager
async def create_worker(settings: Settings, bus: MessageBus | None = None,
                        store: ClientStore | None = None, *,
                        metrics: WorkerMetrics | None = None,
                        app_name: str = "clientkeys-worker") -> AsyncIterator[WorkerParts]:
    """A worker, not yet consuming: the caller starts it; it is stopped on the way out.

    Without `bus` it connects to RabbitMQ; without `store` it connects to MongoDB
    and makes the indexes. Unreachable (one clear line) if either is not there.
    """
    # First: a keyring the worker cannot use stops it before it connects to anything.
    keyring = settings.live_keyring()
    async with AsyncExitStack() as stack:
        db: AsyncDatabase[Document] | None = None
        if store is None:
            client = connect(settings.mongodb_uri, app_name=app_name)
            stack.push_async_callback(client.close)
            db = database(client)
            try:
                await ensure_indexes(db, operations_retention_h=settings.operations_retention_h)
            except PyMongoError as exc:
                raise Unreachable("MongoDB", settings.mongodb_uri, exc) from None
            store = MongoClientStore(db)
            purge: TombstonePurge | None = TombstonePurge(store)
        else:
            purge = None
        if bus is None:
            owned = await connect_bus(settings)
            stack.push_async_callback(owned.close)
            bus = owned
        worker = Worker(bus, store, namespace=settings.namespace,
                        prefetch=settings.worker_prefetch, keyring=keyring, metrics=metrics,
                        operations_kept=timedelta(hours=settings.operations_retention_h))
        worker.tombstone_purge = purge
        if db is not None and settings.pending_registration_ttl_days:
            worker.pending_sweep = PendingSweep(db, store, worker.relay, keyring,
                                                settings.pending_registration_ttl_days)
        try:
            yield WorkerParts(worker, bus, db)
        finally:
            if worker.consuming:
                await worker.stop()


async def serve_worker(settings: Settings) -> None:
    """`clientkeys worker`: consume commands until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with create_worker(settings) as parts:
        assert parts.db is not None  # it made its own store
        # The probes answer before the consumer is attached, and say not ready until it is.
        health = await serve_health(health_app(parts.worker, parts.bus, parts.db),
                                    settings.http_host, settings.worker_http_port)
        try:
            await parts.worker.start()
            await stop.wait()
            await parts.worker.stop()
        finally:
            await health.cleanup()


def run_worker(settings: Settings) -> None:
    run(serve_worker(settings))


async def _serve_gateway(settings: Settings) -> None:
    async with create_gateway(settings, handle_signals=True, heap=FrozenHeap()) as runner:
        await web.TCPSite(runner, settings.http_host, settings.http_port).start()
        log.info("gateway listening on http://%s:%d", settings.http_host, settings.http_port)
        await asyncio.Event().wait()  # until SIGTERM/SIGINT raise GracefulExit


def run_gateway(settings: Settings) -> None:
    """`clientkeys gateway`: serve until SIGTERM or SIGINT; stop accepting connections,
    let requests in progress finish (up to a shutdown timeout), then clean up."""
    run_gateway_server(_serve_gateway(settings), new_event_loop())
