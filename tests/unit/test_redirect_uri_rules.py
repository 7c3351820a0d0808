"""The redirect URI rule (common.redirect_uris) as create and edit apply it, a table per outcome."""

from __future__ import annotations

import pytest

from common.clients import redirect_uri_problem
from tests.unit.client_rules import (
    AC,
    CB,
    OAUTH2,
    OIDC,
    URI_2048,
    URI_2049,
    fields_of,
    violation_of,
)

# --- redirect URIs --------------------------------------------------------------------------

GOOD_URIS = [
    CB, "https://Example.com/CB", "https://example.com/cb?state=1", "https://example.com:8443/cb",
    "http://127.0.0.1:8080/cb", "http://127.0.0.1/cb", "http://[::1]/cb", "http://[::1]:9000/cb",
    "http://localhost/cb", "http://localhost:3000/cb", "com.example.app:/cb",
    "com.example.app:/oauth2redirect/provider", URI_2048,
    "com.example.app://callback/cb", "com.example-corp.app2:/cb", "Com.Example.App:/cb",
    "io.github.user:/cb", "https://example.com/cb?next=a@b", "https://example.com/@user/cb",
    "https://example.com:1/cb", "https://example.com:65535/cb", "com.example.app:/cb@x",
]
BAD_URIS = [
    "", "/cb", "cb", "//example.com/cb", "example.com/cb",
    "https://example.com/cb#", "https://example.com/cb#frag", "https://example.com/#/cb",
    "https://*.example.com/cb", "https://example.com/*", URI_2049,
    "http://example.com/cb", "http://127.0.0.2/cb", "http://localhost.example.com/cb",
    "http://[::2]/cb", "http://10.0.0.1/cb",
    "myapp:/cb", "javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd", "ftp://example.com/cb",
    "https://user:pass@example.com/cb", "https://user@example.com/cb",
    "http://user:pass@127.0.0.1/cb",
    "https://example.com/c b", " https://example.com/cb", "https://example.com/cb\t",
    "https://example.com/cb\x00", "https://example.com/cb\n", "https://example.com/cb\x7f",
    "https:///cb", "https://example.com:99999/cb", "http://[::1/cb",
]
# Each with the words its refusal must use.
REFUSED_URIS = [
    pytest.param("https://user@example.com/cb", "credentials", id="https-user"),
    pytest.param("https://user:pass@example.com/cb", "credentials", id="https-user-pass"),
    pytest.param("https://@example.com/cb", "credentials", id="https-empty-userinfo"),
    pytest.param("https://:pass@example.com/cb", "credentials", id="https-password-only"),
    pytest.param("http://user@127.0.0.1/cb", "credentials", id="loopback-user"),
    pytest.param("http://user:pass@localhost:8080/cb", "credentials", id="localhost-user-pass"),
    pytest.param("com.example.app://user@callback/cb", "credentials", id="private-user"),
    pytest.param("com.example.app://user:pw@host/cb", "credentials", id="private-user-pass"),
    pytest.param("https://example.com:0/cb", "Port 0", id="https-port-0"),
    pytest.param("https://example.com:00/cb", "Port 0", id="https-port-00"),
    pytest.param("http://127.0.0.1:0/cb", "Port 0", id="loopback-port-0"),
    pytest.param("http://[::1]:0/cb", "Port 0", id="ipv6-loopback-port-0"),
    pytest.param("com.example.app://host:0/cb", "Port 0", id="private-port-0"),
    pytest.param("myapp:/cb", "reverse-domain", id="no-period"),
    pytest.param("myapp://callback", "reverse-domain", id="no-period-authority"),
    pytest.param("com.:/cb", "reverse-domain", id="empty-last-label"),
    pytest.param("com..example:/cb", "reverse-domain", id="empty-inner-label"),
    pytest.param("com.example.:/cb", "reverse-domain", id="trailing-period"),
    pytest.param("com.-example:/cb", "reverse-domain", id="label-starts-with-hyphen"),
    pytest.param("com.example-:/cb", "reverse-domain", id="label-ends-with-hyphen"),
    pytest.param("com.example+app:/cb", "reverse-domain", id="plus"),
    pytest.param("javascript:alert(1)", "reverse-domain", id="javascript"),
    pytest.param("https://example.com/\u202ebc", "bidirectional", id="bidi-override"),
    pytest.param("https://example.com/\u2066cb", "bidirectional", id="bidi-isolate"),
    pytest.param("https://example.com/cb\u2028", "spaces", id="line-separator"),
]


@pytest.mark.parametrize("uri", GOOD_URIS)
def test_redirect_uri_accepted(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize("uri", BAD_URIS)
def test_redirect_uri_rejected(uri: str) -> None:
    problem = redirect_uri_problem(uri)
    assert isinstance(problem, str)
    assert problem
    errors = violation_of(fields_of(OAUTH2, [uri], [AC], ["code"])).errors
    assert list(errors) == ["redirect_uris"]


@pytest.mark.parametrize(("uri", "needle"), REFUSED_URIS)
def test_redirect_uri_refused_with_its_reason(uri: str, needle: str) -> None:
    problem = redirect_uri_problem(uri)
    assert problem is not None and needle in problem, problem
    errors = violation_of(fields_of(OAUTH2, [CB, uri], [AC], ["code"])).errors
    assert list(errors) == ["redirect_uris"]
    assert len(errors["redirect_uris"]) == 1
    assert errors["redirect_uris"][0].startswith(f"Entry 2 ({uri!r}): ")


def test_each_refused_redirect_uri_is_named_by_its_place_in_the_request() -> None:
    uris = ["myapp:/cb", CB, CB, "https://u@example.com/cb", "https://example.com:0/cb"]
    errors = violation_of(fields_of(OIDC, uris, [AC], ["code"])).errors
    assert [m.split(" (")[0] for m in errors["redirect_uris"]] == ["Entry 1", "Entry 4",
                                                                   "Entry 5"]


# --- warnings -------------------------------------------------------------------------------
