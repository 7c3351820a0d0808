"""The answers of `/healthz` and `/readyz`, the same on the gateway and the worker.

`/healthz` says the process is alive (its event loop answers); `/readyz` says
whether it can do its work now, with one named check per dependency, so an
orchestrator routes traffic (or a dashboard points) at the part that is missing.
"""

from __future__ import annotations

from aiohttp import web

from common.json_responses import json_response


async def healthz(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "ok"})


def readiness_answer(checks: dict[str, bool]) -> web.Response:
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not ready",
            "checks": {name: "ok" if ok else "unavailable" for name, ok in checks.items()}}
    return json_response(body, status=200 if ready else 503,
                         headers=None if ready else {"Retry-After": "1"})
