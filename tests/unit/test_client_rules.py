"""The rules of an OAuth client (common.clients), one table per rule."""

from __future__ import annotations

import pytest

from common.clients import (
    DEVICE_CODE,
    WARN_IMPLICIT,
    WARN_PASSWORD,
    ClientFields,
    ClientType,
    RuleViolation,
    Status,
    canonical_response_type,
    check_client,
    check_secret_pair,
    next_status,
    normalize_name,
    warnings_for,
)
from tests.unit.client_rules import (
    AC,
    CB,
    OAUTH1,
    OAUTH2,
    OIDC,
    PW,
    RT,
    URI_2048,
    URI_2049,
    fields_of,
    violation_of,
)

MISSPELLED_DEVICE = "urb:ietf:params:oauth:grant-type:device_code"
FIFTY = [f"https://app.example.com/cb/{i}" for i in range(50)]
FIFTY_ONE = [f"https://app.example.com/cb/{i}" for i in range(51)]






# --- name -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("My app", "My app"),
    ("  My app \t", "My app"),
    ("a", "a"),
    ("a" * 200, "a" * 200),
    ("   " + "a" * 200 + "   ", "a" * 200),
    ("Ünïcödé app ✓", "Ünïcödé app ✓"),
])
def test_name_accepted_and_trimmed(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected
    canonical, _ = check_client(ClientFields(OAUTH1, raw))
    assert canonical.name == expected


@pytest.mark.parametrize(("raw", "needle"), [
    ("", "empty"), ("   ", "empty"), ("\t\n", "empty"), ("a" * 201, "200"),
    ("  " + "a" * 201 + "  ", "200"),
    ("\x00", "control"), ("\n", "empty"), ("\x7f", "control"), ("bad\x00name", "control"),
    ("bad\nname", "control"), ("bad\x7fname", "control"), ("tab\there", "control"),
    ("bell\x07", "control"), ("next\x85line", "control"),
    # Bidirectional embeddings, overrides and isolates: every one of them.
    *((f"Pay{chr(c)}lapyap", "bidirectional") for c in (*range(0x202A, 0x202F),
                                                       *range(0x2066, 0x206A))),
    ("\u202eppa lanretni", "bidirectional"),
    # Line and paragraph separators inside a name (at its ends they are trimmed away).
    ("two\u2028lines", "separators"), ("two\u2029paragraphs", "separators"),
    ("\u2028", "empty"),
    # Nothing visible: format characters and spaces only.
    ("\u200b", "visible"), ("\u200b\u200c\u200d", "visible"), ("\ufeff", "visible"),
    ("\u00ad", "visible"), ("\u200e\u200f", "visible"), ("\u2060\u2060", "visible"),
    (" \u200b ", "visible"), ("\u200b\u3000\u200b", "visible"),
])
def test_name_rejected(raw: str, needle: str) -> None:
    with pytest.raises(RuleViolation) as info:
        normalize_name(raw)
    assert list(info.value.errors) == ["name"]
    assert needle in " ".join(info.value.errors["name"]), info.value.errors
    assert list(violation_of(ClientFields(OAUTH1, raw)).errors) == ["name"]


@pytest.mark.parametrize("raw", [
    "Zero\u200bwidth inside", "Family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "Soft\u00adhyphen", "\u05e9\u05dc\u05d5\u05dd app", "Ideographic\u3000space",
    "\u200eLeft-to-right mark",
])
def test_name_with_visible_text_may_hold_format_characters(raw: str) -> None:
    assert normalize_name(raw) == raw.strip()


# --- secret and its confirmation --------------------------------------------------------------

def _secret(length: int) -> str:
    return ("Zq7-Wx9_" * 100)[:length]


S13 = _secret(13)


@pytest.mark.parametrize(("secret", "confirmation", "bad_fields"), [
    (S13, S13, set()),
    (_secret(12), _secret(12), set()),
    (_secret(512), _secret(512), set()),
    (_secret(11), _secret(11), {"secret"}),
    (_secret(513), _secret(513), {"secret"}),
    ("", "", {"secret"}),
    (None, None, {"secret", "secret_confirmation"}),
    (S13, None, {"secret_confirmation"}),
    (None, S13, {"secret"}),
    (S13, S13 + "x", {"secret_confirmation"}),
    (S13, S13.upper(), {"secret_confirmation"}),
    (S13, "", {"secret_confirmation"}),
    (_secret(11), "Different-value-1", {"secret", "secret_confirmation"}),
])
def test_secret_pair(secret: str | None, confirmation: str | None, bad_fields: set[str]) -> None:
    errors = check_secret_pair(secret, confirmation)
    assert set(errors) == bad_fields
    assert all(errors.values())
    messages = [m for ms in errors.values() for m in ms] + [str(RuleViolation(errors))]
    for value in (secret, confirmation):
        if value:
            assert not any(value in message for message in messages)


# --- OAuth 1.0a consumers -------------------------------------------------------------------

@pytest.mark.parametrize(("uris", "grants", "responses", "field"), [
    ([CB], [], [], "redirect_uris"),
    ([], [AC], [], "grant_types"),
    ([], [], ["code"], "response_types"),
])
def test_oauth1_has_no_oauth2fields_of(uris: list[str], grants: list[str], responses: list[str],
                                     field: str) -> None:
    assert list(violation_of(fields_of(OAUTH1, uris, grants, responses)).errors) == [field]


def test_oauth1_without_oauth2_fields_is_fine() -> None:
    assert check_client(ClientFields(OAUTH1, " Legacy ")) == (ClientFields(OAUTH1, "Legacy"), [])


# --- valid OAuth 2.0 / OIDC clients: canonical form and warnings -------------------------------

VALID = [
    pytest.param(OAUTH2, [CB], [AC], ["code"], [AC], ["code"], [], id="oauth2-code"),
    pytest.param(OAUTH2, [CB], [AC, RT], ["code"], [AC, RT], ["code"], [], id="code+refresh"),
    pytest.param(OAUTH2, [], [PW], [], [PW], [], [WARN_PASSWORD], id="password"),
    pytest.param(OAUTH2, [], [PW, RT], [], [PW, RT], [], [WARN_PASSWORD], id="password+refresh"),
    pytest.param(OAUTH2, [], [DEVICE_CODE], [], [DEVICE_CODE], [], [], id="device"),
    pytest.param(OAUTH2, [], [DEVICE_CODE, RT], [], [DEVICE_CODE, RT], [], [],
                 id="device+refresh"),
    pytest.param(OAUTH2, [CB], [AC, PW, RT, DEVICE_CODE], ["code"], [AC, PW, RT, DEVICE_CODE],
                 ["code"], [WARN_PASSWORD], id="all-grants"),
    pytest.param(OAUTH2, [CB], [AC, AC, RT, AC], ["code"], [AC, RT], ["code"], [],
                 id="duplicate-grants-collapse"),
    pytest.param(OAUTH2, [CB], [AC], ["code", "token"], [AC], ["code", "token"],
                 [WARN_IMPLICIT], id="oauth2-token"),
    pytest.param(OAUTH2, [CB], [AC], ["code", "code"], [AC], ["code"], [],
                 id="duplicate-responses-collapse"),
    pytest.param(OIDC, [CB], [AC], ["code"], [AC], ["code"], [], id="oidc-code"),
    pytest.param(OIDC, [CB], [AC], ["code id_token"], [AC], ["code id_token"], [],
                 id="oidc-code-id_token"),
    pytest.param(OIDC, [CB], [AC], ["code id_token token"], [AC], ["code id_token token"], [],
                 id="oidc-code-id_token-token"),
    pytest.param(OIDC, [CB], [AC], ["code token"], [AC], ["code token"], [],
                 id="oidc-code-token"),
    pytest.param(OIDC, [CB], [AC], ["code", "id_token"], [AC], ["code", "id_token"],
                 [WARN_IMPLICIT], id="oidc-id_token"),
    pytest.param(OIDC, [CB], [AC], ["code", "id_token token"], [AC], ["code", "id_token token"],
                 [WARN_IMPLICIT], id="oidc-id_token-token"),
    pytest.param(OIDC, [CB], [AC], ["id_token code"], [AC], ["code id_token"], [],
                 id="order-id_token-code"),
    pytest.param(OIDC, [CB], [AC], ["token id_token code"], [AC], ["code id_token token"], [],
                 id="order-token-id_token-code"),
    pytest.param(OIDC, [CB], [AC], ["token code", "token id_token", "code"], [AC],
                 ["code token", "id_token token", "code"], [WARN_IMPLICIT], id="order-more"),
    pytest.param(OIDC, [CB], [AC], ["id_token code", "code id_token"], [AC], ["code id_token"],
                 [], id="equivalent-orders-collapse"),
    pytest.param(OIDC, [CB], [AC, PW], ["code", "id_token"], [AC, PW], ["code", "id_token"],
                 [WARN_PASSWORD, WARN_IMPLICIT], id="both-warnings"),
]


@pytest.mark.parametrize(
    ("kind", "uris", "grants", "responses", "want_grants", "want_responses", "want_warnings"),
    VALID)
def test_valid_client(kind: ClientType, uris: list[str], grants: list[str], responses: list[str],
                      want_grants: list[str], want_responses: list[str],
                      want_warnings: list[str]) -> None:
    canonical, warnings = check_client(fields_of(kind, uris, grants, responses, name="  App  "))
    assert canonical == ClientFields(kind, "App", uris, want_grants, want_responses)
    assert warnings == want_warnings


@pytest.mark.parametrize(("uris", "stored"), [
    pytest.param(["https://Example.com/CB"], ["https://Example.com/CB"], id="no-case-folding"),
    pytest.param(["https://b.example/cb", CB, "https://b.example/cb", CB],
                 ["https://b.example/cb", CB], id="dedupe-keeps-order"),
    pytest.param(["https://Example.com/CB", "https://example.com/CB"],
                 ["https://Example.com/CB", "https://example.com/CB"], id="case-is-distinct"),
    pytest.param(FIFTY, FIFTY, id="50-distinct"),
    pytest.param(FIFTY + FIFTY[:10], FIFTY, id="60-entries-dedupe-to-50"),
    pytest.param([URI_2048], [URI_2048], id="2048-chars"),
    pytest.param(["http://127.0.0.1:8080/cb", "com.example.app:/cb"],
                 ["http://127.0.0.1:8080/cb", "com.example.app:/cb"], id="native"),
])
def test_redirect_uris_stored_as_given(uris: list[str], stored: list[str]) -> None:
    canonical, _ = check_client(fields_of(OAUTH2, uris, [AC], ["code"]))
    assert canonical.redirect_uris == stored


# --- invalid OAuth 2.0 / OIDC clients --------------------------------------------------------

INVALID = [
    pytest.param(OAUTH2, [], [], [], "grant_types", "at least one", id="no-grant"),
    pytest.param(OAUTH2, [], ["client_credentials"], [], "grant_types", "not supported",
                 id="unknown-grant"),
    pytest.param(OAUTH2, [CB], ["implicit"], [], "grant_types", "not supported",
                 id="implicit-grant"),
    pytest.param(OAUTH2, [CB], ["Authorization_Code"], [], "grant_types", "not supported",
                 id="grant-case"),
    pytest.param(OAUTH2, [], [MISSPELLED_DEVICE], [], "grant_types", f"'{DEVICE_CODE}'",
                 id="misspelled-device-grant"),
    pytest.param(OIDC, [], [MISSPELLED_DEVICE, RT], [], "grant_types", DEVICE_CODE,
                 id="misspelled-device-grant-with-refresh"),
    pytest.param(OAUTH2, [CB], [AC], ["id_token"], "response_types", "oauth2",
                 id="oauth2-id_token"),
    pytest.param(OAUTH2, [CB], [AC], ["code id_token"], "response_types", "oauth2",
                 id="oauth2-code-id_token"),
    pytest.param(OAUTH2, [CB], [AC], ["code token"], "response_types", "oauth2",
                 id="oauth2-code-token"),
    pytest.param(OIDC, [CB], [AC], ["code code"], "response_types", "code code",
                 id="repeated-word"),
    pytest.param(OIDC, [CB], [AC], ["code id_token code"], "response_types", None,
                 id="repeated-word-2"),
    pytest.param(OIDC, [CB], [AC], ["none"], "response_types", None, id="none"),
    pytest.param(OIDC, [CB], [AC], [""], "response_types", None, id="empty-response"),
    pytest.param(OIDC, [CB], [AC], ["code foo"], "response_types", None, id="unknown-word"),
    pytest.param(OIDC, [CB], [AC], ["Code"], "response_types", None, id="response-case"),
    pytest.param(OAUTH2, [CB], [AC], [], "response_types", "'code'", id="ac-without-code"),
    pytest.param(OAUTH2, [CB], [AC], ["token"], "response_types", "'code'",
                 id="ac-with-token-only"),
    pytest.param(OIDC, [CB], [AC], ["id_token"], "response_types", "'code'",
                 id="ac-with-id_token-only"),
    pytest.param(OAUTH2, [CB], [PW], ["code"], "grant_types", AC, id="code-without-ac"),
    pytest.param(OIDC, [CB], [DEVICE_CODE], ["code id_token"], "grant_types", AC,
                 id="code-id_token-without-ac"),
    pytest.param(OAUTH2, [], [AC], ["code"], "redirect_uris", "redirect URI",
                 id="code-without-uri"),
    pytest.param(OAUTH2, [], [DEVICE_CODE], ["token"], "redirect_uris", "redirect URI",
                 id="token-without-uri"),
    pytest.param(OAUTH2, [], [RT], [], "grant_types", RT, id="refresh-alone"),
    pytest.param(OAUTH2, [], [RT, RT], [], "grant_types", RT, id="refresh-twice"),
    pytest.param(OAUTH2, FIFTY_ONE, [AC], ["code"], "redirect_uris", "At most 50",
                 id="51-uris"),
    pytest.param(OAUTH2, [URI_2049], [AC], ["code"], "redirect_uris", "2048",
                 id="2049-chars"),
    pytest.param(OAUTH2, ["http://example.com/cb"], [AC], ["code"], "redirect_uris", "loopback",
                 id="plain-http"),
    pytest.param(OIDC, [CB, "myapp:/cb"], [AC], ["code"], "redirect_uris", "myapp",
                 id="one-bad-uri"),
]


@pytest.mark.parametrize(("kind", "uris", "grants", "responses", "field", "needle"), INVALID)
def test_invalid_client(kind: ClientType, uris: list[str], grants: list[str],
                        responses: list[str], field: str, needle: str | None) -> None:
    errors = violation_of(fields_of(kind, uris, grants, responses)).errors
    assert list(errors) == [field]
    if needle is not None:
        assert any(needle in message for message in errors[field]), errors


def test_every_wrong_field_is_reported_at_once() -> None:
    violation = violation_of(ClientFields(
        OIDC, "  ", ["http://example.com/cb"], ["client_credentials"], ["code code"]))
    assert set(violation.errors) == {"name", "redirect_uris", "grant_types", "response_types"}
    assert all(violation.errors.values())
    for field in violation.errors:
        assert field in str(violation)


def test_oauth1_reports_every_wrong_field_at_once() -> None:
    violation = violation_of(ClientFields(OAUTH1, "", [CB], [AC], ["code"]))
    assert set(violation.errors) == {"name", "redirect_uris", "grant_types", "response_types"}


# --- response types -------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "canonical"), [
    ("code", "code"),
    ("token", "token"),
    ("id_token", "id_token"),
    ("id_token code", "code id_token"),
    ("token code", "code token"),
    ("token id_token", "id_token token"),
    ("token id_token code", "code id_token token"),
    ("id_token token code", "code id_token token"),
    ("  token   code ", "code token"),
    ("code code", None),
    ("code token code", None),
    ("", None),
    ("   ", None),
    ("none", None),
    ("code foo", None),
    ("CODE", None),
])
def test_canonical_response_type(raw: str, canonical: str | None) -> None:
    assert canonical_response_type(raw) == canonical


