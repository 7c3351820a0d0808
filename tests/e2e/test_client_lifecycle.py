"""A client's whole life through the HTTP API, with the events it causes."""

from __future__ import annotations

import json

from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.harness import event_tap

SECRET = "s3cret-value-for-tests"
PUBLIC_FIELDS = {"key", "type", "name", "status", "redirect_uris", "grant_types",
                 "response_types", "created_at", "updated_at", "status_changed_at", "version",
                 "secret_rotated_at", "previous_secrets", "token_endpoint_auth_method", "scope",
                 "require_pkce", "post_logout_redirect_uris", "client_uri", "logo_uri",
                 "policy_uri", "tos_uri", "contacts", "jwks", "jwks_uri",
                 "client_secret_issued_at", "client_secret_expires_at",
                 "client_secret_last_used_at", "origin"}


async def test_create_returns_the_client_and_where_it_lives(service: Service) -> None:
    response = await service.request("POST", "/v1/clients", json=oidc_client(
        response_types=["id_token code"]))
    body = await response.json()
    assert response.status == 201
    assert response.headers["Location"] == f"/v1/clients/{body['key']}"
    assert set(body) == PUBLIC_FIELDS | {"warnings"}
    assert body["status"] == "pending"
    assert body["version"] == 1
    assert body["response_types"] == ["code id_token"]
    assert len(body["key"]) >= 22
    assert SECRET not in json.dumps(body)

    fetched = await service.request("GET", body["key"] and f"/v1/clients/{body['key']}")
    assert fetched.status == 200
    assert await fetched.json() == {k: v for k, v in body.items() if k != "warnings"}


async def test_every_type_can_be_created(service: Service) -> None:
    oauth1 = await service.create(oauth1_client())
    oauth2 = await service.create(oidc_client(type="oauth2", response_types=["code"]))
    oidc = await service.create(oidc_client())
    assert [c["type"] for c in (oauth1, oauth2, oidc)] == ["oauth1", "oauth2", "oidc"]
    assert oauth1["redirect_uris"] == oauth1["grant_types"] == oauth1["response_types"] == []
    assert len({oauth1["key"], oauth2["key"], oidc["key"]}) == 3


async def test_generated_secret_is_shown_once(service: Service) -> None:
    created = await service.create({"type": "oauth1", "name": "Generated",
                                    "generate_secret": True})
    secret = created["secret"]
    assert len(secret) >= 43
    fetched = await (await service.request("GET", f"/v1/clients/{created['key']}")).json()
    listed = await (await service.request("GET", "/v1/clients")).text()
    assert "secret" not in fetched
    assert secret not in listed
    assert secret not in json.dumps(fetched)


async def test_discouraged_choices_are_accepted_with_warnings(service: Service) -> None:
    created = await service.create(oidc_client(
        grant_types=["authorization_code", "password"],
        response_types=["code", "id_token token"]))
    assert len(created["warnings"]) == 2
    assert all("RFC 9700" in w for w in created["warnings"])


async def test_approve_disapprove_and_their_events(service: Service) -> None:
    async with event_tap(service.settings) as tap:
        created = await service.create(oidc_client())
        key = created["key"]
        approved = await service.request("POST", f"/v1/clients/{key}/approve")
        assert approved.status == 200
        body = await approved.json()
        assert body["status"] == "approved"
        assert body["version"] == 2
        assert body["status_changed_at"] >= created["status_changed_at"]

        again = await service.request("POST", f"/v1/clients/{key}/approve")
        assert again.status == 200
        assert (await again.json())["version"] == 2  # nothing changed

        disapproved = await service.request("POST", f"/v1/clients/{key}/disapprove")
        assert (await disapproved.json())["status"] == "disapproved"
        reapproved = await service.request("POST", f"/v1/clients/{key}/approve")
        assert (await reapproved.json())["status"] == "approved"

        events = await tap.wait_for(4)
    assert [m.routing_key for m in tap.messages] == [
        "client.oidc.created", "client.oidc.approved", "client.oidc.disapproved",
        "client.oidc.approved"]
    assert [e["data"]["previous_status"] for e in events[1:]] == [
        "pending", "approved", "disapproved"]
    assert all(e["subject"] == key and e["specversion"] == "1.0" for e in events)
    assert all(e["data"]["actor"] == "alice" for e in events)
    assert all(m.message_id == e["id"] for m, e in zip(tap.messages, events, strict=True))
    assert all(m.content_type == "application/cloudevents+json" for m in tap.messages)
    assert all(m.delivery_mode == 2 for m in tap.messages)
    assert all(SECRET.encode() not in m.body for m in tap.messages)


