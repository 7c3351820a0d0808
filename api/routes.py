"""Every route of the gateway and the permission it needs, in one table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from api import views
from api.principals import CLIENTS_READ, CONFIGURE_SERVER

View = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    view: View
    name: str
    permission: str | None  # None: public (health only)


ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/clients", views.create_client, "create_client", CONFIGURE_SERVER),
    Route("GET", "/v1/clients", views.list_clients_view, "list_clients", CLIENTS_READ),
    Route("GET", "/v1/clients/{key}", views.get_client, "get_client", CLIENTS_READ),
    Route("PATCH", "/v1/clients/{key}", views.update_client, "update_client", CONFIGURE_SERVER),
    Route("DELETE", "/v1/clients/{key}", views.remove_client, "remove_client", CONFIGURE_SERVER),
    Route("POST", "/v1/clients/{key}/approve", views.approve_client, "approve_client",
          CONFIGURE_SERVER),
    Route("POST", "/v1/clients/{key}/disapprove", views.disapprove_client, "disapprove_client",
          CONFIGURE_SERVER),
    Route("GET", "/v1/operations/{id}", views.get_operation_view, "get_operation",
          CLIENTS_READ),
    Route("GET", "/healthz", views.healthz, "healthz", None),
    Route("GET", "/readyz", views.readyz, "readyz", None),
)


def add_routes(app: web.Application) -> dict[str, str]:
    """Register every route; returns route name -> permission for the auth middleware."""
    permissions: dict[str, str] = {}
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.view, name=route.name)
        if route.permission is not None:
            permissions[route.name] = route.permission
    return permissions