@pytest.mark.parametrize(("grants", "responses", "expected"), [
    ([AC], ["code"], []),
    ([AC, RT], ["code", "code id_token", "code token", "code id_token token"], []),
    ([DEVICE_CODE], [], []),
    ([PW], [], [WARN_PASSWORD]),
    ([AC], ["token"], [WARN_IMPLICIT]),
    ([AC], ["id_token"], [WARN_IMPLICIT]),
    ([AC], ["id_token token"], [WARN_IMPLICIT]),
    ([AC], ["code", "token"], [WARN_IMPLICIT]),
    ([PW, AC], ["code", "id_token"], [WARN_PASSWORD, WARN_IMPLICIT]),
])
def test_warnings_for(grants: list[str], responses: list[str], expected: list[str]) -> None:
    assert warnings_for(grants, responses) == expected


def test_warning_texts() -> None:
    assert "RFC 9700" in WARN_PASSWORD
    assert "password" in WARN_PASSWORD
    assert "implicit" in WARN_IMPLICIT
    assert "RFC 9700" in WARN_IMPLICIT


# --- status transitions ---------------------------------------------------------------------

@pytest.mark.parametrize(("action", "current", "expected"), [
    ("approve", Status.PENDING, Status.APPROVED),
    ("approve", Status.DISAPPROVED, Status.APPROVED),
    ("approve", Status.APPROVED, None),
    ("disapprove", Status.PENDING, Status.DISAPPROVED),
    ("disapprove", Status.APPROVED, Status.DISAPPROVED),
    ("disapprove", Status.DISAPPROVED, None),
])
def test_next_status(action: str, current: Status, expected: Status | None) -> None:
    assert next_status(action, current) == expected
