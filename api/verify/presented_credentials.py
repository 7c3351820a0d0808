"""What a client presented at a token endpoint, read as RFC 6749 §2.3.1 says.

An authorization server hands clientkeys the `Authorization` header and the form
fields as it received them, and this module says which client they name, with
which secret, by which method:

- `client_secret_basic`: HTTP Basic, whose user-id and password are the client id
  and secret *form-urlencoded* before base64 (RFC 6749 §2.3.1, so `+` is a space
  and `%3A` a colon);
- `client_secret_post`: `client_id` and `client_secret` in the form;
- `none`: a public client, `client_id` in the form and nothing else.

A request that presents credentials in more than one way, or a malformed one, is
refused as a whole (RFC 6749 §2.3: one method per request), with the same answer
as a wrong secret. The standard library does this rather than Authlib's helper,
which decodes Basic without form-urlencoding (`+` stays `+`) and without strict
base64.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote_plus


class PresentedMethod(StrEnum):
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"


@dataclass(frozen=True)
class Presented:
    """One client id and, unless the method is `none`, its secret."""

    client_id: str
    method: PresentedMethod
    secret: str | None = field(default=None, repr=False)


class NotPresented(ValueError):
    """No credentials, two ways at once, or a header that does not decode."""


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise NotPresented("the Authorization header is not HTTP Basic")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotPresented("the Basic credentials are not base64 of UTF-8") from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise NotPresented("the Basic credentials have no colon")
    client_id, secret = unquote_plus(user), unquote_plus(password)
    if not client_id:
        raise NotPresented("the Basic credentials name no client")
    return client_id, secret


def read_presented(authorization: str | None, form: Mapping[str, str]) -> Presented:
    """The credentials of one token request; NotPresented unless exactly one way is used."""
    form_id = form.get("client_id") or None
    form_secret = form.get("client_secret")
    if authorization:
        if form_secret is not None:
            raise NotPresented("credentials both in the header and in the form")
        client_id, secret = _basic(authorization)
        if form_id is not None and form_id != client_id:
            raise NotPresented("the form's client_id is not the header's")
        return Presented(client_id, PresentedMethod.CLIENT_SECRET_BASIC, secret)
    if form_id is None:
        raise NotPresented("no client credentials")
    if form_secret is not None:
        return Presented(form_id, PresentedMethod.CLIENT_SECRET_POST, form_secret)
    return Presented(form_id, PresentedMethod.NONE)
