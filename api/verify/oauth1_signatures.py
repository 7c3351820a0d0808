"""Verify an OAuth 1.0a consumer's signed request (RFC 5849) with the secrets we hold.

An authorization server hands us the request a consumer signed and, when the
request carries an `oauth_token`, the token secret it holds for it; we answer
whether the signature is good, so consumer secrets never leave the service.

oauthlib's `SignatureOnlyEndpoint` does the RFC's work: it collects the protocol
parameters from the Authorization header, a form body or the query (exactly one
of them), refuses duplicates and a wrong `oauth_version`, builds the signature
base string and compares signatures in constant time. A `RequestValidator` built
for each request gives it our rules and the consumer's secrets. This module runs
the endpoint's steps one by one (rather than `validate_request`, which answers
only yes or no) so each refusal has a reason, and adds what RFC 5849 leaves to
the server. The steps, in order, and the reason each one gives:

1. the request parses, with a URI that has a scheme and a host: `malformed_request`
2. the URI is https, unless `require_https` is off: `insecure_transport`
3. the timestamp is within `window_s` of now, either way: `stale_timestamp`
4. the method is HMAC-SHA1, HMAC-SHA256 or PLAINTEXT (RSA and HMAC-SHA512 are
   refused): `unsupported_signature_method`; the remaining parameters are present
   and well formed: `malformed_request`
5. PLAINTEXT, which sends the secret itself, is refused over plain http even with
   `require_https` off, except to a loopback host: `insecure_transport`
6. the signature verifies with one of the consumer's secrets: `bad_signature`.
   An unknown client key takes the same path with oauthlib's dummy client and
   gives the same answer, so the answer does not tell which keys exist.
7. the consumer is approved: `not_approved`, told only to a caller whose
   signature proved it holds a secret
8. the nonce was not used before: `replayed_nonce`. It is recorded only now, so
   requests that fail earlier cannot fill the store (see api.verify.oauth1_nonces).

Timing: every request is checked against at least `SECRET_SLOTS` secrets, the
consumer's own (current first, then previous ones still in their grace period)
padded with an unguessable dummy secret, all of them, without stopping at a
match. How long a check takes therefore does not tell whether the key exists,
how many secrets it has or which one matched. PLAINTEXT's comparison returns
early when lengths differ, so it can tell a secret's length; HMAC's cannot.

Logging: this module logs nothing. oauthlib logs at DEBUG the signature base
string of each secret that did not match (so also for a valid request with
several secrets); the base string holds no secret, but holds every form
parameter of the request, so its DEBUG log must stay off in production.
`SignedRequest` and `Consumer` leave signatures and secrets out of their repr.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, cast
from urllib.parse import urlsplit

from oauthlib.common import Request, urlencode
from oauthlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    SIGNATURE_PLAINTEXT,
    InsecureTransportError,
    InvalidSignatureMethodError,
    OAuth1Error,
    RequestValidator,
    SignatureOnlyEndpoint,
)
from oauthlib.oauth1.rfc5849.signature import base_string_uri

from api.verify.oauth1_nonces import NonceCache, NonceKey, NonceStore
from common.keyring import GENERATED_SECRET_BYTES

SIGNATURE_METHODS = (SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_PLAINTEXT)
DEFAULT_WINDOW_S = 300
# Current secret plus up to two previous ones in their grace period.
SECRET_SLOTS = 3
FORM_URLENCODED = "application/x-www-form-urlencoded"

# Client keys as worker.handlers.new_client_key makes them: 32 URL-safe base64
# characters. The range leaves room for another length, not for any string.
_CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Nonces of common clients: digits, hex, UUIDs, URL-safe base64, all unreserved characters.
_NONCE = re.compile(r"[A-Za-z0-9._~-]{8,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,10}")
_HTTP_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
# Not in the client key format, so no real client can be taken for it.
_DUMMY_CLIENT = "dummy client"


class Reason(StrEnum):
    OK = "ok"
    MALFORMED_REQUEST = "malformed_request"
    INSECURE_TRANSPORT = "insecure_transport"
    UNSUPPORTED_SIGNATURE_METHOD = "unsupported_signature_method"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"  # also the answer for an unknown client key
    NOT_APPROVED = "not_approved"
    REPLAYED_NONCE = "replayed_nonce"


@dataclass(frozen=True)
class Verification:
    reason: Reason
    # Which of the consumer's `secrets` the signature was made with, once it was
    # proven (ok, not_approved, replayed_nonce): its use is noted for the administrator.
    matched: int | None = None

    @property
    def valid(self) -> bool:
        return self.reason is Reason.OK


@dataclass(frozen=True)
class Consumer:
    """A client as the verifier needs it: secrets current first, then previous ones still valid."""

    approved: bool
    secrets: tuple[str, ...] = field(repr=False)


ConsumerLookup = Callable[[str], Consumer | None]


@dataclass(frozen=True)
class SignedRequest:
    """The request as the consumer sent it: the full URI it used, its headers and body.

    `body` is the raw body (used only when Content-Type is form-urlencoded) or the
    form parameters (pairs or a mapping), which are taken as a form-urlencoded body.
    """

    http_method: str
    uri: str = field(repr=False)  # the query may carry the signature
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: str | Mapping[str, str] | Sequence[tuple[str, str]] | None = field(default=None,
                                                                           repr=False)


class SignatureVerifier:
    """Checks signed requests; share one per process (it keeps the nonce store)."""

    def __init__(self, *, window_s: int = DEFAULT_WINDOW_S, nonces: NonceStore | None = None,
                 require_https: bool = True) -> None:
        if window_s < 1:
            raise ValueError("window_s must be at least 1")
        self._window_s = window_s
        self._nonces: NonceStore = nonces if nonces is not None else NonceCache()
        self._require_https = require_https
        self._dummy_secret = secrets.token_urlsafe(GENERATED_SECRET_BYTES)

    def verify(self, request: SignedRequest, lookup: ConsumerLookup,
               token_secret: str | None = None) -> Verification:
        """Whether `request` is fresh and signed by an approved consumer; bad input is an answer.

        `lookup` maps a well-formed client key to its consumer, None when unknown.
        `token_secret` is the secret of the request's `oauth_token`; it is ignored
        when the request has none. Raises NonceStoreUnavailable when the nonce
        store can neither record nor refuse.
        """
        rules = _RequestRules(lookup, token_secret, window_s=self._window_s,
                              require_https=self._require_https,
                              dummy_secret=self._dummy_secret)
        steps = _steps(rules)
        parsed = _parse(steps, request)
        if parsed is None:
            return Verification(Reason.MALFORMED_REQUEST)
        refusal = self._refusal_before_signature(steps, parsed)
        if refusal is not None:
            return Verification(refusal)
        try:
            return self._signed_by_approved_consumer(steps, rules, parsed)
        except ValueError:  # oauthlib could not build the base string
            return Verification(Reason.MALFORMED_REQUEST)

    def _refusal_before_signature(self, steps: _EndpointSteps, parsed: Request) -> Reason | None:
        """Steps 2 to 5: what can be refused without looking up the client."""
        try:
            steps._check_transport_security(parsed)
        except InsecureTransportError:
            return Reason.INSECURE_TRANSPORT
        if self._is_stale(parsed.timestamp):
            return Reason.STALE_TIMESTAMP
        try:
            steps._check_mandatory_parameters(parsed)
        except InvalidSignatureMethodError:
            return Reason.UNSUPPORTED_SIGNATURE_METHOD
        except OAuth1Error:
            return Reason.MALFORMED_REQUEST
        if parsed.signature_method == SIGNATURE_PLAINTEXT:
            if not _confidential(parsed.uri):
                return Reason.INSECURE_TRANSPORT
            _read_plaintext_signature_once(parsed)
        return None

    def _signed_by_approved_consumer(self, steps: _EndpointSteps, rules: _RequestRules,
                                     parsed: Request) -> Verification:
        """Steps 6 to 8: signature with every secret slot, approval, then the nonce."""
        client_key, timestamp, nonce = _required(parsed)
        known = rules.validate_client_key(client_key, parsed)
        if not known:
            parsed.client_key = rules.dummy_client  # type: ignore[attr-defined]
        matched: int | None = None
        for slot in range(rules.slot_count):
            rules.slot = slot
            # No short cut: every slot is checked, so every slot costs the same.
            if steps._check_signature(parsed) and matched is None:
                matched = slot
        if not known or matched is None or rules.consumer is None \
                or matched >= len(rules.consumer.secrets):
            return Verification(Reason.BAD_SIGNATURE)
        if not rules.consumer.approved:
            return Verification(Reason.NOT_APPROVED, matched)
        key = NonceKey(client_key, timestamp, nonce, parsed.resource_owner_key or "")
        if self._nonces.seen_before(key, int(timestamp) + self._window_s):
            return Verification(Reason.REPLAYED_NONCE, matched)
        return Verification(Reason.OK, matched)

    def _is_stale(self, timestamp: str | None) -> bool:
        # A timestamp that is no number is oauthlib's to refuse, as malformed.
        if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
            return False
        return abs(time.time() - int(timestamp)) > self._window_s


def consumer_key_of(request: SignedRequest) -> str | None:
    """The client key a request names, if it parses and the key is well formed.

    Lets an async caller fetch the consumer before calling `verify`; the key is
    not yet proven, so treat it as a claim.
    """
    parsed = _parse(_steps(RequestValidator()), request)
    key = None if parsed is None else parsed.client_key
    return key if key is not None and _CLIENT_KEY.fullmatch(key) else None


class _RequestRules(RequestValidator):
    """What oauthlib asks the server about one request: our formats, and the consumer's secrets."""

    def __init__(self, lookup: ConsumerLookup, token_secret: str | None, *, window_s: int,
                 require_https: bool, dummy_secret: str) -> None:
        super().__init__()
        self._lookup = lookup
        self._token_secret = token_secret
        self._window_s = window_s
        self._require_https = require_https
        self._dummy_secret = dummy_secret
        self.consumer: Consumer | None = None
        self.slot = 0

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return SIGNATURE_METHODS

    @property
    def enforce_ssl(self) -> bool:
        return self._require_https

    @property
    def timestamp_lifetime(self) -> int:
        return self._window_s

    def check_client_key(self, client_key: str) -> bool:
        return _CLIENT_KEY.fullmatch(client_key) is not None

    def check_nonce(self, nonce: str) -> bool:
        return _NONCE.fullmatch(nonce) is not None

    @property
    def dummy_client(self) -> str:
        return _DUMMY_CLIENT

    def validate_client_key(self, client_key: str, request: Request) -> bool:
        self.consumer = self._lookup(client_key)
        return self.consumer is not None

    @property
    def slot_count(self) -> int:
        return max(SECRET_SLOTS, len(self._candidates()))

    def get_client_secret(self, client_key: str, request: Request) -> str:
        candidates = self._candidates()
        return candidates[self.slot] if self.slot < len(candidates) else self._dummy_secret

    def get_access_token_secret(self, client_key: str, token: str, request: Request) -> str:
        return self._token_secret or ""

    def _candidates(self) -> tuple[str, ...]:
        return () if self.consumer is None else self.consumer.secrets


