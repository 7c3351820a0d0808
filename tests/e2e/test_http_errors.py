"""Bad requests get a clear RFC 9457 problem and change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Service, oidc_client
from tests.harness import bearer

PROBLEM = "application/problem+json"


async def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json()
    assert body["status"] == status and body["title"]
    return body


async def assert_nothing_stored(service: Service) -> None:
    listed = await (await service.request("GET", "/v1/clients")).json()
    assert listed["total"] == 0


@pytest.mark.parametrize("headers", [{}, bearer("not-a-token"), {"Authorization": "Basic x"}])
async def test_unknown_callers_get_401_with_a_challenge(service: Service,
                                                        headers: dict[str, str]) -> None:
    response = await service.http.get("/v1/clients", headers=headers)
    await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_readers_may_read_but_not_manage(service: Service) -> None:
    created = await service.create(oidc_client())
    assert (await service.request("GET", "/v1/clients", headers=service.reader)).status == 200
    assert (await service.request("GET", f"/v1/clients/{created['key']}",
                                  headers=service.reader)).status == 200
    for method, path in (("POST", "/v1/clients"), ("PATCH", f"/v1/clients/{created['key']}"),
                         ("POST", f"/v1/clients/{created['key']}/approve"),
                         ("DELETE", f"/v1/clients/{created['key']}")):
        response = await service.request(method, path, headers=service.reader,
                                         json=oidc_client())
        body = await assert_problem(response, 403)
        assert body["missing_permission"] == "configure_server"


async def test_body_must_be_json(service: Service) -> None:
    response = await service.request("POST", "/v1/clients", data="name=x",
                                     headers={**service.admin,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    await assert_problem(response, 415)
    response = await service.request("POST", "/v1/clients", data="{not json",
                                     headers={**service.admin, "Content-Type": "application/json"})
    await assert_problem(response, 400)
    response = await service.request("POST", "/v1/clients", json=["a", "list"])
    await assert_problem(response, 400)
    await assert_nothing_stored(service)


async def test_oversized_body_is_refused(service: Service) -> None:
    response = await service.request("POST", "/v1/clients",
                                     json=oidc_client(name="x" * 100_000))
    await assert_problem(response, 413)


async def test_unknown_fields_are_named(service: Service) -> None:
    response = await service.request("POST", "/v1/clients", json=oidc_client(colour="blue"))
    body = await assert_problem(response, 400)
    assert "colour" in body["errors"]
    await assert_nothing_stored(service)


async def test_validation_errors_name_every_field_and_never_echo_the_secret(
        service: Service) -> None:
    response = await service.request("POST", "/v1/clients", json=oidc_client(
        name="", secret="mismatched-secret-1", secret_confirmation="mismatched-secret-2",
        redirect_uris=["http://example.com/cb"], grant_types=["refresh_token"]))
    body = await assert_problem(response, 400)
    assert set(body["errors"]) == {"name", "secret_confirmation", "redirect_uris",
                                   "grant_types"}
    text = await response.text()
    assert "mismatched-secret-1" not in text and "mismatched-secret-2" not in text
    await assert_nothing_stored(service)


async def test_secret_or_generate_secret_is_required(service: Service) -> None:
    body = oidc_client()
    del body["secret"], body["secret_confirmation"]
    problem = await assert_problem(await service.request("POST", "/v1/clients", json=body), 400)
    assert "secret" in problem["errors"]
    both = oidc_client(generate_secret=True)
    problem = await assert_problem(await service.request("POST", "/v1/clients", json=both), 400)
    assert "generate_secret" in problem["errors"]


async def test_unknown_client_and_operation_are_404(service: Service) -> None:
    for method, path in (("GET", "/v1/clients/nope"), ("POST", "/v1/clients/nope/approve"),
                         ("POST", "/v1/clients/nope/disapprove"),
                         ("DELETE", "/v1/clients/nope"), ("GET", "/v1/operations/nope")):
        await assert_problem(await service.request(method, path), 404)
    await assert_problem(await service.request("PATCH", "/v1/clients/nope",
                                               json={"name": "x"}), 404)


async def test_empty_edit_is_refused(service: Service) -> None:
    created = await service.create(oidc_client())
    await assert_problem(await service.request("PATCH", f"/v1/clients/{created['key']}",
                                               json={}), 400)


async def test_unknown_route_and_method_are_problems(service: Service) -> None:
    await assert_problem(await service.request("GET", "/v2/nothing"), 404)
    response = await service.request("PUT", "/v1/clients")
    await assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


async def test_broker_unavailable_gives_503_and_no_client(service: Service) -> None:
    from api import keys

    await service.http.app[keys.BUS].close()
    response = await service.request("POST", "/v1/clients", json=oidc_client())
    await assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    await assert_nothing_stored(service)
    operations = await service.http.app[keys.DB]["operations"].find({}).to_list()
    assert [o["status"] for o in operations] == ["failed"]


async def test_absurdly_nested_json_is_a_400_not_a_crash(service: Service) -> None:
    response = await service.request("POST", "/v1/clients", data="[" * 50_000,
                                     headers={**service.admin, "Content-Type": "application/json"})
    await assert_problem(response, 400)


async def test_readiness_follows_the_broker(service: Service) -> None:
    from api import keys

    ready = await service.http.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"broker": "ok", "database": "ok",
                                                "read_model": "ok", "consumers": "ok"}
    await service.http.app[keys.BUS].close()
    not_ready = await service.http.get("/readyz")
    assert not_ready.status == 503
    assert (await not_ready.json())["checks"]["broker"] == "unavailable"
    assert (await service.http.get("/healthz")).status == 200
    reads = await service.request("GET", "/v1/clients")  # reads need no broker
    assert reads.status == 200
