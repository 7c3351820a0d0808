"""OAuth 1.0a signature verification, with oauthlib's own client as the consumer."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    SIGNATURE_HMAC_SHA512,
    SIGNATURE_PLAINTEXT,
    SIGNATURE_RSA_SHA1,
    SIGNATURE_RSA_SHA256,
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
)
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature
from oauthlib.oauth1.rfc5849.utils import escape

from api.verify.oauth1_signatures import (
    SECRET_SLOTS,
    Consumer,
    Reason,
    SignatureVerifier,
    SignedRequest,
    Verification,
    consumer_key_of,
)
from tests.unit.oauth1_requests import (
    APPROVED,
    HMAC_METHODS,
    KEY,
    METHODS,
    OTHER_KEY,
    PLACEMENTS,
    PREVIOUS,
    SECRET,
    TOKEN_SECRET,
    URI,
    lookup_of,
    signed,
    verify,
)

# --- A genuine request verifies, whatever the method, token and placement ---

@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
@pytest.mark.parametrize("method", METHODS)
def test_a_genuine_request_verifies(method: str, with_token: bool, placement: str) -> None:
    request = signed(method, placement, with_token=with_token)
    result = SignatureVerifier().verify(request, lookup_of({KEY: APPROVED}),
                                        TOKEN_SECRET if with_token else None)
    assert result == Verification(Reason.OK, matched=0)
    assert result.valid


@pytest.mark.parametrize("as_form", [list, dict], ids=["pairs", "mapping"])
@pytest.mark.parametrize("method", METHODS)
def test_form_parameters_may_come_decoded_without_a_content_type(
        method: str, as_form: Callable[[list[tuple[str, str]]], Any]) -> None:
    request = signed(method, SIGNATURE_TYPE_BODY)
    assert isinstance(request.body, str)
    form = as_form(parse_qsl(request.body, keep_blank_values=True))
    assert verify(dataclasses.replace(request, headers={}, body=form)) is Reason.OK


def test_a_token_secret_for_a_request_without_a_token_is_ignored() -> None:
    assert verify(signed(with_token=False), token_secret="unused") is Reason.OK


# --- A tampered request fails ---

def _replace_in_uri(old: str, new: str) -> Callable[[SignedRequest], SignedRequest]:
    def tamper(request: SignedRequest) -> SignedRequest:
        assert old in request.uri
        return dataclasses.replace(request, uri=request.uri.replace(old, new, 1))
    return tamper


def _replace_in_body(old: str, new: str) -> Callable[[SignedRequest], SignedRequest]:
    def tamper(request: SignedRequest) -> SignedRequest:
        assert isinstance(request.body, str) and old in request.body
        return dataclasses.replace(request, body=request.body.replace(old, new, 1))
    return tamper


def _other_method(request: SignedRequest) -> SignedRequest:
    return dataclasses.replace(request, http_method="PUT")


def _without_signature(request: SignedRequest) -> SignedRequest:
    def strip(text: str) -> str:
        return re.sub(r',? ?oauth_signature="[^"]*"|&?oauth_signature=[^&]*', "", text)
    headers = {name: strip(value) for name, value in request.headers.items()}
    body = strip(request.body) if isinstance(request.body, str) else request.body
    stripped = SignedRequest(request.http_method, strip(request.uri), headers, body)
    assert "oauth_signature=" not in repr((stripped.uri, stripped.headers, stripped.body))
    return stripped


CONTENT_TAMPERING = {
    "path": _replace_in_uri("/v1/photos", "/v1/photoz"),
    "query value": _replace_in_uri("size=large", "size=small"),
    "query added": _replace_in_uri("?size=large", "?admin=1&size=large"),
    "host": _replace_in_uri("as.example.test", "other.example.test"),
    "port": _replace_in_uri("as.example.test", "as.example.test:8443"),
    "body value": _replace_in_body("title=Sunset", "title=Sunrise"),
    "method": _other_method,
}


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", HMAC_METHODS)
@pytest.mark.parametrize("tamper", CONTENT_TAMPERING.values(), ids=CONTENT_TAMPERING.keys())
def test_an_hmac_signature_covers_method_uri_and_form(
        tamper: Callable[[SignedRequest], SignedRequest], method: str, placement: str) -> None:
    assert verify(tamper(signed(method, placement))) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("tamper", CONTENT_TAMPERING.values(), ids=CONTENT_TAMPERING.keys())
def test_plaintext_proves_the_secrets_only_not_the_content(
        tamper: Callable[[SignedRequest], SignedRequest]) -> None:
    # RFC 5849 3.4.4: PLAINTEXT signs nothing; it relies on TLS for the rest.
    assert verify(tamper(signed(SIGNATURE_PLAINTEXT))) is Reason.OK


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("request_of", "token_secret", "reason"), [
    pytest.param(lambda m, p: signed(m, p, secret="a different secret"), TOKEN_SECRET,
                 Reason.BAD_SIGNATURE, id="other consumer secret"),
    pytest.param(lambda m, p: signed(m, p, token_secret="another token secret"), TOKEN_SECRET,
                 Reason.BAD_SIGNATURE, id="other token secret"),
    pytest.param(lambda m, p: signed(m, p), None,
                 Reason.BAD_SIGNATURE, id="token secret not given"),
    pytest.param(lambda m, p: signed(m, p, key=OTHER_KEY), TOKEN_SECRET,
                 Reason.BAD_SIGNATURE, id="other consumer key"),
    pytest.param(lambda m, p: _without_signature(signed(m, p)), TOKEN_SECRET,
                 Reason.MALFORMED_REQUEST, id="signature stripped"),
])
def test_wrong_credentials_fail_for_every_method(
        request_of: Callable[[str, str], SignedRequest], token_secret: str | None,
        reason: Reason, method: str, placement: str) -> None:
    assert verify(request_of(method, placement), token_secret=token_secret) is reason


# --- Unknown keys, several secrets, approval ---

def test_an_unknown_key_and_a_wrong_secret_get_the_same_answer() -> None:
    unknown = SignatureVerifier().verify(signed(key=OTHER_KEY), lookup_of({KEY: APPROVED}),
                                         TOKEN_SECRET)
    wrong = SignatureVerifier().verify(signed(secret="guessed"), lookup_of({KEY: APPROVED}),
                                       TOKEN_SECRET)
    assert unknown == wrong == Verification(Reason.BAD_SIGNATURE)


@pytest.mark.parametrize("secret", [SECRET, *PREVIOUS])
def test_every_secret_still_in_its_grace_period_verifies(secret: str) -> None:
    consumer = Consumer(approved=True, secrets=(SECRET, *PREVIOUS))
    assert verify(signed(secret=secret), consumer=consumer) is Reason.OK
    retired = Consumer(approved=True, secrets=tuple(s for s in consumer.secrets if s != secret))
    assert verify(signed(secret=secret), consumer=retired) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(("secret", "place"), [(SECRET, 0), (PREVIOUS[0], 1), (PREVIOUS[1], 2)])
def test_the_secret_that_signed_is_told_once_the_signature_proved_it(secret: str,
                                                                      place: int) -> None:
    consumer = Consumer(approved=True, secrets=(SECRET, *PREVIOUS))
    result = SignatureVerifier().verify(signed(secret=secret), lookup_of({KEY: consumer}),
                                        TOKEN_SECRET)
    assert result == Verification(Reason.OK, matched=place)
    guessed = SignatureVerifier().verify(signed(secret="guessed"), lookup_of({KEY: consumer}),
                                         TOKEN_SECRET)
    assert guessed == Verification(Reason.BAD_SIGNATURE, matched=None)


@pytest.fixture
def checked_secrets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each client secret oauthlib's HMAC-SHA1 check is given, in order."""
    seen: list[str] = []
    real = oauthlib_signature.verify_hmac_sha1

    def recording(request: Any, client_secret: str | None = None,
                  resource_owner_secret: str | None = None) -> bool:
        seen.append(client_secret or "")
        return real(request, client_secret, resource_owner_secret)

    monkeypatch.setattr(oauthlib_signature, "verify_hmac_sha1", recording)
    return seen