class _EndpointSteps(Protocol):
    """The steps of oauthlib's BaseEndpoint that SignatureOnlyEndpoint.validate_request runs."""

    def _create_request(self, uri: str, http_method: str, body: str,
                        headers: Mapping[str, str]) -> Request: ...

    def _check_transport_security(self, request: Request) -> None: ...

    def _check_mandatory_parameters(self, request: Request) -> None: ...

    def _check_signature(self, request: Request, is_token_request: bool = False) -> bool: ...


def _steps(rules: RequestValidator) -> _EndpointSteps:
    return cast(_EndpointSteps, SignatureOnlyEndpoint(rules))


def _parse(steps: _EndpointSteps, request: SignedRequest) -> Request | None:
    if not _HTTP_METHOD.fullmatch(request.http_method):
        return None
    headers = dict(request.headers)
    if isinstance(request.body, str) or request.body is None:
        body = request.body or ""
    else:
        pairs = request.body.items() if isinstance(request.body, Mapping) else request.body
        body = urlencode(list(pairs))
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        headers["Content-Type"] = FORM_URLENCODED
    try:
        base_string_uri(request.uri)  # a scheme, a host and a valid port, or ValueError
        return steps._create_request(request.uri, request.http_method, body, headers)
    except (OAuth1Error, ValueError):
        return None


def _read_plaintext_signature_once(parsed: Request) -> None:
    """Undo oauthlib's second decoding of a PLAINTEXT signature sent in a form body or query.

    oauthlib decodes protocol values found in a form body or the query twice (once
    as form data, once more as a protocol value). A PLAINTEXT signature is the
    percent-encoded secrets, so a secret with a space, `&`, `+` or `%` would never
    match there. It is read again from where it came, decoded once as RFC 5849
    3.5.2 and 3.5.3 say; from the Authorization header oauthlib reads it right.
    """
    sent = [value for name, value in [*(parsed.decoded_body or []), *parsed.uri_query_params]
            if name == "oauth_signature"]
    if len(sent) == 1:
        parsed.signature = sent[0]  # type: ignore[attr-defined]


def _required(parsed: Request) -> tuple[str, str, str]:
    """Client key, timestamp and nonce, which oauthlib's checks have found present."""
    client_key, timestamp, nonce = parsed.client_key, parsed.timestamp, parsed.nonce
    if not (client_key and timestamp and nonce):
        raise AssertionError("oauthlib passed a request without its mandatory parameters")
    return client_key, timestamp, str(nonce)


def _confidential(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme.lower() == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
