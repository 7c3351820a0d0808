"""RFC 7591 registration with initial access tokens, behind the approval gate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api import keys
from api.registration import sending
from common.bus import BrokerUnavailable
from common.outcomes import ErrorCode, OperationError, OperationStatus, Outcome
from common.store import REGISTRATION_TOKENS
from tests.e2e.conftest import Service
from tests.e2e.registration_helpers import REDIRECT, new_token, register, rfc7591_client


async def _expire(service: Service, token: dict[str, Any]) -> None:
    await service.http.app[keys.DB][REGISTRATION_TOKENS].update_one(
        {"_id": token["id"]}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}})


async def _use_up(service: Service, token: dict[str, Any]) -> None:
    for _ in range(token["max_uses"]):
        assert (await register(service, token["token"]))[0] == 201


async def _revoke(service: Service, token: dict[str, Any]) -> None:
    response = await service.request("DELETE", f"/v1/registration-tokens/{token['id']}")
    assert response.status == 204


@pytest.mark.parametrize(("state", "spoil"), [
    ("expired", _expire), ("used up", _use_up), ("revoked", _revoke)])
async def test_an_unusable_token_is_refused_with_401(service: Service, state: str,
                                                     spoil: Any) -> None:
    token = await new_token(service, max_uses=1)
    await spoil(service, token)
    status, body, headers = await register(service, token["token"])
    assert status == 401, state
    assert body["error"] == "invalid_token" and body["error_description"]
    assert headers["WWW-Authenticate"] == 'Bearer realm="clientkeys", error="invalid_token"'
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("token", [None, "cki_not-a-token-anyone-made"])
async def test_no_token_or_an_unknown_one_is_refused(service: Service, token: str | None
                                                     ) -> None:
    status, body, headers = await register(service, token)
    assert status == 401
    assert body["error"] == "invalid_token"
    assert headers["WWW-Authenticate"].startswith('Bearer realm="clientkeys"')


async def test_a_valid_token_registers_a_pending_client(service: Service) -> None:
    token = await new_token(service)
    status, body, headers = await register(service, token["token"])
    assert status == 201, body
    assert headers["Cache-Control"] == "no-store"
    assert body["status"] == "pending"
    assert body["client_secret"] and body["registration_access_token"]
    assert body["client_secret_expires_at"] == 0
    assert body["registration_client_uri"].endswith(f"/oauth/register/{body['client_id']}")
    assert body["scope"] == "read write" and body["grant_types"] == [
        "authorization_code", "refresh_token"] and body["response_types"] == ["code"]
    assert body["origin"] == {"kind": "registration", "token_id": token["id"],
                              "label": "partner onboarding"}
    stored = await (await service.request("GET", f"/v1/clients/{body['client_id']}")).json()
    assert stored["type"] == "oauth2" and stored["origin"] == body["origin"]
    assert stored["status"] == "pending"
    history = await (await service.request(
        "GET", f"/v1/clients/{body['client_id']}/history")).json()
    assert history["items"][0]["actor"] == f"registration:{token['id']}"
    listed = await (await service.request("GET", "/v1/registration-tokens")).json()
    assert [t["uses_left"] for t in listed["items"] if t["id"] == token["id"]] == [4]
    assert "token" not in listed["items"][0] and "sha256" not in listed["items"][0]


async def test_an_openid_scope_makes_an_oidc_client(service: Service) -> None:
    token = await new_token(service)
    status, body, _ = await register(service, token["token"], rfc7591_client(
        scope="openid profile", response_types=["code"]))
    assert status == 201, body
    stored = await (await service.request("GET", f"/v1/clients/{body['client_id']}")).json()
    assert stored["type"] == "oidc"


@pytest.mark.parametrize(("policy", "refused", "error", "allowed"), [
    ({"client_types": ["oidc"]}, rfc7591_client(), "invalid_client_metadata",
     rfc7591_client(scope="openid")),
    ({"grant_types": ["authorization_code"]}, rfc7591_client(), "invalid_client_metadata",
     rfc7591_client(grant_types=["authorization_code"])),
    ({"redirect_uri_hosts": ["*.partner.example"]}, rfc7591_client(), "invalid_redirect_uri",
     rfc7591_client(redirect_uris=["https://a.b.partner.example/cb"])),
    ({"redirect_uri_hosts": ["*.partner.example"]},
     rfc7591_client(redirect_uris=["https://partner.example/cb"]), "invalid_redirect_uri",
     rfc7591_client(redirect_uris=["https://a.partner.example:8443/cb"])),
    ({"redirect_uri_hosts": ["app.example.com"]},
     rfc7591_client(redirect_uris=["https://evil.app.example.com/cb"]), "invalid_redirect_uri",
     rfc7591_client()),
])
async def test_the_tokens_policy_refuses_what_it_does_not_allow(
        service: Service, policy: dict[str, Any], refused: dict[str, Any], error: str,
        allowed: dict[str, Any]) -> None:
    token = await new_token(service, max_uses=1, **policy)
    status, answer, headers = await register(service, token["token"], refused)
    assert (status, answer["error"]) == (400, error), answer
    assert headers["Cache-Control"] == "no-store"
    # A refused registration costs no use: the one use still registers what is allowed.
    status, answer, _ = await register(service, token["token"], allowed)
    assert status == 201, answer


async def test_a_suffix_policy_takes_hosts_under_it(service: Service) -> None:
    token = await new_token(service, redirect_uri_hosts=["*.example.com"])
    assert (await register(service, token["token"]))[0] == 201


@pytest.mark.parametrize(("body", "error"), [
    (rfc7591_client(redirect_uris=["http://app.example.com/cb"]), "invalid_redirect_uri"),
    (rfc7591_client(redirect_uris=["https://app.example.com/cb#frag"]), "invalid_redirect_uri"),
    ({"redirect_uris": [REDIRECT]}, "invalid_client_metadata"),
    (rfc7591_client(grant_types=["implicit-ish"]), "invalid_client_metadata"),
    (rfc7591_client(token_endpoint_auth_method="private_key_jwt"), "invalid_client_metadata"),
    (rfc7591_client(jwks_uri="https://client.example.org/jwks"), "invalid_client_metadata"),
    (rfc7591_client(scope="read wr\"ite"), "invalid_client_metadata"),
])
async def test_bad_metadata_gets_the_rfc_7591_error(service: Service, body: dict[str, Any],
                                                    error: str) -> None:
    token = await new_token(service)
    status, answer, _ = await register(service, token["token"], body)
    assert status == 400
    assert set(answer) == {"error", "error_description"}
    assert answer["error"] == error and answer["error_description"]


async def test_not_json_is_invalid_metadata(service: Service) -> None:
    token = await new_token(service)
    response = await service.http.post("/oauth/register", data=b"{", headers={
        "Authorization": f"Bearer {token['token']}", "Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_client_metadata"


async def test_ten_registrations_at_once_on_three_uses_make_three_clients(
        service: Service) -> None:
    token = await new_token(service, max_uses=3)
    before = (await (await service.request("GET", "/v1/clients?limit=200")).json())["total"]
    answers = await asyncio.gather(*(register(service, token["token"], rfc7591_client(
        client_name=f"Racer {n}")) for n in range(10)))
    assert sorted(status for status, _, _ in answers) == [201] * 3 + [401] * 7
    after = (await (await service.request("GET", "/v1/clients?limit=200")).json())["total"]
    assert after - before == 3
    listed = await (await service.request("GET", "/v1/registration-tokens")).json()
    assert [t["uses_left"] for t in listed["items"] if t["id"] == token["id"]] == [0]


async def test_auto_approve_makes_an_approved_client(service: Service) -> None:
    token = await new_token(service, auto_approve=True)
    status, body, _ = await register(service, token["token"])
    assert (status, body["status"]) == (201, "approved")


async def test_a_public_client_gets_no_secret(service: Service) -> None:
    token = await new_token(service)
    status, body, _ = await register(service, token["token"], rfc7591_client(
        token_endpoint_auth_method="none", grant_types=["authorization_code"]))
    assert status == 201, body
    assert "client_secret" not in body and "client_secret_expires_at" not in body


async def test_a_token_needs_a_future_expiry_and_a_bounded_use_count(service: Service) -> None:
    for body in ({"label": "x", "max_uses": 0, "expires_at": "2999-01-01T00:00:00Z"},
                 {"label": "x", "max_uses": 10_001, "expires_at": "2999-01-01T00:00:00Z"},
                 {"label": "x", "max_uses": 1, "expires_at": "2000-01-01T00:00:00Z"},
                 {"label": "", "max_uses": 1, "expires_at": "2999-01-01T00:00:00Z"}):
        response = await service.request("POST", "/v1/registration-tokens", json=body)
        assert response.status == 400, body
    missing = await service.request("DELETE", "/v1/registration-tokens/nope")
    assert missing.status == 404


async def test_an_oauth1_consumer_key_request_makes_a_pending_consumer(service: Service
                                                                       ) -> None:
    token = await new_token(service, max_uses=1, client_types=["oauth1"])
    headers = {"Authorization": f"Bearer {token['token']}"}
    short = await service.http.post("/oauth1/consumer-key-requests", headers=headers,
                                    json={"name": "Jazz tool", "secret": "short"})
    assert short.status == 400
    assert (await short.json())["error"] == "invalid_client_metadata"
    response = await service.http.post("/oauth1/consumer-key-requests", headers=headers,
                                       json={"name": "Jazz tool", "secret": "a-long-secret-1"})
    body = await response.json()
    assert response.status == 201, body
    assert set(body) == {"key", "status"} and body["status"] == "pending"
    assert response.headers["Cache-Control"] == "no-store"
    stored = await (await service.request("GET", f"/v1/clients/{body['key']}")).json()
    assert (stored["type"], stored["origin"]["token_id"]) == ("oauth1", token["id"])
    again = await service.http.post("/oauth1/consumer-key-requests", headers=headers,
                                    json={"name": "Jazz tool 2", "secret": "a-long-secret-1"})
    assert again.status == 401


async def test_open_registration_is_off_unless_set(service: Service) -> None:
    response = await service.http.post("/oauth1/consumer-key-requests",
                                       json={"name": "Jazz tool", "secret": "a-long-secret-1"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="clientkeys"'


@pytest.mark.parametrize("path", ["/oauth/register", "/oauth1/consumer-key-requests"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/json; charset=latin-1",
                                          None])
async def test_a_body_not_json_in_utf8_is_invalid_metadata(
        service: Service, path: str, content_type: str | None) -> None:
    token = await new_token(service)
    headers = {"Authorization": f"Bearer {token['token']}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await service.http.post(path, data=b'{"client_name": "x"}', headers=headers)
    body = await response.json()
    assert (response.status, body["error"]) == (400, "invalid_client_metadata")
    assert "application/json" in body["error_description"]


@pytest.mark.parametrize("path", ["/oauth/register", "/oauth1/consumer-key-requests"])
async def test_a_body_over_the_limit_is_413(service: Service, path: str) -> None:
    token = await new_token(service, max_uses=1)
    oversized = b'{"client_name": "' + b"x" * service.settings.max_body_bytes + b'"}'
    response = await service.http.post(path, data=oversized, headers={
        "Authorization": f"Bearer {token['token']}", "Content-Type": "application/json"})
    assert response.status == 413
    # Nothing was registered: the one use is still there.
    assert (await register(service, token["token"]))[0] == 201


async def test_token_changes_are_audited_and_a_retried_create_makes_one_token(
        service: Service) -> None:
    body = {"label": "retried", "max_uses": 2, "expires_at": "2999-01-01T00:00:00Z"}
    headers = {**service.admin, "Idempotency-Key": "make-token-once"}
    first = await service.request("POST", "/v1/registration-tokens", json=body, headers=headers)
    again = await service.request("POST", "/v1/registration-tokens", json=body, headers=headers)
    assert (first.status, again.status) == (201, 201)
    made, replayed = await first.json(), await again.json()
    assert replayed == made and again.headers["Idempotent-Replayed"] == "true"
    listed = await (await service.request("GET", "/v1/registration-tokens")).json()
    assert [t["label"] for t in listed["items"]] == ["retried"]
    assert (await service.request("DELETE", f"/v1/registration-tokens/{made['id']}")
            ).status == 204
    audit = await (await service.request("GET", "/v1/audit")).json()
    actions = [(entry["action"], entry["actor"], entry["outcome"]) for entry in audit["items"]]
    assert ("revoke_registration_token", "alice", "applied") in actions
    assert ("create_registration_token", "alice", "applied") in actions
    assert made["token"] not in str(audit)


async def test_a_registration_the_broker_did_not_take_costs_no_use(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(*_args: Any, **_kwargs: Any) -> None:
        raise BrokerUnavailable("test: not confirmed")

    token = await new_token(service, max_uses=1)
    with monkeypatch.context() as patch:
        patch.setattr(service.http.app[keys.BUS], "publish_command", refused)
        status, body, headers = await register(service, token["token"])
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert "Retry-After" in headers and headers["Cache-Control"] == "no-store"
    # Nothing was queued: the one use is back, and registers.
    assert (await register(service, token["token"]))[0] == 201


async def test_a_registration_the_worker_refused_costs_no_use(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker runs the rules again on what it stores; were it to refuse what the
    gateway let through, the answer is RFC 7591's and the use comes back."""
    async def refusing_worker(request: Any, command: Any, *, answer: Any, **_: Any) -> Any:
        request[keys.COMMAND_QUEUED] = True
        return answer(command.kind, Outcome(command.id, command.kind, OperationStatus.FAILED,
                                            error=OperationError(ErrorCode.INVALID, "No.", {
                                                "redirect_uris": ["Refused."]})), None)

    token = await new_token(service, max_uses=1)
    with monkeypatch.context() as patch:
        patch.setattr(sending, "dispatch", refusing_worker)
        status, body, _ = await register(service, token["token"])
    assert (status, body["error"]) == (400, "invalid_redirect_uri")
    assert (await register(service, token["token"]))[0] == 201