@pytest.mark.parametrize(("consumer", "signing_secret", "reason"), [
    pytest.param(None, SECRET, Reason.BAD_SIGNATURE, id="unknown key"),
    pytest.param(Consumer(True, (SECRET,)), "wrong", Reason.BAD_SIGNATURE, id="wrong secret"),
    pytest.param(Consumer(True, (SECRET,)), SECRET, Reason.OK, id="one secret"),
    pytest.param(Consumer(True, (SECRET, *PREVIOUS)), SECRET, Reason.OK, id="current matches"),
    pytest.param(Consumer(True, (SECRET, *PREVIOUS)), PREVIOUS[1], Reason.OK, id="oldest matches"),
    pytest.param(Consumer(False, (SECRET,)), SECRET, Reason.NOT_APPROVED, id="not approved"),
])
def test_every_request_checks_the_same_number_of_secrets_without_stopping_at_a_match(
        checked_secrets: list[str], consumer: Consumer | None, signing_secret: str,
        reason: Reason) -> None:
    assert verify(signed(secret=signing_secret), consumer=consumer) is reason
    assert len(checked_secrets) == SECRET_SLOTS
    own = consumer.secrets if consumer is not None else ()
    assert tuple(checked_secrets[:len(own)]) == own  # current first, then the previous ones
    fillers = set(checked_secrets[len(own):])
    assert len(fillers) <= 1 and not fillers & {SECRET, *PREVIOUS, signing_secret}


