"""No answer of the gateway may be stored by a cache: `Cache-Control: no-store`, errors too.

The admin page and its files are the exception (no data, the same for everyone):
their successful answers keep `no-cache`, revalidated by ETag.
"""

from __future__ import annotations

import pytest

from api.routes import ROUTES, Route
from tests.e2e.conftest import Service, oidc_client

PAGE_ROUTES = {"admin_page", "admin_page_script", "admin_page_style"}


def path_of(route: Route, key: str) -> str:
    return (route.path.replace("{key}", key).replace("{id}", "no-such-operation")
            .replace("{name}.js", "app.js").replace("{name}.css", "clientkeys.css"))


def expected(route: Route, status: int) -> str:
    return "no-cache" if route.name in PAGE_ROUTES and status < 400 else "no-store"


async def answer(service: Service, route: Route, path: str,
                 headers: dict[str, str]) -> tuple[int, str | None]:
    body: dict[str, object] | None = {} if route.body is not None else None
    async with service.http.request(route.method, path, headers=headers, json=body) as response:
        return response.status, response.headers.get("Cache-Control")


async def test_every_route_answers_no_store_with_a_token(service: Service) -> None:
    key = (await service.create(oidc_client()))["key"]
    seen = set()
    for route in ROUTES:
        status, cache_control = await answer(service, route, path_of(route, key),
                                             service.everything)
        seen.add(status // 100)
        assert cache_control == expected(route, status), (route.name, status)
    assert seen >= {2, 4}  # successes and errors were both met


@pytest.mark.parametrize("token", [None, "Bearer wrong"])
async def test_every_refusal_of_a_protected_route_answers_no_store(service: Service,
                                                                   token: str | None) -> None:
    headers = {"Authorization": token} if token else {"Accept": "*/*"}
    for route in (r for r in ROUTES if r.permission is not None):
        status, cache_control = await answer(service, route, path_of(route, "any-key"),
                                             headers)
        assert (status, cache_control) == (401, "no-store"), route.name


async def test_errors_of_no_route_answer_no_store(service: Service) -> None:
    for method, path in (("GET", "/no/such/path"), ("PUT", "/v1/clients"),
                         ("GET", "/ui/nothing.js"), ("GET", "/v1/clients/k/nothing")):
        async with service.http.request(method, path, headers=service.everything) as response:
            assert response.status in (404, 405)
            assert response.headers["Cache-Control"] == "no-store", (method, path)
