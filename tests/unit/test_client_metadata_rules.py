"""The rules of a client's RFC 7591 metadata (common.metadata_rules), one table per rule,
and the defaults a client stored before the metadata was kept is read with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.client_metadata import (
    ClientMetadata,
    metadata_after_edit,
    secret_facts,
    stored_metadata,
)
from common.clients import ClientFields, RuleViolation
from common.metadata_rules import check_registration, secret_problems
from tests.unit.client_rules import AC, CB, OAUTH1, OAUTH2, OIDC, PW, RT, URI_2048, URI_2049

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CODE = ([CB], [AC], ["code"])  # redirect URIs, grants, response types of a code client


def registered(kind: Any, flow: tuple[list[str], list[str], list[str]] = CODE,
               **metadata: Any) -> ClientMetadata:
    _, canonical, _ = check_registration(ClientFields(kind, "App", *map(list, flow)),
                                         ClientMetadata(**metadata))
    return canonical


def refused(kind: Any, flow: tuple[list[str], list[str], list[str]] = CODE,
            **metadata: Any) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as info:
        check_registration(ClientFields(kind, "App", *map(list, flow)), ClientMetadata(**metadata))
    return info.value.errors


# --- accepted, and what is stored ---------------------------------------------------------

@pytest.mark.parametrize(("kind", "flow", "given", "stored"), [
    # Defaults: client_secret_basic; PKCE when authorization_code is granted; OIDC has openid.
    (OAUTH2, CODE, {}, {"token_endpoint_auth_method": "client_secret_basic", "scope": [],
                        "require_pkce": True}),
    (OIDC, CODE, {}, {"scope": ["openid"], "require_pkce": True}),
    (OAUTH2, ([], [DEVICE], []), {}, {"require_pkce": False}),
    (OAUTH2, CODE, {"require_pkce": False}, {"require_pkce": False}),
    # Scope: sorted, unique, openid added for OIDC; the RFC 6749 3.3 characters.
    (OAUTH2, CODE, {"scope": ["write", "read", "write"]}, {"scope": ["read", "write"]}),
    (OIDC, CODE, {"scope": ["profile", "email"]}, {"scope": ["email", "openid", "profile"]}),
    (OIDC, CODE, {"scope": ["openid"]}, {"scope": ["openid"]}),
    (OAUTH2, CODE, {"scope": ["!", "#$[]^~", "urn:x:y/z", "a" * 200]},
     {"scope": ["!", "#$[]^~", "a" * 200, "urn:x:y/z"]}),
    (OAUTH2, CODE, {"scope": [f"s{i:03}" for i in range(100)]},
     {"scope": [f"s{i:03}" for i in range(100)]}),
    # Public clients: PKCE by default, device grant allowed.
    (OAUTH2, CODE, {"token_endpoint_auth_method": "none"},
     {"token_endpoint_auth_method": "none", "require_pkce": True}),
    (OIDC, ([CB, "http://127.0.0.1:8765/cb"], [AC, RT], ["code"]),
     {"token_endpoint_auth_method": "none", "require_pkce": True}, {"require_pkce": True}),
    (OAUTH2, ([], [DEVICE], []), {"token_endpoint_auth_method": "none"}, {"require_pkce": True}),
    (OAUTH2, CODE, {"token_endpoint_auth_method": "client_secret_post"},
     {"token_endpoint_auth_method": "client_secret_post"}),
    # Post-logout redirect URIs: OIDC, the redirect-URI rules, duplicates dropped.
    (OIDC, CODE, {"post_logout_redirect_uris": [CB, "com.example.app:/bye", CB]},
     {"post_logout_redirect_uris": [CB, "com.example.app:/bye"]}),
    # Consent-screen URLs and contacts (normalised by email-validator: the domain lower-cased).
    (OAUTH2, CODE, {"client_uri": "https://app.example.com/", "logo_uri": URI_2048,
                    "policy_uri": "https://app.example.com/privacy?lang=en",
                    "tos_uri": "https://app.example.com:8443/tos"},
     {"client_uri": "https://app.example.com/", "logo_uri": URI_2048}),
    (OIDC, CODE, {"contacts": ["ops@Example.COM", "ops@example.com", "b@example.org"]},
     {"contacts": ["ops@example.com", "b@example.org"]}),
    (OIDC, CODE, {"contacts": [f"p{i}@example.com" for i in range(10)]},
     {"contacts": [f"p{i}@example.com" for i in range(10)]}),
    # OAuth 1.0a: nothing given, nothing stored.
    (OAUTH1, ([], [], []), {}, {"token_endpoint_auth_method": None, "scope": [],
                                "require_pkce": None}),
])
def test_accepted(kind: Any, flow: Any, given: dict[str, Any], stored: dict[str, Any]) -> None:
    canonical = registered(kind, flow, **given)
    assert {name: getattr(canonical, name) for name in stored} == stored


# --- refused, naming the field --------------------------------------------------------------

@pytest.mark.parametrize(("kind", "flow", "given", "field", "says"), [
    (OAUTH2, CODE, {"token_endpoint_auth_method": "tls_client_auth"},
     "token_endpoint_auth_method", "not supported"),
    (OAUTH2, CODE, {"token_endpoint_auth_method": "none", "require_pkce": False},
     "require_pkce", "must use PKCE"),
    (OAUTH2, ([], [DEVICE], []), {"token_endpoint_auth_method": "none", "require_pkce": False},
     "require_pkce", "must use PKCE"),
    (OAUTH2, ([CB], [AC, PW], ["code"]), {"token_endpoint_auth_method": "none"},
     "grant_types", "password"),
    (OAUTH2, CODE, {"scope": ["a b"]}, "scope", "not a scope token"),
    (OAUTH2, CODE, {"scope": ['say"hi']}, "scope", "not a scope token"),
    (OAUTH2, CODE, {"scope": ["back\\slash"]}, "scope", "not a scope token"),
    (OAUTH2, CODE, {"scope": ["caf\u00e9"]}, "scope", "not a scope token"),
    (OAUTH2, CODE, {"scope": ["tab\there"]}, "scope", "not a scope token"),
    (OAUTH2, CODE, {"scope": ["a" * 201]}, "scope", "longer than 200"),
    (OAUTH2, CODE, {"scope": [f"s{i:03}" for i in range(101)]}, "scope", "At most 100"),
    (OIDC, CODE, {"scope": [f"s{i:03}" for i in range(100)]}, "scope", "At most 100"),
    (OAUTH2, CODE, {"post_logout_redirect_uris": [CB]}, "post_logout_redirect_uris",
     "Only OpenID Connect"),
    (OIDC, CODE, {"post_logout_redirect_uris": [CB, "http://evil.example/bye"]},
     "post_logout_redirect_uris", "Entry 2"),
    (OIDC, CODE, {"post_logout_redirect_uris": ["https://a.example/#frag"]},
     "post_logout_redirect_uris", "fragment"),
    (OIDC, CODE, {"post_logout_redirect_uris": [f"{CB}/{i}" for i in range(51)]},
     "post_logout_redirect_uris", "At most 50"),
    (OAUTH2, CODE, {"client_uri": "http://app.example.com/"}, "client_uri", "https"),
    (OAUTH2, CODE, {"logo_uri": URI_2049}, "logo_uri", "at most 2048"),
    (OAUTH2, CODE, {"policy_uri": "https:///no-host"}, "policy_uri", "host"),
    (OAUTH2, CODE, {"tos_uri": "https://user@app.example.com/tos"}, "tos_uri", "credentials"),
    (OAUTH2, CODE, {"client_uri": "https://app.example.com/a b"}, "client_uri", "spaces"),
    (OAUTH2, CODE, {"client_uri": "javascript:alert(1)"}, "client_uri", "https"),
    (OAUTH2, CODE, {"contacts": ["not-an-address"]}, "contacts", "Entry 1"),
    (OAUTH2, CODE, {"contacts": ["ok@example.com", "two@@example.com"]}, "contacts", "Entry 2"),
    (OAUTH2, CODE, {"contacts": [f"p{i}@example.com" for i in range(11)]}, "contacts",
     "At most 10"),
    # OAuth 1.0a consumers get none of it.
    (OAUTH1, ([], [], []), {"token_endpoint_auth_method": "client_secret_basic"},
     "token_endpoint_auth_method", "OAuth 1.0a"),
    (OAUTH1, ([], [], []), {"scope": ["read"]}, "scope", "OAuth 1.0a"),
    (OAUTH1, ([], [], []), {"require_pkce": False}, "require_pkce", "OAuth 1.0a"),
    (OAUTH1, ([], [], []), {"post_logout_redirect_uris": [CB]}, "post_logout_redirect_uris",
     "OAuth 1.0a"),
    (OAUTH1, ([], [], []), {"client_uri": "https://a.example/"}, "client_uri", "OAuth 1.0a"),
    (OAUTH1, ([], [], []), {"contacts": ["a@example.com"]}, "contacts", "OAuth 1.0a"),
])
def test_refused(kind: Any, flow: Any, given: dict[str, Any], field: str, says: str) -> None:
    errors = refused(kind, flow, **given)
    assert field in errors, errors
    assert any(says in message for message in errors[field]), errors[field]


def test_every_wrong_field_is_named_at_once_with_the_client_rules() -> None:
    errors = refused(OIDC, ([CB], [AC, PW], []), token_endpoint_auth_method="none",
                     scope=["bad\"token"], client_uri="http://x.example/", contacts=["nope"])
    assert {"response_types", "grant_types", "scope", "client_uri", "contacts"} <= set(errors)


# --- the secret, as the method decides -------------------------------------------------------

LATER, EARLIER = NOW + timedelta(days=1), NOW - timedelta(seconds=1)
BASIC = ClientMetadata(token_endpoint_auth_method="client_secret_basic")
PUBLIC = ClientMetadata(token_endpoint_auth_method="none")


@pytest.mark.parametrize(("kind", "metadata", "sent", "keeps", "expiry", "fields"), [
    (OAUTH2, BASIC, ["secret", "secret_confirmation"], False, None, set()),
    (OAUTH2, BASIC, ["generate_secret"], False, LATER, set()),
    (OAUTH2, BASIC, [], True, LATER, set()),  # an edit moving the expiry of the kept secret
    (OAUTH2, BASIC, [], False, None, {"secret"}),  # made secret-based: needs one
    (OAUTH2, BASIC, ["generate_secret"], False, EARLIER, {"client_secret_expires_at"}),
    (OAUTH2, BASIC, ["generate_secret"], False, NOW, {"client_secret_expires_at"}),
    (OAUTH2, PUBLIC, [], False, None, set()),
    (OAUTH2, PUBLIC, [], True, None, set()),  # made public: its secret goes
    (OIDC, PUBLIC, ["secret", "secret_confirmation"], False, None,
     {"secret", "secret_confirmation"}),
    (OIDC, PUBLIC, ["generate_secret"], False, None, {"generate_secret"}),
    (OIDC, PUBLIC, [], False, LATER, {"client_secret_expires_at"}),
    (OAUTH1, ClientMetadata(), ["generate_secret"], False, None, set()),
    (OAUTH1, ClientMetadata(), [], False, None, {"secret"}),
    (OAUTH1, ClientMetadata(), ["generate_secret"], False, LATER, {"client_secret_expires_at"}),
])
def test_secret_rules(kind: Any, metadata: ClientMetadata, sent: list[str], keeps: bool,
                      expiry: datetime | None, fields: set[str]) -> None:
    errors = secret_problems(kind, metadata.with_defaults(kind, [AC]), secret_inputs=sent,
                             keeps_secret=keeps, expiry=expiry, now=NOW)
    assert set(errors) == fields


def test_the_worker_does_not_judge_the_expiry_against_its_own_clock() -> None:
    assert secret_problems(OAUTH2, BASIC, secret_inputs=["secret"], keeps_secret=False,
                           expiry=EARLIER, now=None) == {}


# --- clients stored before the metadata was kept ---------------------------------------------

OLD = {"key": "k", "name": "Old", "status": "approved", "version": 3,
       "created_at": NOW - timedelta(days=90), "redirect_uris": [CB]}


@pytest.mark.parametrize(("document", "metadata", "issued_at"), [
    ({**OLD, "type": "oidc", "grant_types": [AC], "response_types": ["code"]},
     ClientMetadata("client_secret_basic", ["openid"], True), OLD["created_at"]),
    ({**OLD, "type": "oauth2", "grant_types": [DEVICE], "response_types": []},
     ClientMetadata("client_secret_basic", [], False), OLD["created_at"]),
    ({**OLD, "type": "oauth2", "grant_types": [AC], "response_types": ["code"],
      "secret_rotated_at": NOW - timedelta(days=2)},
     ClientMetadata("client_secret_basic", [], True), NOW - timedelta(days=2)),
    ({**OLD, "type": "oauth1", "redirect_uris": []}, ClientMetadata(), OLD["created_at"]),
])
def test_an_old_document_reads_with_the_defaults(document: dict[str, Any],
                                                 metadata: ClientMetadata,
                                                 issued_at: datetime) -> None:
    assert stored_metadata(document) == metadata
    assert secret_facts(document, metadata) == {"client_secret_issued_at": issued_at,
                                                "client_secret_expires_at": None}


def test_a_public_client_has_no_secret_facts() -> None:
    document = {**OLD, "type": "oauth2", "grant_types": [AC], "token_endpoint_auth_method": "none",
                "client_secret_issued_at": None}
    assert secret_facts(document, stored_metadata(document)) == {
        "client_secret_issued_at": None, "client_secret_expires_at": None}


# --- an edit --------------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "changes", "cleared", "grants", "expected"), [
    # require_pkce not sent goes back to its default when the code grant is new ...
    ({"grant_types": [DEVICE], "require_pkce": False}, {}, [], [DEVICE, AC],
     {"require_pkce": True}),
    # ... or the client becomes public; otherwise it is kept.
    ({"grant_types": [AC], "require_pkce": False}, {"token_endpoint_auth_method": "none"}, [],
     [AC], {"require_pkce": True}),
    ({"grant_types": [AC], "require_pkce": False}, {"scope": ["a"]}, [], [AC],
     {"require_pkce": False, "scope": ["a"]}),
    ({"grant_types": [AC], "client_uri": "https://a.example/"}, {}, ["client_uri"], [AC],
     {"client_uri": None}),
    ({"grant_types": [AC], "client_uri": "https://a.example/"}, {"client_uri": None}, [], [AC],
     {"client_uri": "https://a.example/"}),  # None sent alone is "kept": clearing is explicit
])
def test_metadata_after_an_edit(current: dict[str, Any], changes: dict[str, Any],
                                cleared: list[str], grants: list[str],
                                expected: dict[str, Any]) -> None:
    document = {**OLD, "type": "oauth2", "response_types": ["code"], **current}
    after = metadata_after_edit(document, changes, cleared, grants).with_defaults(OAUTH2, grants)
    assert {name: getattr(after, name) for name in expected} == expected