def test_a_client_that_is_not_approved_is_told_so_only_with_a_good_signature() -> None:
    pending = Consumer(approved=False, secrets=(SECRET,))
    assert verify(signed(), consumer=pending) is Reason.NOT_APPROVED
    assert verify(signed(secret="guessed"), consumer=pending) is Reason.BAD_SIGNATURE


def test_a_client_without_secrets_verifies_nothing() -> None:
    assert verify(signed(), consumer=Consumer(approved=True, secrets=())) is Reason.BAD_SIGNATURE


# --- Refused before any secret is used ---

@pytest.fixture(scope="module")
def rsa_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize("method", [SIGNATURE_RSA_SHA1, SIGNATURE_RSA_SHA256])
def test_rsa_signatures_are_refused(method: str, rsa_private_pem: str) -> None:
    request = signed(method, secret="", rsa_key=rsa_private_pem)
    assert verify(request) is Reason.UNSUPPORTED_SIGNATURE_METHOD


def test_hmac_sha512_is_refused() -> None:
    assert verify(signed(SIGNATURE_HMAC_SHA512)) is Reason.UNSUPPORTED_SIGNATURE_METHOD


@pytest.mark.parametrize(("request_of", "reason"), [
    pytest.param(lambda: signed(timestamp="12345abcde"), Reason.MALFORMED_REQUEST,
                 id="timestamp not a number"),
    pytest.param(lambda: signed(nonce="short"), Reason.MALFORMED_REQUEST, id="nonce too short"),
    pytest.param(lambda: signed(nonce="n" * 65), Reason.MALFORMED_REQUEST, id="nonce too long"),
    pytest.param(lambda: signed(nonce="nonce with spaces"), Reason.MALFORMED_REQUEST,
                 id="nonce with spaces"),
    pytest.param(lambda: signed(key="short-key"), Reason.MALFORMED_REQUEST, id="key too short"),
    pytest.param(lambda: signed(key="k" * 31 + "!"), Reason.MALFORMED_REQUEST,
                 id="key with a foreign character"),
    pytest.param(lambda: _replace_in_uri("oauth_version=1.0", "oauth_version=2.0")(
        signed(placement=SIGNATURE_TYPE_QUERY)), Reason.MALFORMED_REQUEST, id="oauth_version 2"),
    pytest.param(lambda: _replace_in_uri("?size", "?oauth_nonce=twice-over&size")(
        signed(placement=SIGNATURE_TYPE_QUERY)), Reason.MALFORMED_REQUEST, id="duplicate nonce"),
    pytest.param(lambda: _replace_in_uri("?size", "?oauth_nonce=elsewhere&size")(signed()),
                 Reason.MALFORMED_REQUEST, id="header and query both"),
    pytest.param(lambda: SignedRequest("POST", URI, {"Authorization": "Basic Zm9vOmJhcg=="}),
                 Reason.MALFORMED_REQUEST, id="no oauth parameters"),
    pytest.param(lambda: dataclasses.replace(signed(), uri="https:///v1/photos"),
                 Reason.MALFORMED_REQUEST, id="no host"),
    pytest.param(lambda: dataclasses.replace(signed(), uri="/v1/photos"),
                 Reason.MALFORMED_REQUEST, id="relative uri"),
    pytest.param(lambda: _replace_in_uri("as.example.test", "as.example.test:99999")(signed()),
                 Reason.MALFORMED_REQUEST, id="port out of range"),
    pytest.param(lambda: dataclasses.replace(signed(), http_method="PO ST"),
                 Reason.MALFORMED_REQUEST, id="method not a token"),
    pytest.param(lambda: dataclasses.replace(signed(placement=SIGNATURE_TYPE_BODY), headers={}),
                 Reason.MALFORMED_REQUEST, id="body parameters without form content type"),
])
def test_a_malformed_request_is_refused_before_any_lookup(
        request_of: Callable[[], SignedRequest], reason: Reason) -> None:
    looked_up: list[str] = []

    def lookup(key: str) -> Consumer | None:
        looked_up.append(key)
        return APPROVED

    assert SignatureVerifier().verify(request_of(), lookup, TOKEN_SECRET).reason is reason
    assert looked_up == []


