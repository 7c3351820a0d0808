"""No route is open by accident: the route table and the live router, checked.

Only health, metrics, the API documents and the admin page (which holds no
data: it signs in with a token and calls the API like any client) may be public. Every other route,
whether it is in `api.routes.ROUTES` or was added to the router some other
way, must name a permission; called without a token it answers 401 with a
Bearer challenge, and with a token that lacks its permission 403 naming it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from api import keys
from api.auth.principals import CLIENTS_VERIFY, PERMISSIONS, SIGNED_IN, Principal
from api.routes import ROUTES
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, Service, start_service
from tests.e2e.test_http_errors import assert_problem
from tests.harness import add_token, bearer

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json",
                          "/", "/ui/{name}.js", "/ui/{name}.css",
                          # Self-registration checks its own tokens (api.registration.access).
                          "/oauth/register", "/oauth/register/{client_id}",
                          "/oauth1/consumer-key-requests"})
_PARAMETER = re.compile(r"\{[^}]+\}")


@dataclasses.dataclass(frozen=True)
class LiveRoute:
    method: str
    path: str
    name: str | None
    permission: str | None


def live_routes(app: web.Application) -> list[LiveRoute]:
    """Every route the app's router serves, with the permission the auth middleware uses."""
    permissions = app[keys.ROUTE_PERMISSIONS]
    return [LiveRoute(route.method, route.resource.canonical if route.resource else "?",
                      route.name, permissions.get(route.name or ""))
            for route in app.router.routes()]


def _lacking(permission: str) -> frozenset[str]:
    """Every known permission that does not grant `permission`."""
    return frozenset(p for p in PERMISSIONS
                     if not Principal("probe", frozenset({p}), "token:probe").allows(permission))


def test_only_health_metrics_and_documents_are_public_in_the_table() -> None:
    public = [(r.method, r.path) for r in ROUTES if r.permission is None]
    assert {path for _, path in public} <= PUBLIC_PATHS, public
    assert len({r.name for r in ROUTES}) == len(ROUTES), "route names must be unique"


# What a token can hold: every route's permission but SIGNED_IN, which any token has.
GRANTABLE = {r.permission for r in ROUTES if r.permission is not None
             and r.permission != SIGNED_IN} | set(PERMISSIONS)


def test_each_permission_has_a_token_that_lacks_it() -> None:
    for permission in GRANTABLE:
        assert _lacking(permission), permission


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Every protected route is called once without a token: more than the default
    # number of failed sign-ins an address may make before it gets 429.
    return dataclasses.replace(settings, auth_failures_per_minute=10_000)


@pytest.fixture
def lacking_tokens(settings: Settings) -> dict[str, dict[str, str]]:
    """permission -> Authorization header of a token holding everything but it."""
    return {permission: bearer(add_token(settings, f"lacks-{permission}",
                                         *sorted(_lacking(permission))))
            for permission in GRANTABLE}


@pytest.fixture
async def service(lacking_tokens: dict[str, dict[str, str]], settings: Settings,
                  aiohttp_client: AiohttpClient, topology_cleanup: None
                  ) -> AsyncIterator[Service]:
    # No workers: every answer here comes from the gateway's auth middleware.
    async for running in start_service(settings, aiohttp_client, 0):
        yield running


async def test_no_route_of_the_live_app_is_public_by_accident(service: Service) -> None:
    routes = live_routes(service.http.app)
    assert {(r.method, r.path) for r in routes} >= {(r.method, r.path) for r in ROUTES}
    unprotected = [r for r in routes if r.permission is None and r.path not in PUBLIC_PATHS]
    assert not unprotected, f"routes without a permission: {unprotected}"


async def test_every_protected_route_wants_a_token_with_its_permission(
        service: Service, lacking_tokens: dict[str, dict[str, str]]) -> None:
    protected = [r for r in live_routes(service.http.app) if r.permission is not None]
    assert protected
    for route in protected:
        assert route.permission is not None
        path = _PARAMETER.sub("x", route.path)
        kwargs: dict[str, Any] = {"json": {}} if route.method in ("POST", "PATCH", "PUT") \
            else {}

        anonymous = await service.http.request(route.method, path, headers={}, **kwargs)
        await assert_problem(anonymous, 401)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer"), route
        if route.permission == SIGNED_IN:
            continue  # any valid token may: see the test below

        refused = await service.http.request(route.method, path, headers=lacking_tokens.get(
            route.permission, bearer("no-such-token")), **kwargs)
        problem = await assert_problem(refused, 403)
        assert problem["missing_permission"] == route.permission, route
        assert route.permission in problem["detail"], route


async def test_a_signed_in_route_takes_any_valid_token_and_no_other(
        service: Service, settings: Settings) -> None:
    signed_in = [r for r in ROUTES if r.permission == SIGNED_IN]
    assert signed_in
    least = bearer(add_token(settings, "verifier-only", CLIENTS_VERIFY))
    for route in signed_in:
        assert (await service.http.request(route.method, route.path, headers=least)).status \
            == 200, route
        assert (await service.http.request(route.method, route.path,
                                           headers=bearer("no-such-token"))).status == 401, route
