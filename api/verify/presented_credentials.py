"""What a client presented at a token endpoint, read as RFC 6749 §2.3.1 says.

An authorization server hands clientkeys the `Authorization` header and the form
fields as it received them, and this module says which client they name, with
which secret, by which method:

- `client_secret_basic`: HTTP Basic, whose user-id and password are the client id
  and secret *form-urlencoded* before base64 (RFC 6749 §2.3.1, so `+` is a space
  and `%3A` a colon);
- `client_secret_post`: `client_id` and `client_secret` in the form;
- `none`: a public client, `client_id` in the form and nothing else;
- `private_key_jwt`: `client_assertion_type` and `client_assertion` in the form (RFC 7523
  §2.2), the client named by the assertion's `sub` (read here without checking anything:
  `api.verify.client_assertions` checks it) or by `client_id` when the assertion does not
  decode.

Many clients do not form-urlencode inside Basic (Authlib's and requests' own
Basic auth among them: they send the secret as it is, in Latin-1), so a secret
that reads differently the two ways (it holds `+` or `%`) is also offered as
sent (`raw_secret`), and bytes that are not UTF-8 are read as Latin-1. Which
readings are tried depends only on what the request sent, never on the client.
Client keys are URL-safe, so both readings of a real key agree.

A request that presents credentials in more than one way, or a malformed one, is
refused as a whole (RFC 6749 §2.3: one method per request), with the same answer
as a wrong secret. The standard library does this rather than Authlib's server
helper, which reads Basic without form-urlencoding and without strict base64.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote_plus


class PresentedMethod(StrEnum):
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"
    PRIVATE_KEY_JWT = "private_key_jwt"


@dataclass(frozen=True)
class Presented:
    """One client id and, unless the method is `none`, its secret."""

    client_id: str
    method: PresentedMethod
    secret: str | None = field(default=None, repr=False)
    # Basic's password as sent, where it reads otherwise without form-urlencoding.
    raw_secret: str | None = field(default=None, repr=False)
    # private_key_jwt: the form's client_assertion_type and client_assertion.
    assertion_type: str | None = None
    assertion: str | None = field(default=None, repr=False)
    # Whether the form named the client itself (client_id): it must then be the assertion's.
    client_id_sent: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        """Each reading of the secret to compare, the RFC's first."""
        readings = (self.secret, self.raw_secret)
        return tuple(reading for reading in readings if reading is not None)


class NotPresented(ValueError):
    """No credentials, two ways at once, or a header that does not decode."""


def _basic(authorization: str) -> tuple[str, str, str]:
    """(client id, secret, the secret as sent), the first two form-urlencoded."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise NotPresented("the Authorization header is not HTTP Basic")
    try:
        octets = base64.b64decode(token.strip(), validate=True)
    except binascii.Error:
        raise NotPresented("the Basic credentials are not base64") from None
    try:
        decoded = octets.decode("utf-8")
    except UnicodeDecodeError:
        decoded = octets.decode("latin-1")  # every byte is a Latin-1 character
    user, colon, password = decoded.partition(":")
    if not colon:
        raise NotPresented("the Basic credentials have no colon")
    client_id = unquote_plus(user)
    if not client_id:
        raise NotPresented("the Basic credentials name no client")
    return client_id, unquote_plus(password), password


def assertion_subject(assertion: str) -> str | None:
    """The `sub` an assertion claims, unchecked (which client it names), or None."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None


def _assertion(form: Mapping[str, str], form_id: str | None, authorization: str | None
               ) -> Presented:
    if authorization or form.get("client_secret") is not None:
        raise NotPresented("an assertion and a secret at once")
    assertion = form.get("client_assertion", "")
    subject = assertion_subject(assertion)
    client_id = form_id or subject
    if not client_id:
        raise NotPresented("an assertion that names no client")
    return Presented(client_id, PresentedMethod.PRIVATE_KEY_JWT,
                     assertion_type=form.get("client_assertion_type", ""), assertion=assertion,
                     client_id_sent=form_id is not None)


def read_presented(authorization: str | None, form: Mapping[str, str]) -> Presented:
    """The credentials of one token request; NotPresented unless exactly one way is used."""
    form_id = form.get("client_id") or None
    form_secret = form.get("client_secret")
    if "client_assertion" in form or "client_assertion_type" in form:
        return _assertion(form, form_id, authorization)
    if authorization:
        if form_secret is not None:
            raise NotPresented("credentials both in the header and in the form")
        client_id, secret, as_sent = _basic(authorization)
        if form_id is not None and form_id != client_id:
            raise NotPresented("the form's client_id is not the header's")
        return Presented(client_id, PresentedMethod.CLIENT_SECRET_BASIC, secret,
                         as_sent if as_sent != secret else None)
    if form_id is None:
        raise NotPresented("no client credentials")
    if form_secret is not None:
        return Presented(form_id, PresentedMethod.CLIENT_SECRET_POST, form_secret)
    return Presented(form_id, PresentedMethod.NONE)
