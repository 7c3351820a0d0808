"""The worker's own small HTTP port: `/healthz`, `/readyz` and `/metrics`.

A worker serves no API; this port is for the orchestrator's probes and for
Prometheus. Ready means: the broker connection and its channels are open, the
database answers, and this worker's consumer is attached to the commands queue.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from common.bus import MessageBus
from common.health import healthz, readiness_answer
from common.metrics import REGISTRY_KEY, metrics_view
from common.settings import SettingsError
from common.store import Document, database_reachable
from worker.service import Worker

log = logging.getLogger(__name__)

_WORKER = web.AppKey("worker", Worker)
_BUS = web.AppKey("bus", MessageBus)
_DB = web.AppKey("db", AsyncDatabase[Document])


async def _readyz(request: web.Request) -> web.StreamResponse:
    app = request.app
    bus = app[_BUS]
    return readiness_answer({
        "broker": bus.is_ready(),
        "database": await database_reachable(app[_DB]),
        "consumer": app[_WORKER].consuming and bus.consumers_attached(),
    })


def health_app(worker: Worker, bus: MessageBus, db: AsyncDatabase[Document]) -> web.Application:
    app = web.Application()
    app[_WORKER], app[_BUS], app[_DB] = worker, bus, db
    app[REGISTRY_KEY] = worker.metrics.registry
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


async def serve_health(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans the runner up. SettingsError if the port is taken."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SettingsError(f"the worker's health port {host}:{port} cannot be used "
                            f"({exc.strerror}); set CLIENTKEYS_WORKER_HTTP_PORT") from None
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("worker health and metrics on http://%s:%d", host, bound,
             extra={"health_port": bound})
    return runner