# --- Transport ---

@pytest.mark.parametrize("method", METHODS)
def test_plain_http_is_refused_by_default(method: str) -> None:
    request = signed(method, uri=URI.replace("https://", "http://"))
    assert verify(request) is Reason.INSECURE_TRANSPORT


@pytest.mark.parametrize(("method", "host", "reason"), [
    (SIGNATURE_HMAC_SHA1, "as.example.test", Reason.OK),
    (SIGNATURE_HMAC_SHA256, "as.example.test", Reason.OK),
    (SIGNATURE_PLAINTEXT, "as.example.test", Reason.INSECURE_TRANSPORT),
    (SIGNATURE_PLAINTEXT, "127.0.0.1:8080", Reason.OK),
    (SIGNATURE_PLAINTEXT, "localhost:8080", Reason.OK),
    (SIGNATURE_PLAINTEXT, "[::1]:8080", Reason.OK),
])
def test_with_http_allowed_plaintext_still_needs_https_or_loopback(
        method: str, host: str, reason: Reason) -> None:
    request = signed(method, uri=f"http://{host}/v1/photos?size=large")
    assert verify(request, verifier=SignatureVerifier(require_https=False)) is reason


# --- What the caller may log ---

def test_consumer_key_of_names_a_well_formed_key_only() -> None:
    assert consumer_key_of(signed()) == KEY
    assert consumer_key_of(signed(placement=SIGNATURE_TYPE_BODY)) == KEY
    assert consumer_key_of(signed(key="not a key at all, far too long" * 3)) is None
    assert consumer_key_of(SignedRequest("GET", URI)) is None


def test_no_secret_reaches_a_repr_or_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    consumer = Consumer(approved=True, secrets=(SECRET, *PREVIOUS))
    # Signed first: oauthlib's client logs a PLAINTEXT signature, that is the secrets.
    requests = [(signed(method, placement), signed(method, placement, secret="guessed"))
                for method in METHODS for placement in PLACEMENTS]
    caplog.set_level(logging.DEBUG)
    for genuine, forged in requests:
        assert verify(genuine, consumer=consumer) is Reason.OK
        assert verify(forged, consumer=consumer) is Reason.BAD_SIGNATURE
        assert "oauth_signature" not in repr(genuine)
    assert "Verify HMAC failed" in caplog.text  # oauthlib's DEBUG lines were captured
    written = caplog.text + repr(consumer)
    for secret in (SECRET, *PREVIOUS, TOKEN_SECRET, "guessed"):
        assert secret not in written
        assert escape(secret) not in written


def test_a_verifier_refuses_a_window_it_cannot_keep() -> None:
    with pytest.raises(ValueError, match="window_s"):
        SignatureVerifier(window_s=0)
