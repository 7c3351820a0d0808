"""Every management action lands in the audit trail: applied, rejected or refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.routes import ROUTES
from tests.e2e.conftest import Service, oidc_client


async def page(service: Service, path: str, **params: str) -> dict[str, Any]:
    response = await service.request("GET", path, headers=service.reader, params=params)
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def test_a_client_history_tells_who_did_what_and_from_where(service: Service) -> None:
    traced = {**service.admin, "X-Request-ID": "req-audit-1"}
    created = await service.create(oidc_client())
    key = created["key"]
    response = await service.request("PATCH", f"/v1/clients/{key}", headers=traced, json={
        "name": "Renamed", "secret": "another-secret-123", "secret_confirmation":
        "another-secret-123"})
    assert response.status == 200
    for action in ("approve", "disapprove"):
        assert (await service.request("POST", f"/v1/clients/{key}/{action}")).status == 200
    refused = await service.request("POST", f"/v1/clients/{key}/approve",
                                    headers=service.reader)
    assert refused.status == 403
    assert (await service.request("DELETE", f"/v1/clients/{key}")).status == 204

    history = (await page(service, f"/v1/clients/{key}/history"))["items"]
    assert [(e["action"], e["actor"], e["outcome"]) for e in history] == [
        ("remove_client", "alice", "applied"),
        ("approve_client", "dashboard", "refused"),
        ("disapprove_client", "alice", "applied"),
        ("approve_client", "alice", "applied"),
        ("update_client", "alice", "applied"),
        ("create_client", "alice", "applied"),
    ]
    update, create = history[4], history[5]
    assert update["fields"] == ["name", "secret"]
    assert update["request_id"] == "req-audit-1"
    assert create["fields"] == ["type", "name", "secret", "redirect_uris", "grant_types",
                                "response_types"]
    assert all(e["client_key"] == key and e["remote_addr"] == "127.0.0.1" for e in history)
    assert history[1]["status"] == 403 and history[1]["operation_id"] is None
    assert all(e["operation_id"] for i, e in enumerate(history) if i != 1)
    times = [datetime.fromisoformat(e["at"]) for e in history]
    assert times == sorted(times, reverse=True)


async def test_rejections_before_a_command_is_queued_are_recorded(service: Service) -> None:
    mismatch = oidc_client(secret_confirmation="not-the-same-secret")
    response = await service.request("POST", "/v1/clients", json=mismatch)
    assert response.status == 400
    missing = await service.request("POST", "/v1/clients/no-such-key/approve")
    assert missing.status == 404
    entries = (await page(service, "/v1/audit", actor="alice"))["items"]
    assert [(e["action"], e["outcome"], e["status"], e["client_key"]) for e in entries] == [
        ("approve_client", "rejected", 404, "no-such-key"),
        ("create_client", "rejected", 400, None),
    ]
    assert entries[1]["fields"] == ["type", "name", "secret", "redirect_uris", "grant_types",
                                    "response_types"]
    # Reads and unauthenticated calls are not actions of anyone.
    await service.request("GET", "/v1/clients")
    await service.request("POST", "/v1/clients", headers={"Authorization": "Bearer wrong"},
                          json=oidc_client())
    assert len((await page(service, "/v1/audit"))["items"]) == 2


async def test_filters_time_range_and_cursor_paging(service: Service) -> None:
    start = datetime.now().astimezone() - timedelta(seconds=1)
    keys = [(await service.create(oidc_client(f"Client {i}")))["key"] for i in range(3)]
    await service.request("POST", f"/v1/clients/{keys[0]}/approve", headers=service.reader)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = await page(service, "/v1/audit", **params)
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4
    by_action = await page(service, "/v1/audit", action="approve_client")
    assert [e["actor"] for e in by_action["items"]] == ["dashboard"]
    by_key = await page(service, "/v1/audit", client_key=keys[1])
    assert [e["action"] for e in by_key["items"]] == ["create_client"]
    later = (datetime.now().astimezone() + timedelta(minutes=1)).isoformat()
    assert len((await page(service, "/v1/audit", since=start.isoformat()))["items"]) == 4
    assert (await page(service, "/v1/audit", since=later))["items"] == []
    assert len((await page(service, "/v1/audit", until=later))["items"]) == 4


async def test_bad_filters_are_refused_clearly(service: Service) -> None:
    for params in ({"cursor": "bm90LWEtY3Vyc29y"}, {"since": "yesterday"},
                   {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                   {"limit": "0"}, {"colour": "red"}):
        response = await service.request("GET", "/v1/audit", params=params)
        assert response.status == 400, params
        assert "errors" in await response.json()
    response = await service.request("GET", "/v1/clients/never-was/history")
    assert response.status == 404


def test_no_route_changes_or_deletes_an_audit_entry() -> None:
    audit_paths = [r for r in ROUTES if "audit" in r.path or r.path.endswith("/history")]
    assert audit_paths and all(r.method == "GET" for r in audit_paths)
