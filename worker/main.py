"""`clientkeys worker`: consume commands until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import asyncio
import signal

from common.amqp_bus import AmqpBus
from common.settings import Settings
from common.store import connect, database
from common.topology import Topology
from worker.service import Worker


async def serve_worker(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = connect(settings.mongodb_uri, app_name="clientkeys-worker")
    bus = await AmqpBus.connect(settings.amqp_url, Topology(settings.namespace),
                                publish_timeout_s=settings.publish_timeout_s)
    try:
        worker = Worker(bus, database(client), namespace=settings.namespace,
                        prefetch=settings.worker_prefetch)
        await worker.start()
        await stop.wait()
        await worker.stop()
    finally:
        await bus.close()
        await client.close()


def run_worker(settings: Settings) -> None:
    asyncio.run(serve_worker(settings))
