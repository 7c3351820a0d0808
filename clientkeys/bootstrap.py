"""`clientkeys worker`: consume commands until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import asyncio
import signal

from pymongo.errors import PyMongoError

from common.amqp_bus import connect_bus
from common.event_loop import run
from common.settings import Settings, Unreachable
from common.store import connect, database
from worker.health import health_app, serve_health
from worker.service import Worker


async def serve_worker(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # First: a keyring the worker cannot use stops it before it connects to anything.
    keyring = settings.live_keyring()
    client = connect(settings.mongodb_uri, app_name="clientkeys-worker")
    try:
        bus = await connect_bus(settings)
    except Unreachable:
        await client.close()
        raise
    try:
        db = database(client)
        worker = Worker(bus, db, namespace=settings.namespace, prefetch=settings.worker_prefetch,
                        keyring=keyring)
        # The probes answer from the start: not ready until the consumer is attached.
        health = await serve_health(health_app(worker, bus, db), settings.http_host,
                                    settings.worker_http_port)
        try:
            try:
                await worker.start()
            except PyMongoError as exc:
                raise Unreachable("MongoDB", settings.mongodb_uri, exc) from None
            await stop.wait()
            await worker.stop()
        finally:
            await health.cleanup()
    finally:
        await bus.close()
        await client.close()


def run_worker(settings: Settings) -> None:
    run(serve_worker(settings))