async def test_disapprove_from_pending(service: Service) -> None:
    created = await service.create(oauth1_client())
    response = await service.request("POST", f"/v1/clients/{created['key']}/disapprove")
    assert (await response.json())["status"] == "disapproved"


async def test_edit_name_secret_and_redirect_uris(service: Service) -> None:
    async with event_tap(service.settings) as tap:
        created = await service.create(oidc_client())
        response = await service.request("PATCH", f"/v1/clients/{created['key']}", json={
            "name": "  Portal (renamed)  ",
            "secret": "a-brand-new-secret", "secret_confirmation": "a-brand-new-secret",
            "redirect_uris": ["https://portal.example.com/cb", "https://portal.example.com/cb2"],
        })
        body = await response.json()
        assert response.status == 200, body
        events = await tap.wait_for(2)
    assert body["name"] == "Portal (renamed)"
    assert body["redirect_uris"][1] == "https://portal.example.com/cb2"
    assert body["version"] == 2
    assert body["key"] == created["key"] and body["created_at"] == created["created_at"]
    assert events[1]["type"] == "clientkeys.client.updated"
    assert sorted(events[1]["data"]["changed_fields"]) == ["name", "redirect_uris", "secret"]
    assert b"a-brand-new-secret" not in tap.messages[1].body


async def test_edit_that_breaks_the_rules_is_refused(service: Service) -> None:
    created = await service.create(oidc_client())
    response = await service.request("PATCH", f"/v1/clients/{created['key']}",
                                     json={"redirect_uris": []})
    body = await response.json()
    assert response.status == 400
    assert "redirect_uris" in body["errors"]
    unchanged = await (await service.request("GET", f"/v1/clients/{created['key']}")).json()
    assert unchanged["redirect_uris"] == created["redirect_uris"]


async def test_key_and_type_cannot_be_changed(service: Service) -> None:
    created = await service.create(oidc_client())
    for field, value in (("key", "another-key"), ("type", "oauth2")):
        response = await service.request("PATCH", f"/v1/clients/{created['key']}",
                                         json={field: value})
        body = await response.json()
        assert response.status == 400
        assert "immutable" in body["errors"][field][0]


async def test_remove_is_permanent_and_announced(service: Service) -> None:
    async with event_tap(service.settings) as tap:
        created = await service.create(oauth1_client())
        key = created["key"]
        removed = await service.request("DELETE", f"/v1/clients/{key}")
        assert removed.status == 204
        events = await tap.wait_for(2)
    assert tap.messages[1].routing_key == "client.oauth1.removed"
    assert events[1]["data"]["client"]["key"] == key
    assert (await service.request("GET", f"/v1/clients/{key}")).status == 404
    listed = await (await service.request("GET", "/v1/clients")).json()
    assert listed["total"] == 0
    for method, path in (("DELETE", ""), ("POST", "/approve"), ("PATCH", "")):
        again = await service.request(method, f"/v1/clients/{key}{path}", json={"name": "x"})
        assert again.status == 404


async def test_every_command_leaves_an_operation(service: Service) -> None:
    created = await service.create(oauth1_client())
    operations = service.http.app  # the gateway's own database handle
    assert operations is not None
    from api import keys

    db = operations[keys.DB]
    documents = await db["operations"].find({}).to_list()
    assert [d["status"] for d in documents] == ["succeeded"]
    assert documents[0]["client_key"] == created["key"]
    assert documents[0]["actor"] == "alice"