async def test_a_registration_retried_with_its_idempotency_key_makes_one_client(
        service: Service) -> None:
    token = await new_token(service, max_uses=2)
    headers = {"Authorization": f"Bearer {token['token']}", "Idempotency-Key": "reg-1"}
    first = await service.http.post("/oauth/register", json=rfc7591_client(), headers=headers)
    again = await service.http.post("/oauth/register", json=rfc7591_client(), headers=headers)
    made, replayed = await first.json(), await again.json()
    assert (first.status, again.status) == (201, 201)
    assert replayed == made and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Cache-Control"] == "no-store"
    listed = await (await service.request("GET", "/v1/registration-tokens")).json()
    assert [t["uses_left"] for t in listed["items"] if t["id"] == token["id"]] == [1]
    other = await service.http.post("/oauth/register", json=rfc7591_client(client_name="B"),
                                    headers=headers)
    assert (other.status, (await other.json())["error"]) == (422, "invalid_request")
    # A refused one is answered the same again, and costs nothing.
    bad = {**headers, "Idempotency-Key": "reg-2"}
    for _ in range(2):
        refused = await service.http.post("/oauth/register", json={"redirect_uris": []},
                                          headers=bad)
        assert refused.status == 400
    consumer = {**headers, "Idempotency-Key": "consumer-1"}
    body = {"name": "Jazz tool", "secret": "a-long-secret-1"}
    keys_made = [await (await service.http.post("/oauth1/consumer-key-requests", json=body,
                                                headers=consumer)).json() for _ in range(2)]
    assert keys_made[0] == keys_made[1] and keys_made[0]["status"] == "pending"
    listed = await (await service.request("GET", "/v1/registration-tokens")).json()
    assert [t["uses_left"] for t in listed["items"] if t["id"] == token["id"]] == [0]
