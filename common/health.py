"""The answers of `/healthz` and `/readyz`, the same on the gateway and the worker.

`/healthz` says the process is alive (its event loop answers); `/readyz` says
whether it can do its work now, with one named check per dependency, so an
orchestrator routes traffic (or a dashboard points) at the part that is missing.
"""

from __future__ import annotations

import json

from aiohttp import web


async def healthz(request: web.Request) -> web.StreamResponse:
    return _json({"status": "ok"}, 200)


def readiness_answer(checks: dict[str, bool]) -> web.Response:
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not ready",
            "checks": {name: "ok" if ok else "unavailable" for name, ok in checks.items()}}
    return _json(body, 200 if ready else 503, None if ready else {"Retry-After": "1"})


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=headers)
