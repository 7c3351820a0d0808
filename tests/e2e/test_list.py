"""The client keys data table: filters, sort and cursor paging."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Service, oauth1_client, oidc_client


async def page(service: Service, query: str) -> dict[str, Any]:
    response = await service.request("GET", f"/v1/clients?{query}")
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def all_pages(service: Service, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = await page(service, query + (f"&cursor={cursor}" if cursor else ""))
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def seeded(service: Service) -> list[dict[str, Any]]:
    names = ["delta", "Alpha", "charlie", "Bravo", "echo", "alpha two", "Foxtrot"]
    created = []
    for i, name in enumerate(names):
        body = oauth1_client(name) if i % 2 else oidc_client(name)
        created.append(await service.create(body))
    for client in created[:3]:
        await service.request("POST", f"/v1/clients/{client['key']}/approve")
    await service.request("POST", f"/v1/clients/{created[3]['key']}/disapprove")
    return created


async def test_default_is_newest_first(service: Service,
                                       seeded: list[dict[str, Any]]) -> None:
    body = await page(service, "")
    assert body["total"] == 7
    assert [c["key"] for c in body["items"]] == [c["key"] for c in reversed(seeded)]
    assert body["next_cursor"] is None


@pytest.mark.parametrize(("query", "expected"), [
    ("type=oauth1", {"Alpha", "Bravo", "alpha two"}),
    ("type=oidc", {"delta", "charlie", "echo", "Foxtrot"}),
    ("status=approved", {"delta", "Alpha", "charlie"}),
    ("status=disapproved", {"Bravo"}),
    ("status=pending", {"echo", "alpha two", "Foxtrot"}),
    ("type=oidc&status=approved", {"delta", "charlie"}),
    ("q=ALPHA", {"Alpha", "alpha two"}),
    ("q=a.p", set()),  # the search is a plain substring, not a pattern
])
async def test_filters(service: Service, seeded: list[dict[str, Any]], query: str,
                       expected: set[str]) -> None:
    body = await page(service, query)
    assert {c["name"] for c in body["items"]} == expected
    assert body["total"] == len(expected)


async def test_sort_by_name_ignores_case(service: Service,
                                         seeded: list[dict[str, Any]]) -> None:
    ascending = [c["name"] for c in (await page(service, "sort=name"))["items"]]
    assert ascending == ["Alpha", "alpha two", "Bravo", "charlie", "delta", "echo", "Foxtrot"]
    descending = [c["name"] for c in (await page(service, "sort=-name"))["items"]]
    assert descending == list(reversed(ascending))
    oldest = [c["key"] for c in (await page(service, "sort=created_at"))["items"]]
    assert oldest == [c["key"] for c in seeded]


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "name", "-name", "status",
                                  "-status"])
async def test_paging_visits_every_client_once(service: Service, seeded: list[dict[str, Any]],
                                               sort: str) -> None:
    whole = [c["key"] for c in (await page(service, f"sort={sort}"))["items"]]
    paged = await all_pages(service, f"sort={sort}&limit=2")
    assert [c["key"] for c in paged] == whole
    first = await page(service, f"sort={sort}&limit=2")
    assert first["total"] == 7 and len(first["items"]) == 2


async def test_paging_with_a_filter(service: Service, seeded: list[dict[str, Any]]) -> None:
    paged = await all_pages(service, "status=pending&limit=1")
    assert {c["name"] for c in paged} == {"echo", "alpha two", "Foxtrot"}


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "sort=key",
                                   "type=saml", "status=gone", "cursor=garbage",
                                   "unknown=1", "q="])
async def test_bad_queries_are_400(service: Service, query: str) -> None:
    response = await service.request("GET", f"/v1/clients?{query}")
    assert response.status == 400
    assert response.content_type == "application/problem+json"


async def test_cursor_of_another_sort_is_refused(service: Service,
                                                 seeded: list[dict[str, Any]]) -> None:
    cursor = (await page(service, "sort=name&limit=2"))["next_cursor"]
    response = await service.request("GET", f"/v1/clients?sort=-created_at&cursor={cursor}")
    assert response.status == 400
