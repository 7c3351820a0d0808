"""Reading a token request's client credentials (RFC 6749 §2.3.1)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote_plus

import pytest

from api.verify.presented_credentials import (
    NotPresented,
    Presented,
    PresentedMethod,
    read_presented,
)


def basic(client_id: str, secret: str, *, encode: bool = True) -> str:
    """The header as a conforming client builds it: form-urlencode, join, base64."""
    user, password = (quote_plus(client_id), quote_plus(secret)) if encode else (
        client_id, secret)
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("client_id", "secret"), [
    ("ck_abc123", "s3cret"),
    ("ck_abc123", "with:colon and space+plus&amp=equals%percent"),
    ("ck_abc123", "ünïcødé-pässwörd-🙂"),
    ("id with spaces/and?query", "x"),
])
def test_basic_is_form_urlencoded_inside_the_base64(client_id: str, secret: str) -> None:
    presented = read_presented(basic(client_id, secret), {})
    assert (presented.client_id, presented.method, presented.secrets[0]) == (
        client_id, PresentedMethod.CLIENT_SECRET_BASIC, secret)


def test_a_plus_in_basic_is_a_space_as_form_urlencoding_says_or_a_plus_as_sent() -> None:
    presented = read_presented(basic("ck_a", "two+words", encode=False), {})
    assert presented.secrets == ("two words", "two+words")


def test_a_secret_that_reads_the_same_both_ways_is_read_once() -> None:
    assert read_presented(basic("ck_a", "plain-secret_1"), {}).secrets == ("plain-secret_1",)
    assert read_presented(basic("ck_a", "a b%c"), {}).secrets == ("a b%c", "a+b%25c")


def test_basic_sent_as_latin_1_without_form_urlencoding_is_read() -> None:
    """As Authlib's client and requests' HTTPBasicAuth send it."""
    header = "Basic " + base64.b64encode("ck_a:süß+%".encode("latin-1")).decode()
    presented = read_presented(header, {})
    assert presented.client_id == "ck_a" and "süß+%" in presented.secrets


def test_the_scheme_is_case_insensitive_and_the_form_may_repeat_the_id() -> None:
    header = basic("ck_a", "s").replace("Basic", "bAsIc")
    assert read_presented(header, {"client_id": "ck_a", "grant_type": "x"}).client_id == "ck_a"


def test_post_takes_both_from_the_form() -> None:
    assert read_presented(None, {"client_id": "ck_a", "client_secret": "s"}) == Presented(
        "ck_a", PresentedMethod.CLIENT_SECRET_POST, "s")


def test_none_is_a_client_id_alone() -> None:
    assert read_presented("", {"client_id": "ck_a"}) == Presented("ck_a", PresentedMethod.NONE)


def _unsigned(claims: dict[str, str]) -> str:
    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION = _unsigned({"iss": "ck_a", "sub": "ck_a"})


@pytest.mark.parametrize(("authorization", "form"), [
    (None, {}),
    (None, {"client_secret": "s"}),
    ("", {"client_id": ""}),
    (basic("ck_a", "s"), {"client_secret": "s"}),             # two methods at once
    (basic("ck_a", "s"), {"client_id": "ck_b"}),              # two different clients
    ("Bearer abc", {}),
    ("Basic", {}),
    ("Basic !!!not-base64!!!", {}),
    ("Basic " + base64.b64encode(b"no-colon").decode(), {}),
    ("Basic " + base64.b64encode(b":secret-without-id").decode(), {}),
    # An assertion beside a secret, or naming no client (no sub, no client_id).
    (basic("ck_a", "s"), {"client_assertion": ASSERTION, "client_assertion_type": BEARER}),
    (None, {"client_assertion": ASSERTION, "client_assertion_type": BEARER,
            "client_secret": "s"}),
    (None, {"client_assertion": "not-a-jwt", "client_assertion_type": BEARER}),
    (None, {"client_assertion": _unsigned({"iss": "ck_a"}), "client_assertion_type": BEARER}),
])
def test_anything_else_presents_nothing(authorization: str | None,
                                        form: dict[str, str]) -> None:
    with pytest.raises(NotPresented):
        read_presented(authorization, form)


def test_an_assertion_names_its_client_by_sub_or_by_client_id() -> None:
    read = read_presented(None, {"client_assertion": ASSERTION,
                                 "client_assertion_type": BEARER})
    assert (read.client_id, read.method, read.assertion, read.client_id_sent) == (
        "ck_a", PresentedMethod.PRIVATE_KEY_JWT, ASSERTION, False)
    named = read_presented(None, {"client_assertion": "x.y.z", "client_id": "ck_b",
                                  "client_assertion_type": BEARER})
    assert (named.client_id, named.client_id_sent) == ("ck_b", True)
    assert ASSERTION not in repr(read)


def test_the_secret_is_not_in_the_repr() -> None:
    assert "hunter2" not in repr(read_presented(basic("ck_a", "hunter2"), {}))
