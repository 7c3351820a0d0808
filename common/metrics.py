"""Prometheus metrics: each process has its own registry, served at `/metrics`.

A registry per process (not prometheus-client's global one) keeps importing a
module free of side effects and lets a test run a gateway and workers in one
process without their figures mixing. `clientkeys dev` passes one registry to
both halves, so its single `/metrics` shows everything.

The gateway's figures are in `api.gateway_metrics`, the worker's in
`worker.worker_metrics`; both use the bucket bounds below.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Request and command latencies: 1 ms to 10 s, denser where answers normally fall.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)

REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)


def new_registry() -> CollectorRegistry:
    """A registry with the process's own figures (memory, CPU, open files, Python)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


async def metrics_view(request: web.Request) -> web.StreamResponse:
    """The registry in the Prometheus text format."""
    body = generate_latest(request.app[REGISTRY_KEY])
    response = web.Response(body=body)
    # aiohttp refuses a charset inside content_type=; set the header whole.
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
