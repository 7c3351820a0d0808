"""The rules of self-registration: a token's policy, the client type a request makes, and
what an RFC 7592 update does beyond an edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.registration.policy import OPEN_POLICY, host_allowed, policy_problems
from api.registration.register import client_type_of
from common.client_documents import ClientDocument
from common.clients import ClientFields, ClientType
from common.commands import UpdateClient
from common.registration_tokens import TokenPolicy
from worker.registration_changes import registration_changes

DIGEST = "ab" * 32


@pytest.mark.parametrize(("host", "patterns", "allowed"), [
    ("app.example.com", ["app.example.com"], True),
    ("APP.example.com.", ["app.example.com"], True),
    ("evil.app.example.com", ["app.example.com"], False),
    ("a.example.com", ["*.example.com"], True),
    ("b.a.example.com", ["*.example.com"], True),
    ("example.com", ["*.example.com"], False),
    ("badexample.com", ["*.example.com"], False),
    ("app.example.org", ["app.example.com", "*.example.org"], True),
    ("", ["*.example.com"], False),
])
def test_redirect_hosts(host: str, patterns: list[str], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed


def _policy(**changes: Any) -> TokenPolicy:
    policy: TokenPolicy = {**OPEN_POLICY}
    policy.update(changes)  # type: ignore[typeddict-item]
    return policy


CLIENT = ClientFields(ClientType.OAUTH2, "App", ["https://app.example.com:8443/cb?x=1"],
                      ["authorization_code", "refresh_token"], ["code"])


@pytest.mark.parametrize(("policy", "refused"), [
    (OPEN_POLICY, set()),
    (_policy(client_types=["oauth2"]), set()),
    (_policy(client_types=["oidc", "oauth1"]), {"type"}),
    (_policy(grant_types=["authorization_code", "refresh_token"]), set()),
    (_policy(grant_types=["authorization_code"]), {"grant_types"}),
    (_policy(redirect_uri_hosts=["app.example.com"]), set()),
    (_policy(redirect_uri_hosts=["*.example.org"]), {"redirect_uris"}),
])
def test_a_policy_narrows(policy: TokenPolicy, refused: set[str]) -> None:
    assert set(policy_problems(policy, CLIENT)) == refused


@pytest.mark.parametrize(("scope", "response_types", "expected"), [
    (["read"], ["code"], ClientType.OAUTH2),
    ([], [], ClientType.OAUTH2),
    (["openid"], ["code"], ClientType.OIDC),
    (["read"], ["code id_token"], ClientType.OIDC),
    (["read"], ["id_token"], ClientType.OIDC),
])
def test_the_type_a_registration_makes(scope: list[str], response_types: list[str],
                                       expected: ClientType) -> None:
    assert client_type_of(scope, response_types) is expected


def _update(**fields: Any) -> UpdateClient:
    return UpdateClient(id="c1", actor="registration:abc", request_id="r", client_key="k",
                        **fields)


@pytest.mark.parametrize(("status", "changed", "widened", "left"), [
    ("approved", ["redirect_uris"], True, "approved"),
    ("approved", ["scope"], True, "approved"),
    ("approved", ["token_endpoint_auth_method"], True, "approved"),
    ("approved", ["name", "contacts"], True, None),
    ("pending", ["redirect_uris"], True, None),
    ("approved", ["redirect_uris"], None, None),  # an administrator's edit
])
def test_an_update_goes_back_to_pending_when_it_widens(
        status: str, changed: list[str], widened: bool | None, left: str | None) -> None:
    current: ClientDocument = {"status": status}
    changes: ClientDocument = {}
    names = list(changed)
    at = datetime.now(UTC)
    assert registration_changes(_update(pending_if_widened=widened), current, names, changes,
                                at) == left
    assert (changes.get("status") == "pending") is (left is not None)
    assert ("status" in names) is (left is not None)


def test_an_update_with_nothing_else_still_rotates_the_token() -> None:
    changes: ClientDocument = {}
    names: list[str] = []
    registration_changes(_update(registration_access_sha256=DIGEST), {"status": "approved"},
                         names, changes, datetime.now(UTC))
    assert changes == {"registration_access_sha256": DIGEST}
    assert names == ["registration_access_token"]
